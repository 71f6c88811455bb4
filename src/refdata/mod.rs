//! Loading TISI's reference-data exports (spec §7) from files: the only place that reads them.
//!
//! [`load_dir`] reads the four CSV files of a directory strictly and all-or-nothing: every bad
//! row is reported (file, row, column, reason) and any problem means nothing is returned.
//! [`load_snapshot`] adds the cross-checks of [`Snapshot::build`].

mod csv;

pub use self::csv::{load_dir, LoadError, LoadErrors, FILES};

use std::fmt::Write as _;
use std::path::Path;

use crate::domain::refdata::{LicenceStatus, LicenceType, RefData};
use crate::domain::snapshot::Snapshot;

/// Loads a directory and builds the snapshot; every problem of either step is reported.
pub fn load_snapshot(dir: &Path) -> Result<Snapshot, LoadErrors> {
    let data = load_dir(dir)?;
    Snapshot::build(data).map_err(|errs| {
        LoadErrors(
            errs.into_iter()
                .map(|e| LoadError {
                    file: dir.display().to_string(),
                    row: None,
                    column: None,
                    reason: e.to_string(),
                })
                .collect(),
        )
    })
}

/// Counts per kind, per licence status and per licence type, one kind a line.
pub fn summary(data: &RefData) -> String {
    let count_status = |s: LicenceStatus| data.licences.iter().filter(|l| l.status == s).count();
    let count_type = |t: LicenceType| data.licences.iter().filter(|l| l.licence_type == t).count();
    let mut out = String::new();
    let compulsory = data.standards.iter().filter(|s| s.compulsory).count();
    let _ = writeln!(
        out,
        "standards: {} ({} compulsory)",
        data.standards.len(),
        compulsory
    );
    let _ = writeln!(
        out,
        "licences: {} (ACTIVE {}, SUSPENDED {}, REVOKED {}; IMPORT {}, MANUFACTURE {})",
        data.licences.len(),
        count_status(LicenceStatus::Active),
        count_status(LicenceStatus::Suspended),
        count_status(LicenceStatus::Revoked),
        count_type(LicenceType::Import),
        count_type(LicenceType::Manufacture),
    );
    let _ = writeln!(out, "labs: {}", data.labs.len());
    let _ = writeln!(out, "special purposes: {}", data.purposes.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
    }

    #[test]
    fn sample_data_loads_and_builds() {
        let data = match load_dir(&sample_dir()) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        assert!(data.standards.len() >= 25);
        assert!(data.licences.len() >= 300);
        assert_eq!(data.labs.len(), 10);
        let s = summary(&data);
        assert!(s.contains("licences: "), "{s}");
        let snap = match load_snapshot(&sample_dir()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(snap.licence_count(), data.licences.len());
    }
}

//! The four CSV files of spec §7.
//!
//! Format: UTF-8 (a leading byte-order mark is tolerated), a header row that must list exactly
//! the columns of the spec in that order, dates `YYYY-MM-DD`, booleans `true`/`false`, lists
//! separated by `|`, an empty cell = none. Row numbers count records with the header as row 1,
//! so the first data row is row 2 (a quoted cell spanning lines still counts as one row, and a
//! blank line is no row).
//!
//! Beyond the form of each cell the loader checks, with the row of the offending record:
//! duplicate keys within a file, a licence's standard and a lab's scope standards being in
//! `standards.csv`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;

use crate::domain::refdata::{
    Lab, LabStatus, Licence, LicenceStatus, LicenceType, RefData, SpecialPurpose, Standard,
};
use crate::domain::types::{
    parse_date, parse_hs_prefix, Amount, Branch, Country, PartyKey, StandardRef, TaxNumber,
};

const STANDARDS: &str = "standards.csv";
const LICENCES: &str = "licences.csv";
const LABS: &str = "labs.csv";
const PURPOSES: &str = "special_purposes.csv";

/// The files read from a reference-data directory, with their header rows.
pub const FILES: [(&str, &[&str]); 4] = [
    (
        STANDARDS,
        &[
            "standard",
            "title_th",
            "title_en",
            "compulsory",
            "in_force_from",
            "in_force_until",
            "hs_prefixes",
            "inspection_rate",
            "test_report_required",
        ],
    ),
    (
        LICENCES,
        &[
            "licence_number",
            "licence_type",
            "holder_tax_number",
            "holder_branch",
            "holder_name",
            "standard",
            "brands",
            "models",
            "manufacturer",
            "manufacturer_country",
            "issued_on",
            "expires_on",
            "status",
            "status_since",
        ],
    ),
    (
        LABS,
        &[
            "lab_id",
            "name",
            "standards",
            "accredited_from",
            "accredited_until",
            "status",
        ],
    ),
    (
        PURPOSES,
        &[
            "code",
            "description_th",
            "description_en",
            "valid_from",
            "valid_until",
            "max_quantity_per_year",
            "officer_review",
            "test_report_required",
        ],
    ),
];

/// One problem in a reference-data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// Row number, the header being row 1; `None` for a problem with the whole file.
    pub row: Option<usize>,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, " column {c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every problem found; nothing was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} problem(s) in the reference data; nothing was loaded:",
            self.0.len()
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Reads `standards.csv`, `licences.csv`, `labs.csv` and `special_purposes.csv` from `dir`.
pub fn load_dir(dir: &Path) -> Result<RefData, LoadErrors> {
    let mut errors = Vec::new();
    let mut data = Rows::default();
    if let Some(rows) = read_file(dir, 0, &mut errors) {
        data.standards = parse_rows(STANDARDS, &rows, &mut errors, standard_row);
    }
    let known: HashSet<StandardRef> = data
        .standards
        .iter()
        .map(|(_, s)| s.reference.clone())
        .collect();
    if let Some(rows) = read_file(dir, 1, &mut errors) {
        data.licences = parse_rows(LICENCES, &rows, &mut errors, licence_row);
    }
    if let Some(rows) = read_file(dir, 2, &mut errors) {
        data.labs = parse_rows(LABS, &rows, &mut errors, lab_row);
    }
    if let Some(rows) = read_file(dir, 3, &mut errors) {
        data.purposes = parse_rows(PURPOSES, &rows, &mut errors, purpose_row);
    }

    let err = |file: &str, row: usize, col: &str, reason: String| LoadError {
        file: file.into(),
        row: Some(row),
        column: Some(col.into()),
        reason,
    };
    dup_check(
        STANDARDS,
        "standard",
        &data.standards,
        |s| s.reference.canonical(),
        &mut errors,
    );
    dup_check(
        LICENCES,
        "licence_number",
        &data.licences,
        |l| l.number.clone(),
        &mut errors,
    );
    dup_check(LABS, "lab_id", &data.labs, |l| l.id.clone(), &mut errors);
    dup_check(
        PURPOSES,
        "code",
        &data.purposes,
        |p| p.code.clone(),
        &mut errors,
    );
    if errors.iter().all(|e| e.file != STANDARDS) {
        for (row, l) in &data.licences {
            if !known.contains(&l.standard) {
                errors.push(err(
                    LICENCES,
                    *row,
                    "standard",
                    format!("standard {} is not in {STANDARDS}", l.standard),
                ));
            }
        }
        for (row, lab) in &data.labs {
            for s in lab.standards.iter().filter(|s| !known.contains(s)) {
                errors.push(err(
                    LABS,
                    *row,
                    "standards",
                    format!("standard {s} is not in {STANDARDS}"),
                ));
            }
        }
    }

    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    Ok(RefData {
        standards: data.standards.into_iter().map(|(_, s)| s).collect(),
        licences: data.licences.into_iter().map(|(_, s)| s).collect(),
        labs: data.labs.into_iter().map(|(_, s)| s).collect(),
        purposes: data.purposes.into_iter().map(|(_, s)| s).collect(),
    })
}

/// Records with their row numbers.
#[derive(Default)]
struct Rows {
    standards: Vec<(usize, Standard)>,
    licences: Vec<(usize, Licence)>,
    labs: Vec<(usize, Lab)>,
    purposes: Vec<(usize, SpecialPurpose)>,
}

fn dup_check<T>(
    file: &str,
    col: &str,
    rows: &[(usize, T)],
    key: impl Fn(&T) -> String,
    errors: &mut Vec<LoadError>,
) {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (row, r) in rows {
        let k = key(r);
        if let Some(first) = seen.get(&k) {
            errors.push(LoadError {
                file: file.into(),
                row: Some(*row),
                column: Some(col.into()),
                reason: format!("'{k}' is already listed on row {first}"),
            });
        } else {
            seen.insert(k, *row);
        }
    }
}

/// A file's data rows, after the header check: (row number, record).
fn read_file(
    dir: &Path,
    which: usize,
    errors: &mut Vec<LoadError>,
) -> Option<Vec<(usize, csv::ByteRecord)>> {
    let (name, header) = FILES[which];
    let whole = |reason: String| LoadError {
        file: name.into(),
        row: None,
        column: None,
        reason,
    };
    let bytes = match std::fs::read(dir.join(name)) {
        Ok(b) => b,
        Err(e) => {
            errors.push(whole(format!(
                "cannot read {}: {e}",
                dir.join(name).display()
            )));
            return None;
        }
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut out = Vec::new();
    let mut header_ok = false;
    for (i, rec) in rdr.byte_records().enumerate() {
        let row = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(LoadError {
                    file: name.into(),
                    row: Some(row),
                    column: None,
                    reason: format!("not readable as CSV: {e}"),
                });
                return None;
            }
        };
        if row == 1 {
            let got: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect();
            if got != header {
                errors.push(LoadError {
                    file: name.into(),
                    row: Some(1),
                    column: None,
                    reason: format!(
                        "header must be '{}', found '{}'",
                        header.join(","),
                        got.join(",")
                    ),
                });
                return None;
            }
            header_ok = true;
            continue;
        }
        out.push((row, rec));
    }
    if !header_ok {
        errors.push(whole(format!(
            "file is empty; it needs the header row '{}'",
            header.join(",")
        )));
        return None;
    }
    Some(out)
}

/// Reads the cells of one record, collecting every problem.
struct Row<'a> {
    file: &'static str,
    row: usize,
    rec: &'a csv::ByteRecord,
    header: &'static [&'static str],
    errors: Vec<LoadError>,
}

impl<'a> Row<'a> {
    fn fail(&mut self, col: &str, reason: String) {
        self.errors.push(LoadError {
            file: self.file.into(),
            row: Some(self.row),
            column: Some(col.into()),
            reason,
        });
    }

    /// The cell, trimmed; `None` (with an error) when it is not UTF-8.
    fn cell(&mut self, col: &str) -> Option<&'a str> {
        let i = self
            .header
            .iter()
            .position(|h| *h == col)
            .expect("known column");
        let raw = self.rec.get(i).unwrap_or_default();
        match std::str::from_utf8(raw) {
            Ok(s) => Some(s.trim()),
            Err(_) => {
                self.fail(col, "is not valid UTF-8".into());
                None
            }
        }
    }

    fn text(&mut self, col: &str) -> Option<String> {
        let s = self.cell(col)?;
        if s.is_empty() {
            self.fail(col, "must not be empty".into());
            return None;
        }
        if s.chars().any(char::is_control) {
            self.fail(col, "must not contain control characters".into());
            return None;
        }
        Some(s.to_owned())
    }

    fn parse<T, E: fmt::Display>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.cell(col)?;
        match f(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(col, e.to_string());
                None
            }
        }
    }

    fn opt<T, E: fmt::Display>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        let s = self.cell(col)?;
        if s.is_empty() {
            return Some(None);
        }
        self.parse(col, f).map(Some)
    }

    fn date(&mut self, col: &str) -> Option<NaiveDate> {
        self.parse(col, parse_date)
    }

    fn opt_date(&mut self, col: &str) -> Option<Option<NaiveDate>> {
        self.opt(col, parse_date)
    }

    fn boolean(&mut self, col: &str) -> Option<bool> {
        self.parse(col, |s| match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("'{s}' must be true or false")),
        })
    }

    fn list<T, E: fmt::Display>(
        &mut self,
        col: &str,
        f: impl Fn(&str) -> Result<T, E>,
    ) -> Option<Vec<T>> {
        let s = self.cell(col)?;
        if s.is_empty() {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (k, part) in s.split('|').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                self.fail(
                    col,
                    format!(
                        "list entry {} is empty (entries are separated by '|')",
                        k + 1
                    ),
                );
                ok = false;
                continue;
            }
            match f(part) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.fail(col, format!("list entry {}: {e}", k + 1));
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

fn plain(s: &str) -> Result<String, String> {
    if s.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(s.to_owned())
    }
}

fn parse_rows<T>(
    file: &'static str,
    rows: &[(usize, csv::ByteRecord)],
    errors: &mut Vec<LoadError>,
    f: fn(&mut Row<'_>) -> Option<T>,
) -> Vec<(usize, T)> {
    let header = FILES
        .iter()
        .find(|(n, _)| *n == file)
        .expect("known file")
        .1;
    let mut out = Vec::with_capacity(rows.len());
    for (row, rec) in rows {
        if rec.len() != header.len() {
            errors.push(LoadError {
                file: file.into(),
                row: Some(*row),
                column: None,
                reason: format!("has {} cells, the header has {}", rec.len(), header.len()),
            });
            continue;
        }
        let mut r = Row {
            file,
            row: *row,
            rec,
            header,
            errors: Vec::new(),
        };
        let v = f(&mut r);
        if r.errors.is_empty() {
            if let Some(v) = v {
                out.push((*row, v));
            }
        } else {
            errors.append(&mut r.errors);
        }
    }
    out
}

fn standard_row(r: &mut Row<'_>) -> Option<Standard> {
    let reference = r.parse("standard", StandardRef::parse);
    let title_th = r.text("title_th");
    let title_en = r.text("title_en");
    let compulsory = r.boolean("compulsory");
    let in_force_from = r.date("in_force_from");
    let in_force_until = r.opt_date("in_force_until");
    let hs_prefixes = r.list("hs_prefixes", parse_hs_prefix);
    let inspection_rate = r.parse("inspection_rate", |s| match s.parse::<u8>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(format!("'{s}' must be a whole percentage from 0 to 100")),
    });
    let test_report_required = r.boolean("test_report_required");
    if let (Some(from), Some(Some(until))) = (in_force_from, in_force_until) {
        if until < from {
            r.fail(
                "in_force_until",
                format!("{until} is before in_force_from {from}"),
            );
        }
    }
    Some(Standard {
        reference: reference?,
        title_th: title_th?,
        title_en: title_en?,
        compulsory: compulsory?,
        in_force_from: in_force_from?,
        in_force_until: in_force_until?,
        hs_prefixes: hs_prefixes?,
        inspection_rate: inspection_rate?,
        test_report_required: test_report_required?,
    })
}

fn licence_row(r: &mut Row<'_>) -> Option<Licence> {
    let number = r.text("licence_number");
    let licence_type = r.parse("licence_type", |s| {
        LicenceType::from_code(s).ok_or_else(|| format!("'{s}' must be IMPORT or MANUFACTURE"))
    });
    let tax = r.parse("holder_tax_number", TaxNumber::parse);
    let branch = r.parse("holder_branch", Branch::parse);
    let holder_name = r.text("holder_name");
    let standard = r.parse("standard", StandardRef::parse);
    let brands = r.list("brands", plain);
    let models = r.list("models", plain);
    let manufacturer = r.text("manufacturer");
    let manufacturer_country = r.parse("manufacturer_country", Country::parse);
    let issued_on = r.date("issued_on");
    let expires_on = r.date("expires_on");
    let status = r.parse("status", |s| {
        LicenceStatus::from_code(s)
            .ok_or_else(|| format!("'{s}' must be ACTIVE, SUSPENDED or REVOKED"))
    });
    let status_since = r.date("status_since");
    if let (Some(i), Some(e)) = (issued_on, expires_on) {
        if e < i {
            r.fail("expires_on", format!("{e} is before issued_on {i}"));
        }
    }
    Some(Licence {
        number: number?,
        licence_type: licence_type?,
        holder: PartyKey {
            tax_number: tax?,
            branch: branch?,
        },
        holder_name: holder_name?,
        standard: standard?,
        brands: brands?,
        models: models?,
        manufacturer: manufacturer?,
        manufacturer_country: manufacturer_country?,
        issued_on: issued_on?,
        expires_on: expires_on?,
        status: status?,
        status_since: status_since?,
    })
}

fn lab_row(r: &mut Row<'_>) -> Option<Lab> {
    let id = r.text("lab_id");
    let name = r.text("name");
    let standards = r.list("standards", StandardRef::parse);
    let accredited_from = r.date("accredited_from");
    let accredited_until = r.opt_date("accredited_until");
    let status = r.parse("status", |s| {
        LabStatus::from_code(s)
            .ok_or_else(|| format!("'{s}' must be ACTIVE, SUSPENDED or WITHDRAWN"))
    });
    if let (Some(from), Some(Some(until))) = (accredited_from, accredited_until) {
        if until < from {
            r.fail(
                "accredited_until",
                format!("{until} is before accredited_from {from}"),
            );
        }
    }
    Some(Lab {
        id: id?,
        name: name?,
        standards: standards?,
        accredited_from: accredited_from?,
        accredited_until: accredited_until?,
        status: status?,
    })
}

fn purpose_row(r: &mut Row<'_>) -> Option<SpecialPurpose> {
    let code = r.text("code");
    let description_th = r.text("description_th");
    let description_en = r.text("description_en");
    let valid_from = r.date("valid_from");
    let valid_until = r.opt_date("valid_until");
    let max = r.opt("max_quantity_per_year", |s| {
        Amount::parse(s).map_err(|e| e.to_string()).and_then(|a| {
            if a == Amount::ZERO {
                Err("must be greater than 0 (leave it empty for no cap)".to_string())
            } else {
                Ok(a)
            }
        })
    });
    let officer_review = r.boolean("officer_review");
    let test_report_required = r.boolean("test_report_required");
    if let (Some(from), Some(Some(until))) = (valid_from, valid_until) {
        if until < from {
            r.fail(
                "valid_until",
                format!("{until} is before valid_from {from}"),
            );
        }
    }
    Some(SpecialPurpose {
        code: code?,
        description_th: description_th?,
        description_en: description_en?,
        valid_from: valid_from?,
        valid_until: valid_until?,
        max_quantity_per_year: max?,
        officer_review: officer_review?,
        test_report_required: test_report_required?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD_HEADER: &str = "standard,title_th,title_en,compulsory,in_force_from,in_force_until,hs_prefixes,inspection_rate,test_report_required\n";
    const LIC_HEADER: &str = "licence_number,licence_type,holder_tax_number,holder_branch,holder_name,standard,brands,models,manufacturer,manufacturer_country,issued_on,expires_on,status,status_since\n";
    const LAB_HEADER: &str = "lab_id,name,standards,accredited_from,accredited_until,status\n";
    const PUR_HEADER: &str = "code,description_th,description_en,valid_from,valid_until,max_quantity_per_year,officer_review,test_report_required\n";

    fn dir_with(standards: &str, licences: &str, labs: &str, purposes: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(STANDARDS), standards).unwrap();
        std::fs::write(d.path().join(LICENCES), licences).unwrap();
        std::fs::write(d.path().join(LABS), labs).unwrap();
        std::fs::write(d.path().join(PURPOSES), purposes).unwrap();
        d
    }

    fn good_std() -> String {
        format!(
            "{STD_HEADER}TIS 2432-2555,เต้ารับ,Example,true,2013-06-01,,85044090|85044019,0,false\n"
        )
    }

    fn good_lic() -> String {
        format!("{LIC_HEADER}L-1,IMPORT,0105536112014,00000,บริษัท ตัวอย่าง จำกัด,TIS 2432-2555,ACME|BETA,A-1,Example Works,CN,2024-01-01,2029-12-31,ACTIVE,2024-01-01\n")
    }

    fn good_lab() -> String {
        format!("{LAB_HEADER}LAB-01,Example Lab,TIS 2432-2555,2020-01-01,,ACTIVE\n")
    }

    fn good_pur() -> String {
        format!("{PUR_HEADER}SAMPLE,ตัวอย่าง,Samples,2024-10-01,,10,false,true\n")
    }

    /// Loads the set and returns either a summary or every error, one a line.
    fn check(standards: &str, licences: &str, labs: &str, purposes: &str, expected: &[&str]) {
        let d = dir_with(standards, licences, labs, purposes);
        let got: Vec<String> = match load_dir(d.path()) {
            Ok(data) => summary(&data).lines().map(str::to_owned).collect(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        };
        assert_eq!(got, expected);
    }

    use super::super::summary;

    #[test]
    fn good_files_load() {
        check(
            &good_std(),
            &good_lic(),
            &good_lab(),
            &good_pur(),
            &[
                "standards: 1 (1 compulsory)",
                "licences: 1 (ACTIVE 1, SUSPENDED 0, REVOKED 0; IMPORT 1, MANUFACTURE 0)",
                "labs: 1",
                "special purposes: 1",
            ],
        );
    }

    #[test]
    fn a_bad_row_names_row_and_column_and_nothing_loads() {
        let lic = format!(
            "{}L-2,IMPORT,0105536112015,00000,X,TIS 2432-2555,,,M,CN,2024-13-01,2029-12-31,ACTIVE,2024-01-01\n",
            good_lic()
        );
        check(
            &good_std(),
            &lic,
            &good_lab(),
            &good_pur(),
            &[
                "licences.csv row 3 column holder_tax_number: tax number '0105536112015' has check digit 5 but its first 12 digits call for 4",
                "licences.csv row 3 column issued_on: date '2024-13-01' must be a real calendar date YYYY-MM-DD",
            ],
        );
        let d = dir_with(&good_std(), &lic, &good_lab(), &good_pur());
        assert!(load_dir(d.path()).is_err());
    }

    #[test]
    fn every_kind_of_problem_is_reported() {
        let std = format!(
            "{}TIS 2432-2555,x,y,yes,2013-06-01,2012-01-01,85X|,101,false\nTIS 99,a,b,true,2013-06-01,,85,0,false\n",
            good_std()
        );
        let lic = format!(
            "{}L-1,LEASE,0105536112014,0000,,TIS 1-2500,,,M,cn,2024-01-01,2023-12-31,PAUSED,2024-01-01\nL-3,IMPORT\n",
            good_lic()
        );
        let lab = format!("{}LAB-01,Dup,TIS 7-2500,2020-01-01,,CLOSED\n", good_lab());
        let pur = "code,description\n";
        check(
            &std,
            &lic,
            &lab,
            pur,
            &[
                "standards.csv row 3 column compulsory: 'yes' must be true or false",
                "standards.csv row 3 column hs_prefixes: list entry 1: HS prefix '85X' must be 2 to 11 digits",
                "standards.csv row 3 column hs_prefixes: list entry 2 is empty (entries are separated by '|')",
                "standards.csv row 3 column inspection_rate: '101' must be a whole percentage from 0 to 100",
                "standards.csv row 3 column in_force_until: 2012-01-01 is before in_force_from 2013-06-01",
                "standards.csv row 4 column standard: standard 'TIS 99' must end with '-' and the edition year",
                "licences.csv row 3 column licence_type: 'LEASE' must be IMPORT or MANUFACTURE",
                "licences.csv row 3 column holder_branch: branch '0000' must be exactly 5 digits (00000 = head office)",
                "licences.csv row 3 column holder_name: must not be empty",
                "licences.csv row 3 column manufacturer_country: country 'cn' must be an ISO 3166-1 alpha-2 code (two capital letters)",
                "licences.csv row 3 column status: 'PAUSED' must be ACTIVE, SUSPENDED or REVOKED",
                "licences.csv row 3 column expires_on: 2023-12-31 is before issued_on 2024-01-01",
                "licences.csv row 4: has 2 cells, the header has 14",
                "labs.csv row 3 column status: 'CLOSED' must be ACTIVE, SUSPENDED or WITHDRAWN",
                "special_purposes.csv row 1: header must be 'code,description_th,description_en,valid_from,valid_until,max_quantity_per_year,officer_review,test_report_required', found 'code,description'",
            ],
        );
    }

    #[test]
    fn dates_are_strictly_yyyy_mm_dd() {
        let lic = format!(
            "{}L-2,IMPORT,0105536112014,00000,X,TIS 2432-2555,,,M,CN,+2024-1-01,2029- 1-31,ACTIVE,0000-01-01\n",
            good_lic()
        );
        check(
            &good_std(),
            &lic,
            &good_lab(),
            &good_pur(),
            &[
                "licences.csv row 3 column issued_on: date '+2024-1-01' must be YYYY-MM-DD",
                "licences.csv row 3 column expires_on: date '2029- 1-31' must be YYYY-MM-DD",
                "licences.csv row 3 column status_since: date '0000-01-01' is before 1900",
            ],
        );
    }

    #[test]
    fn duplicates_and_cross_references_name_their_rows() {
        let lic = format!(
            "{}L-1,IMPORT,0105536112014,00000,X,TIS 2432-2555,,,M,CN,2024-01-01,2029-12-31,ACTIVE,2024-01-01\nL-4,IMPORT,0105536112014,00000,X,TIS 2432-2560,,,M,CN,2024-01-01,2029-12-31,ACTIVE,2024-01-01\n",
            good_lic()
        );
        let lab = format!(
            "{}LAB-02,Other,TIS 2432-2555|TIS 1-2500,2020-01-01,,ACTIVE\n",
            good_lab()
        );
        check(
            &good_std(),
            &lic,
            &lab,
            &good_pur(),
            &[
                "licences.csv row 3 column licence_number: 'L-1' is already listed on row 2",
                "licences.csv row 4 column standard: standard TIS 2432-2560 is not in standards.csv",
                "labs.csv row 3 column standards: standard TIS 1-2500 is not in standards.csv",
            ],
        );
    }

    #[test]
    fn missing_file_and_bom() {
        let d = dir_with(
            &format!("\u{feff}{}", good_std()),
            &good_lic(),
            &good_lab(),
            &good_pur(),
        );
        assert!(load_dir(d.path()).is_ok());
        std::fs::remove_file(d.path().join(LABS)).unwrap();
        let e = load_dir(d.path()).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(
            e.0[0].to_string().starts_with("labs.csv: cannot read"),
            "{e}"
        );
        assert!(e.to_string().contains("nothing was loaded"));
    }
}

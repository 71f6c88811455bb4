//! Reference-data generation (`mock-nsw gen-data`): a seeded model of standards, holders,
//! licences, labs and special-import purposes, written as the CSV files of spec §7.

pub mod declarations;
pub mod model;
pub mod pools;
pub mod requests;
pub mod write;

pub use model::{GenConfig, LicenceKind, Model, PurposeRole, StandardRole};
pub use requests::{ExpectedDecision, ExpectedItem, GeneratedPermit, Mix, Outcome, RequestGen};
pub use write::{read_manifest, write_csv, Written, MANIFEST};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use chrono::NaiveDate;
    use nsw_gateway::domain::{
        parse_date, parse_hs_prefix, Branch, LabStatus, LicenceStatus, LicenceType, StandardRef,
        TaxNumber,
    };

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn model(licences: usize, seed: u64) -> Model {
        Model::generate(&GenConfig {
            licences,
            seed,
            today: today(),
        })
    }

    fn read(dir: &Path, name: &str) -> Vec<u8> {
        std::fs::read(dir.join(name)).unwrap()
    }

    const FILES: [&str; 4] = [
        "standards.csv",
        "licences.csv",
        "labs.csv",
        "special_purposes.csv",
    ];

    #[test]
    fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        write_csv(&model(2000, 7), a.path()).unwrap();
        write_csv(&model(2000, 7), b.path()).unwrap();
        write_csv(&model(2000, 8), c.path()).unwrap();
        for f in FILES {
            assert_eq!(
                read(a.path(), f),
                read(b.path(), f),
                "{f} differs for the same seed"
            );
        }
        assert_ne!(
            read(a.path(), "licences.csv"),
            read(c.path(), "licences.csv")
        );
    }

    fn rows(dir: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_path(dir.join(name)).unwrap();
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    fn date_ok(s: &str, field: &str) {
        parse_date(s).unwrap_or_else(|e| panic!("{field}: {e}"));
    }

    fn opt_date_ok(s: &str, field: &str) {
        if !s.is_empty() {
            date_ok(s, field);
        }
    }

    fn bool_ok(s: &str, field: &str) {
        assert!(s == "true" || s == "false", "{field}: {s}");
    }

    #[test]
    fn files_have_the_spec_columns_and_every_value_parses() {
        let dir = tempfile::tempdir().unwrap();
        let m = model(3000, 1);
        let written = write_csv(&m, dir.path()).unwrap();
        assert_eq!(written.licences, 3000);

        let (h, standards) = rows(dir.path(), "standards.csv");
        assert_eq!(h.join(","), "standard,title_th,title_en,compulsory,in_force_from,in_force_until,hs_prefixes,inspection_rate,test_report_required");
        let mut refs = HashSet::new();
        for r in &standards {
            let s = StandardRef::parse(&r[0]).unwrap();
            assert_eq!(s.canonical(), r[0]);
            assert!(refs.insert(s), "standard {} twice", r[0]);
            bool_ok(&r[3], "compulsory");
            date_ok(&r[4], "in_force_from");
            opt_date_ok(&r[5], "in_force_until");
            for p in r[6].split('|') {
                parse_hs_prefix(p).unwrap();
            }
            assert!(r[7].parse::<u8>().unwrap() <= 100);
            bool_ok(&r[8], "test_report_required");
        }

        let (h, licences) = rows(dir.path(), "licences.csv");
        assert_eq!(h.join(","), "licence_number,licence_type,holder_tax_number,holder_branch,holder_name,standard,brands,models,manufacturer,manufacturer_country,issued_on,expires_on,status,status_since");
        let mut numbers = HashSet::new();
        for r in &licences {
            assert!(numbers.insert(r[0].clone()), "licence {} twice", r[0]);
            LicenceType::from_code(&r[1]).unwrap();
            TaxNumber::parse(&r[2]).unwrap();
            Branch::parse(&r[3]).unwrap();
            assert!(r[4].starts_with("บริษัท"));
            assert!(
                refs.contains(&StandardRef::parse(&r[5]).unwrap()),
                "{}",
                r[5]
            );
            assert!(r[6].split('|').all(|b| !b.is_empty()));
            assert!(r[7].split('|').all(|b| !b.is_empty()));
            assert!(!r[8].is_empty());
            nsw_gateway::domain::Country::parse(&r[9]).unwrap();
            date_ok(&r[10], "issued_on");
            date_ok(&r[11], "expires_on");
            LicenceStatus::from_code(&r[12]).unwrap();
            date_ok(&r[13], "status_since");
        }

        let (h, labs) = rows(dir.path(), "labs.csv");
        assert_eq!(
            h.join(","),
            "lab_id,name,standards,accredited_from,accredited_until,status"
        );
        for r in &labs {
            for s in r[2].split('|') {
                assert!(refs.contains(&StandardRef::parse(s).unwrap()));
            }
            date_ok(&r[3], "accredited_from");
            opt_date_ok(&r[4], "accredited_until");
            LabStatus::from_code(&r[5]).unwrap();
        }

        let (h, purposes) = rows(dir.path(), "special_purposes.csv");
        assert_eq!(h.join(","), "code,description_th,description_en,valid_from,valid_until,max_quantity_per_year,officer_review,test_report_required");
        for r in &purposes {
            date_ok(&r[3], "valid_from");
            opt_date_ok(&r[4], "valid_until");
            if !r[5].is_empty() {
                nsw_gateway::domain::Amount::parse(&r[5]).unwrap();
            }
            bool_ok(&r[6], "officer_review");
            bool_ok(&r[7], "test_report_required");
        }
    }

    #[test]
    fn every_status_type_and_special_record_is_present_even_in_a_tiny_set() {
        let m = model(30, 3);
        let t = m.today;
        let statuses: HashSet<_> = m.licences.iter().map(|l| l.status()).collect();
        assert_eq!(statuses.len(), 3);
        let types: HashSet<_> = m.licences.iter().map(|l| l.licence_type()).collect();
        assert_eq!(types.len(), 2);
        assert!(m.licences.iter().any(|l| l.expires_on < t));
        assert!(m.licences.iter().any(|l| l.issued_on > t));
        for k in LicenceKind::ALL {
            assert!(!m.of_kind(k).is_empty(), "{k:?}");
        }
        assert!(!m.index.valid_plain.is_empty());
        assert!(!m.index.valid_inspect.is_empty());
        assert!(!m.index.valid_report.is_empty());
        let s = &m.standards;
        assert!(s.iter().any(|s| s.inspection_rate == 0));
        assert!(s.iter().any(|s| s.inspection_rate == 100));
        assert!(s.iter().any(|s| s.test_report_required));
        assert!(s
            .iter()
            .any(|s| s.role == StandardRole::Withdrawn && s.in_force_until < Some(t)));
        assert!(s
            .iter()
            .any(|s| matches!(s.role, StandardRole::Superseded { .. })));
        assert!(s.iter().any(|s| !s.compulsory));
        assert!(m.labs.iter().any(|l| l.status == LabStatus::Withdrawn));
        let report_std = s.iter().position(|s| s.test_report_required).unwrap();
        assert!(m
            .labs
            .iter()
            .any(|l| l.status == LabStatus::Active && !l.standards.contains(&report_std)));
        assert!(m.labs.iter().any(|l| l.accredited_for(report_std, t)));
        let roles: HashSet<_> = m.purposes.iter().map(|p| format!("{:?}", p.role)).collect();
        assert_eq!(roles.len(), 5);
        assert!(m.purposes.iter().any(|p| p.officer_review));
        assert!(m.purposes.iter().any(|p| p.max_quantity_per_year.is_some()));
        assert!(m
            .purposes
            .iter()
            .any(|p| p.valid_until.is_some_and(|u| u < t)));
    }

    #[test]
    fn superseded_editions_share_prefixes_and_end_before_their_successor() {
        let m = model(100, 5);
        for s in &m.standards {
            if let StandardRole::Superseded { successor } = s.role {
                let n = &m.standards[successor];
                assert!(s.reference.same_standard(&n.reference));
                assert!(s.reference.edition_be < n.reference.edition_be);
                assert_eq!(s.hs_prefixes, n.hs_prefixes);
                assert!(s.in_force_until.unwrap() < n.in_force_from);
                assert!(s.in_force_until.unwrap() < m.today);
            }
        }
        // No prefix of one standard (other than editions of it) covers another's.
        for (i, a) in m.standards.iter().enumerate() {
            for b in &m.standards[i + 1..] {
                if a.reference.same_standard(&b.reference) {
                    continue;
                }
                for p in &a.hs_prefixes {
                    for q in &b.hs_prefixes {
                        assert!(!p.starts_with(q.as_str()) && !q.starts_with(p.as_str()));
                    }
                }
            }
        }
    }

    #[test]
    fn holder_index_lists_each_licence_under_its_holder() {
        let m = model(500, 9);
        let mut seen = 0;
        for h in 0..m.holders.len() {
            for &l in m.licences_of(h) {
                assert_eq!(m.licences[l as usize].holder as usize, h);
                seen += 1;
            }
        }
        assert_eq!(seen, 500);
        // Valid licences are valid for years around today.
        for &l in m.of_kind(LicenceKind::Valid) {
            let l = &m.licences[l as usize];
            assert!(
                l.issued_on <= m.today && l.expires_on > m.today + chrono::Duration::days(365 * 3)
            );
        }
    }
}

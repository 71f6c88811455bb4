//! Writes a [`Model`] as the reference-data CSV files of spec §7 (`standards.csv`,
//! `licences.csv`, `labs.csv`, `special_purposes.csv`): UTF-8, header row, dates `YYYY-MM-DD`,
//! lists separated by `|`, empty = none.
//!
//! Rows are formatted into a handful of reused buffers and written through one large buffered
//! writer per file, so a million licences cost no per-row allocation.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use nsw_gateway::domain::{format_date, parse_date};

use super::model::{GenConfig, GenLicence, Holder, Model};

/// How many rows of each file were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub standards: usize,
    pub licences: usize,
    pub labs: usize,
    pub special_purposes: usize,
}

fn put_date(out: &mut String, d: NaiveDate) {
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

fn put_opt_date(out: &mut String, d: Option<NaiveDate>) {
    if let Some(d) = d {
        put_date(out, d);
    }
}

fn writer(dir: &Path, name: &str) -> anyhow::Result<csv::Writer<BufWriter<File>>> {
    let path = dir.join(name);
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::with_capacity(1 << 20, f)))
}

fn finish(w: csv::Writer<BufWriter<File>>, dir: &Path, name: &str) -> anyhow::Result<()> {
    let mut inner = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing {}: {}", dir.join(name).display(), e.error()))?;
    inner
        .flush()
        .with_context(|| format!("flushing {}", dir.join(name).display()))?;
    Ok(())
}

/// The file beside the CSV files that records how they were generated.
pub const MANIFEST: &str = "mock-nsw.json";

/// Reads the manifest of a generated data directory.
pub fn read_manifest(dir: &Path) -> anyhow::Result<GenConfig> {
    let p = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "reading {} (is {} a directory written by `mock-nsw gen-data`?)",
            p.display(),
            dir.display()
        )
    })?;
    let m: Manifest =
        serde_json::from_str(&text).with_context(|| format!("reading {}", p.display()))?;
    let today = parse_date(&m.today).with_context(|| format!("{}: today", p.display()))?;
    Ok(GenConfig {
        licences: m.licences,
        seed: m.seed,
        today,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    seed: u64,
    licences: usize,
    today: String,
}

/// Writes the four files and the manifest into `dir` (created if missing).
pub fn write_csv(model: &Model, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_standards(model, dir)?;
    write_licences(model, dir)?;
    write_labs(model, dir)?;
    write_purposes(model, dir)?;
    let manifest = dir.join(MANIFEST);
    let m = Manifest {
        licences: model.licences.len(),
        seed: model.seed,
        today: format_date(model.today),
    };
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&m).expect("serializes"),
    )
    .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(Written {
        standards: model.standards.len(),
        licences: model.licences.len(),
        labs: model.labs.len(),
        special_purposes: model.purposes.len(),
    })
}

fn write_standards(model: &Model, dir: &Path) -> anyhow::Result<()> {
    const NAME: &str = "standards.csv";
    let mut w = writer(dir, NAME)?;
    w.write_record([
        "standard",
        "title_th",
        "title_en",
        "compulsory",
        "in_force_from",
        "in_force_until",
        "hs_prefixes",
        "inspection_rate",
        "test_report_required",
    ])?;
    let (mut from, mut until) = (String::new(), String::new());
    for s in &model.standards {
        from.clear();
        until.clear();
        put_date(&mut from, s.in_force_from);
        put_opt_date(&mut until, s.in_force_until);
        w.write_record([
            s.reference.canonical().as_str(),
            &s.title_th,
            &s.title_en,
            if s.compulsory { "true" } else { "false" },
            &from,
            &until,
            &s.hs_prefixes.join("|"),
            &s.inspection_rate.to_string(),
            if s.test_report_required {
                "true"
            } else {
                "false"
            },
        ])?;
    }
    finish(w, dir, NAME)
}

/// Reused buffers for one licence row.
#[derive(Default)]
struct LicenceRow {
    number: String,
    tax: String,
    branch: String,
    name: String,
    standard: String,
    brands: String,
    models: String,
    manufacturer: String,
    issued: String,
    expires: String,
    since: String,
}

impl LicenceRow {
    fn fill(&mut self, model: &Model, index: usize, l: &GenLicence) {
        for b in [
            &mut self.number,
            &mut self.tax,
            &mut self.branch,
            &mut self.name,
            &mut self.standard,
            &mut self.brands,
            &mut self.models,
            &mut self.manufacturer,
            &mut self.issued,
            &mut self.expires,
            &mut self.since,
        ] {
            b.clear();
        }
        l.write_number(index, &mut self.number);
        let holder = &model.holders[l.holder as usize];
        let _ = write!(self.tax, "{}", holder.key.tax_number);
        let _ = write!(self.branch, "{}", holder.key.branch);
        Holder::name_th(l.holder as usize, &mut self.name);
        let _ = write!(
            self.standard,
            "{}",
            model.standards[l.standard as usize].reference
        );
        for k in 0..l.brand_count() {
            if k > 0 {
                self.brands.push('|');
            }
            self.brands.push_str(l.brand(k));
        }
        for k in 0..l.model_count() {
            if k > 0 {
                self.models.push('|');
            }
            l.write_model(k, &mut self.models);
        }
        l.write_manufacturer(&mut self.manufacturer);
        put_date(&mut self.issued, l.issued_on);
        put_date(&mut self.expires, l.expires_on);
        put_date(&mut self.since, l.status_since);
    }
}

fn write_licences(model: &Model, dir: &Path) -> anyhow::Result<()> {
    const NAME: &str = "licences.csv";
    let mut w = writer(dir, NAME)?;
    w.write_record([
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
    ])?;
    let mut row = LicenceRow::default();
    for (i, l) in model.licences.iter().enumerate() {
        row.fill(model, i, l);
        w.write_record([
            row.number.as_str(),
            l.licence_type().code(),
            &row.tax,
            &row.branch,
            &row.name,
            &row.standard,
            &row.brands,
            &row.models,
            &row.manufacturer,
            l.manufacturer_country(),
            &row.issued,
            &row.expires,
            l.status().code(),
            &row.since,
        ])?;
    }
    finish(w, dir, NAME)
}

fn write_labs(model: &Model, dir: &Path) -> anyhow::Result<()> {
    const NAME: &str = "labs.csv";
    let mut w = writer(dir, NAME)?;
    w.write_record([
        "lab_id",
        "name",
        "standards",
        "accredited_from",
        "accredited_until",
        "status",
    ])?;
    for lab in &model.labs {
        let scope: Vec<String> = lab
            .standards
            .iter()
            .map(|&s| model.standards[s].reference.canonical())
            .collect();
        let (mut from, mut until) = (String::new(), String::new());
        put_date(&mut from, lab.accredited_from);
        put_opt_date(&mut until, lab.accredited_until);
        w.write_record([
            lab.id.as_str(),
            &lab.name_th,
            &scope.join("|"),
            &from,
            &until,
            lab.status.code(),
        ])?;
    }
    finish(w, dir, NAME)
}

fn write_purposes(model: &Model, dir: &Path) -> anyhow::Result<()> {
    const NAME: &str = "special_purposes.csv";
    let mut w = writer(dir, NAME)?;
    w.write_record([
        "code",
        "description_th",
        "description_en",
        "valid_from",
        "valid_until",
        "max_quantity_per_year",
        "officer_review",
        "test_report_required",
    ])?;
    for p in &model.purposes {
        let (mut from, mut until) = (String::new(), String::new());
        put_date(&mut from, p.valid_from);
        put_opt_date(&mut until, p.valid_until);
        let cap = p
            .max_quantity_per_year
            .map(|a| a.to_string())
            .unwrap_or_default();
        w.write_record([
            p.code.as_str(),
            &p.description_th,
            &p.description_en,
            &from,
            &until,
            &cap,
            if p.officer_review { "true" } else { "false" },
            if p.test_report_required {
                "true"
            } else {
                "false"
            },
        ])?;
    }
    finish(w, dir, NAME)
}

//! The generator's in-memory model of the reference data: every standard, holder, licence, lab
//! and special-import purpose it wrote, with what request generation needs to pick a record that
//! leads to a chosen outcome (see [`Index`]).
//!
//! Licences are kept compact (a holder index, a standard index, dates and a salt); their brands,
//! models and manufacturer are derived from the salt on demand, identically for the CSV writer and
//! for request generation.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate};
use nsw_gateway::domain::{
    Amount, Branch, Country, LabStatus, LicenceStatus, LicenceType, PartyKey, StandardRef,
    TaxNumber, BE_OFFSET,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::pools;

/// What to generate. `gen-data` writes it beside the CSV files (`mock-nsw.json`) so that
/// request generation can rebuild the same model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    pub licences: usize,
    pub seed: u64,
    /// The day the data is made for: licences, standards and labs are valid for some years
    /// around it.
    pub today: NaiveDate,
}

/// Why a standard edition is in the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardRole {
    /// Compulsory and in force from before `today`, with no end date.
    Current,
    /// An earlier edition of the standard at `successor`; no longer in force.
    Superseded { successor: usize },
    /// Withdrawn: no longer in force and no successor (its HS codes need no permit).
    Withdrawn,
    /// An edition of the standard at `current` that comes into force years after `today`.
    Future { current: usize },
    /// Not compulsory: its HS codes need no permit.
    Voluntary,
}

#[derive(Debug, Clone)]
pub struct GenStandard {
    pub reference: StandardRef,
    /// Index into [`pools::PRODUCTS`].
    pub product: usize,
    pub title_th: String,
    pub title_en: String,
    pub compulsory: bool,
    pub in_force_from: NaiveDate,
    pub in_force_until: Option<NaiveDate>,
    /// Six-digit HS prefixes; no prefix of one standard is a prefix of another's, except that
    /// editions of the same standard share theirs.
    pub hs_prefixes: Vec<String>,
    pub inspection_rate: u8,
    pub test_report_required: bool,
    pub role: StandardRole,
}

#[derive(Debug, Clone, Copy)]
pub struct Holder {
    pub key: PartyKey,
}

impl Holder {
    pub fn name_th(index: usize, out: &mut String) {
        let a = pools::THAI_NAME_A;
        let b = pools::THAI_NAME_B;
        let c = pools::THAI_NAME_C;
        let _ = write!(
            out,
            "บริษัท {}{}{} จำกัด",
            a[index % a.len()],
            b[(index / a.len()) % b.len()],
            c[(index / (a.len() * b.len())) % c.len()]
        );
    }

    pub fn name_en(index: usize, out: &mut String) {
        let a = pools::EN_NAME_A;
        let b = pools::EN_NAME_B;
        let _ = write!(
            out,
            "{} {} Co., Ltd.",
            a[index % a.len()],
            b[(index / a.len()) % b.len()]
        );
    }
}

/// What a generated licence is for, as request generation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenceKind {
    /// Import licence, active and valid for years around `today`, on a current edition.
    Valid,
    /// Import licence, suspended since before `today`.
    Suspended,
    /// Import licence, revoked since before `today`.
    Revoked,
    /// Import licence, status ACTIVE but expired before `today`.
    Expired,
    /// Import licence, status ACTIVE but issued years after `today`.
    NotYetValid,
    /// A manufacturing licence (s.20), active and valid.
    Manufacture,
    /// Import licence, active and valid, on an edition that has since been superseded.
    OldEdition,
}

impl LicenceKind {
    pub const ALL: [LicenceKind; 7] = [
        LicenceKind::Valid,
        LicenceKind::Suspended,
        LicenceKind::Revoked,
        LicenceKind::Expired,
        LicenceKind::NotYetValid,
        LicenceKind::Manufacture,
        LicenceKind::OldEdition,
    ];
}

#[derive(Debug, Clone, Copy)]
pub struct GenLicence {
    pub holder: u32,
    pub standard: u16,
    pub kind: LicenceKind,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub status_since: NaiveDate,
    pub salt: u64,
}

/// SplitMix64: a tiny, good mixing function to derive independent values from a salt.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(pool: &[T], h: u64) -> T {
    pool[(h % pool.len() as u64) as usize]
}

impl GenLicence {
    pub fn licence_type(&self) -> LicenceType {
        match self.kind {
            LicenceKind::Manufacture => LicenceType::Manufacture,
            _ => LicenceType::Import,
        }
    }

    pub fn status(&self) -> LicenceStatus {
        match self.kind {
            LicenceKind::Suspended => LicenceStatus::Suspended,
            LicenceKind::Revoked => LicenceStatus::Revoked,
            _ => LicenceStatus::Active,
        }
    }

    /// The licence number of licence `index`: `L{BE year of issue}-{7 digits}`.
    pub fn write_number(&self, index: usize, out: &mut String) {
        let _ = write!(
            out,
            "L{}-{:07}",
            self.issued_on.year() + BE_OFFSET,
            index + 1
        );
    }

    pub fn number(&self, index: usize) -> String {
        let mut s = String::with_capacity(16);
        self.write_number(index, &mut s);
        s
    }

    pub fn brand_count(&self) -> usize {
        1 + (mix(self.salt ^ 1) % 3) as usize
    }

    pub fn brand(&self, k: usize) -> &'static str {
        // Distinct brands: consecutive pool entries from a salted start.
        let start = mix(self.salt ^ 2) as usize;
        pools::BRANDS[(start + k) % pools::BRANDS.len()]
    }

    pub fn model_count(&self) -> usize {
        1 + (mix(self.salt ^ 3) % 4) as usize
    }

    pub fn write_model(&self, k: usize, out: &mut String) {
        let h = mix(self.salt ^ 4);
        let l1 = (b'A' + (h % 26) as u8) as char;
        let l2 = (b'A' + ((h >> 8) % 26) as u8) as char;
        let n = (h >> 16) % 9000 + 1000 + 10 * k as u64;
        let _ = write!(out, "{l1}{l2}-{n}");
    }

    pub fn model(&self, k: usize) -> String {
        let mut s = String::with_capacity(8);
        self.write_model(k, &mut s);
        s
    }

    pub fn brands(&self) -> Vec<String> {
        (0..self.brand_count())
            .map(|k| self.brand(k).to_owned())
            .collect()
    }

    pub fn models(&self) -> Vec<String> {
        (0..self.model_count()).map(|k| self.model(k)).collect()
    }

    pub fn write_manufacturer(&self, out: &mut String) {
        let h = mix(self.salt ^ 5);
        let (place, _) = pick(pools::MFR_PLACES, h);
        let _ = write!(
            out,
            "{} {} {}",
            place,
            pick(pools::MFR_WORDS, h >> 16),
            pick(pools::MFR_KINDS, h >> 32)
        );
    }

    pub fn manufacturer(&self) -> String {
        let mut s = String::with_capacity(48);
        self.write_manufacturer(&mut s);
        s
    }

    pub fn manufacturer_country(&self) -> &'static str {
        pick(pools::MFR_PLACES, mix(self.salt ^ 5)).1
    }
}

#[derive(Debug, Clone)]
pub struct GenLab {
    pub id: String,
    pub name_en: String,
    pub name_th: String,
    /// Indices into `Model::standards`.
    pub standards: Vec<usize>,
    pub accredited_from: NaiveDate,
    pub accredited_until: Option<NaiveDate>,
    pub status: LabStatus,
}

impl GenLab {
    /// Accredited for standard `s` on `date` (status active and date within the window).
    pub fn accredited_for(&self, s: usize, date: NaiveDate) -> bool {
        self.status == LabStatus::Active
            && self.standards.contains(&s)
            && self.accredited_from <= date
            && self.accredited_until.is_none_or(|u| date <= u)
    }
}

/// Why a special-import purpose is in the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurposeRole {
    /// Open, no cap, no review, no test report.
    Open,
    /// Open with a yearly cap per importer.
    Capped,
    /// Open, but an officer must review.
    Review,
    /// Open, but a test report is needed.
    NeedsReport,
    /// Closed: its validity ended before `today`.
    Closed,
}

#[derive(Debug, Clone)]
pub struct GenPurpose {
    pub code: String,
    pub description_th: String,
    pub description_en: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub max_quantity_per_year: Option<Amount>,
    pub officer_review: bool,
    pub test_report_required: bool,
    pub role: PurposeRole,
}

/// Licences grouped the way request generation needs them.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Licences per holder, as a compressed row: holder `h` has
    /// `holder_licences[holder_start[h]..holder_start[h + 1]]`.
    pub holder_start: Vec<u32>,
    pub holder_licences: Vec<u32>,
    /// Per [`LicenceKind`] (in `LicenceKind::ALL` order), the licences of that kind.
    pub by_kind: Vec<Vec<u32>>,
    /// Valid licences whose standard has inspection rate 0 and needs no test report.
    pub valid_plain: Vec<u32>,
    /// Valid licences whose standard has inspection rate 100 and needs no test report.
    pub valid_inspect: Vec<u32>,
    /// Valid licences whose standard needs a test report (inspection rate 0).
    pub valid_report: Vec<u32>,
}

/// The whole generated data set.
#[derive(Debug, Clone)]
pub struct Model {
    pub seed: u64,
    pub today: NaiveDate,
    pub standards: Vec<GenStandard>,
    pub holders: Vec<Holder>,
    pub licences: Vec<GenLicence>,
    pub labs: Vec<GenLab>,
    pub purposes: Vec<GenPurpose>,
    pub index: Index,
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn be_year(d: NaiveDate) -> u16 {
    (d.year() + BE_OFFSET) as u16
}

/// A unique 13-digit tax number for holder `index`. Mostly juristic persons (leading 0).
fn holder_tax_number(index: usize, rng: &mut ChaCha8Rng) -> TaxNumber {
    let mut d = [0u8; 12];
    // Juristic: 0 + 3-digit registration office + 8-digit serial (unique per index).
    // One holder in 50 is a natural person: leading 1..=8.
    d[0] = if index % 50 == 49 {
        rng.gen_range(1..=8)
    } else {
        0
    };
    let office = [105u32, 107, 115, 125, 135, 145, 994][rng.gen_range(0..7)];
    d[1] = (office / 100) as u8;
    d[2] = (office / 10 % 10) as u8;
    d[3] = (office % 10) as u8;
    let mut serial = index as u64;
    for slot in d[4..12].iter_mut().rev() {
        *slot = (serial % 10) as u8;
        serial /= 10;
    }
    let mut s = String::with_capacity(13);
    for x in d {
        s.push(char::from(b'0' + x));
    }
    s.push(char::from(b'0' + TaxNumber::check_digit(&d)));
    TaxNumber::parse(&s).expect("generated tax number is valid by construction")
}

/// The generated number for standard `k`: a unique (number, part) pair.
fn standard_number(k: usize) -> (u32, Option<String>) {
    if k % 6 == 5 {
        // Multi-part IEC-style standards: TIS 60335 Part 2(n).
        (60335, Some(format!("2({})", k / 6 + 1)))
    } else {
        (1000 + 13 * k as u32, None)
    }
}

impl Model {
    /// Builds the data set for `cfg`. Same configuration → same model.
    pub fn generate(cfg: &GenConfig) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let today = cfg.today;
        let standards = gen_standards(&mut rng, today);
        let holders = gen_holders(&mut rng, cfg.licences);
        let licences = gen_licences(&mut rng, today, &standards, holders.len(), cfg.licences);
        let labs = gen_labs(&mut rng, today, &standards);
        let purposes = gen_purposes(today);
        let index = build_index(&standards, holders.len(), &licences);
        Model {
            seed: cfg.seed,
            today,
            standards,
            holders,
            licences,
            labs,
            purposes,
            index,
        }
    }

    /// Why requests cannot be made from this model, when they cannot: every kind of licence
    /// must be there at least once (too few licences leave some out).
    pub fn unusable(&self) -> Option<String> {
        let missing: Vec<String> = LicenceKind::ALL
            .iter()
            .filter(|k| self.of_kind(**k).is_empty())
            .map(|k| format!("{k:?}"))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "its {} licences include none of the kinds {}, which requests are made of",
                self.licences.len(),
                missing.join(", ")
            )
        })
    }

    pub fn licences_of(&self, holder: usize) -> &[u32] {
        let s = self.index.holder_start[holder] as usize;
        let e = self.index.holder_start[holder + 1] as usize;
        &self.index.holder_licences[s..e]
    }

    pub fn of_kind(&self, kind: LicenceKind) -> &[u32] {
        let k = LicenceKind::ALL
            .iter()
            .position(|x| *x == kind)
            .expect("listed");
        &self.index.by_kind[k]
    }

    /// Indices of standards with the given role predicate.
    pub fn standards_where(&self, f: impl Fn(&GenStandard) -> bool) -> Vec<usize> {
        (0..self.standards.len())
            .filter(|&i| f(&self.standards[i]))
            .collect()
    }
}

fn gen_standards(rng: &mut ChaCha8Rng, today: NaiveDate) -> Vec<GenStandard> {
    let mut used: HashSet<String> = HashSet::new();
    let mut prefixes = |rng: &mut ChaCha8Rng, n: usize| -> Vec<String> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let ch = pools::CONTROLLED_CHAPTERS[rng.gen_range(0..pools::CONTROLLED_CHAPTERS.len())];
            let p = format!("{ch}{:04}", rng.gen_range(100..10000));
            if used.insert(p.clone()) {
                v.push(p);
            }
        }
        v
    };
    // 130 current compulsory editions; among them rate-100, intermediate-rate and
    // test-report ones at fixed positions so every data set has them.
    const CURRENT: usize = 130;
    let mut out: Vec<GenStandard> = Vec::with_capacity(CURRENT + 20);
    for k in 0..CURRENT {
        let (number, part) = standard_number(k);
        let from = today - days(rng.gen_range(200..3650));
        let edition = be_year(from) - rng.gen_range(0..2);
        let (rate, report) = match k % 13 {
            3 => (100, false),
            7 => ([5u8, 10, 20, 50][rng.gen_range(0..4)], false),
            11 => (0, true),
            _ => (0, false),
        };
        let product = k % pools::PRODUCTS.len();
        let n = rng.gen_range(1..=3);
        out.push(GenStandard {
            reference: StandardRef {
                number,
                part,
                edition_be: edition,
            },
            product,
            title_th: title_th(product, k),
            title_en: title_en(product, k),
            compulsory: true,
            in_force_from: from,
            in_force_until: None,
            hs_prefixes: prefixes(rng, n),
            inspection_rate: rate,
            test_report_required: report,
            role: StandardRole::Current,
        });
    }
    // Superseded editions of some current standards: same number, part and HS prefixes,
    // an earlier edition year, in force until the day before the current one started.
    for k in [0usize, 1, 2, 4, 5, 8] {
        let cur = out[k].clone();
        let until = cur.in_force_from - days(1);
        let from = until - days(rng.gen_range(1500..4000));
        out.push(GenStandard {
            reference: StandardRef {
                edition_be: cur.reference.edition_be.min(be_year(until)) - rng.gen_range(3..9),
                ..cur.reference.clone()
            },
            in_force_from: from,
            in_force_until: Some(until),
            role: StandardRole::Superseded { successor: k },
            ..cur
        });
    }
    // Future editions of two current standards: in force from years after today.
    for k in [6usize, 9] {
        let cur = out[k].clone();
        let from = today + days(365 * 6 + rng.gen_range(0..300));
        out.push(GenStandard {
            reference: StandardRef {
                edition_be: be_year(from),
                ..cur.reference.clone()
            },
            in_force_from: from,
            in_force_until: None,
            role: StandardRole::Future { current: k },
            ..cur
        });
    }
    // Withdrawn standards with no successor, and voluntary ones.
    for j in 0..6usize {
        let k = CURRENT + j;
        let (number, part) = standard_number(k);
        let product = k % pools::PRODUCTS.len();
        let withdrawn = j < 2;
        let from = today - days(rng.gen_range(2000..5000));
        out.push(GenStandard {
            reference: StandardRef {
                number,
                part,
                edition_be: be_year(from),
            },
            product,
            title_th: title_th(product, k),
            title_en: title_en(product, k),
            compulsory: withdrawn,
            in_force_from: from,
            in_force_until: withdrawn.then(|| today - days(rng.gen_range(100..900))),
            hs_prefixes: prefixes(rng, 1),
            inspection_rate: 0,
            test_report_required: false,
            role: if withdrawn {
                StandardRole::Withdrawn
            } else {
                StandardRole::Voluntary
            },
        });
    }
    out
}

fn title_en(product: usize, k: usize) -> String {
    let (en, _) = pools::PRODUCTS[product];
    match k / pools::PRODUCTS.len() {
        0 => en.to_owned(),
        g => format!("{en}: safety requirements, series {}", g + 1),
    }
}

fn title_th(product: usize, k: usize) -> String {
    let (_, th) = pools::PRODUCTS[product];
    match k / pools::PRODUCTS.len() {
        0 => th.to_owned(),
        g => format!("{th}: ข้อกำหนดด้านความปลอดภัย ชุดที่ {}", g + 1),
    }
}

fn gen_holders(rng: &mut ChaCha8Rng, licences: usize) -> Vec<Holder> {
    let n = (licences / 4).max(3);
    (0..n)
        .map(|i| {
            let tax = holder_tax_number(i, rng);
            // One holder in 10 registers its imports at a branch.
            let branch = if i % 10 == 9 {
                Branch::parse(&format!("{:05}", rng.gen_range(1..20))).expect("5 digits")
            } else {
                Branch::HEAD_OFFICE
            };
            Holder {
                key: PartyKey {
                    tax_number: tax,
                    branch,
                },
            }
        })
        .collect()
}

fn gen_licences(
    rng: &mut ChaCha8Rng,
    today: NaiveDate,
    standards: &[GenStandard],
    holders: usize,
    n: usize,
) -> Vec<GenLicence> {
    let current: Vec<usize> = (0..standards.len())
        .filter(|&i| standards[i].role == StandardRole::Current)
        .collect();
    let superseded: Vec<usize> = (0..standards.len())
        .filter(|&i| matches!(standards[i].role, StandardRole::Superseded { .. }))
        .collect();
    // Kinds by weight (per mille), after a first round that guarantees each kind and each
    // special standard appears even in tiny data sets.
    let weights: [(LicenceKind, u32); 7] = [
        (LicenceKind::Valid, 850),
        (LicenceKind::Suspended, 30),
        (LicenceKind::Revoked, 20),
        (LicenceKind::Expired, 40),
        (LicenceKind::NotYetValid, 10),
        (LicenceKind::Manufacture, 40),
        (LicenceKind::OldEdition, 10),
    ];
    let special_current: Vec<usize> = current
        .iter()
        .copied()
        .filter(|&i| standards[i].inspection_rate == 100 || standards[i].test_report_required)
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let first_round = LicenceKind::ALL.len();
        let kind = if i < first_round {
            LicenceKind::ALL[i]
        } else if i < first_round + special_current.len() {
            LicenceKind::Valid
        } else {
            let r = rng.gen_range(0..1000);
            let mut acc = 0;
            weights
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    r < acc
                })
                .map(|(k, _)| *k)
                .expect("weights add to 1000")
        };
        let standard = if kind == LicenceKind::OldEdition {
            superseded[rng.gen_range(0..superseded.len())]
        } else if i >= first_round && i < first_round + special_current.len() {
            // The first valid licences cover the special standards (rate 100, test report).
            special_current[i - first_round]
        } else {
            current[rng.gen_range(0..current.len())]
        };
        let holder = if i < holders {
            i
        } else {
            rng.gen_range(0..holders)
        } as u32;
        let (issued_on, expires_on, status_since) = match kind {
            LicenceKind::Expired => {
                let exp = today - days(rng.gen_range(30..1500));
                let iss = exp - days(rng.gen_range(1000..3000));
                (iss, exp, iss)
            }
            LicenceKind::NotYetValid => {
                let iss = today + days(rng.gen_range(365 * 6..365 * 8));
                (iss, iss + days(365 * 5), iss)
            }
            LicenceKind::OldEdition => {
                let s = &standards[standard];
                let iss = s.in_force_from + days(rng.gen_range(0..200));
                (iss, today + days(rng.gen_range(365 * 4..365 * 8)), iss)
            }
            _ => {
                let s = &standards[standard];
                let earliest = s.in_force_from.max(today - days(3000));
                let span = (today - earliest).num_days().max(1);
                let iss = earliest + days(rng.gen_range(0..span));
                let exp = today + days(rng.gen_range(365 * 4..365 * 8));
                let since = match kind {
                    LicenceKind::Suspended | LicenceKind::Revoked => {
                        let span = (today - iss).num_days().max(2);
                        iss + days(rng.gen_range(1..span))
                    }
                    _ => iss,
                };
                (iss, exp, since)
            }
        };
        out.push(GenLicence {
            holder,
            standard: standard as u16,
            kind,
            issued_on,
            expires_on,
            status_since,
            salt: rng.gen(),
        });
    }
    out
}

fn gen_labs(rng: &mut ChaCha8Rng, today: NaiveDate, standards: &[GenStandard]) -> Vec<GenLab> {
    let report: Vec<usize> = (0..standards.len())
        .filter(|&i| {
            standards[i].test_report_required && standards[i].role == StandardRole::Current
        })
        .collect();
    let plain: Vec<usize> = (0..standards.len())
        .filter(|&i| {
            !standards[i].test_report_required && standards[i].role == StandardRole::Current
        })
        .collect();
    let mut labs = Vec::new();
    for (j, (en, th)) in pools::LAB_NAMES.iter().enumerate() {
        let mut scope: Vec<usize> = Vec::new();
        let status;
        let from = today - days(rng.gen_range(700..4000));
        let mut until = if j % 3 == 0 {
            None
        } else {
            Some(today + days(rng.gen_range(365 * 4..365 * 7)))
        };
        match j {
            // Not accredited for any standard that needs a test report.
            0 => {
                scope.extend(plain.choose_multiple(rng, 20));
                status = LabStatus::Active;
            }
            // Withdrawn, its accreditation ended long before any report generated.
            1 => {
                scope.extend(report.iter().copied());
                status = LabStatus::Withdrawn;
                until = Some(today - days(rng.gen_range(400..900)));
            }
            _ => {
                // Every other lab covers half of the test-report standards (so each is covered
                // by several) and a sample of the rest.
                scope.extend(report.iter().copied().filter(|s| (s + j) % 2 == 0));
                scope.extend(plain.choose_multiple(rng, 15));
                status = LabStatus::Active;
            }
        }
        scope.sort_unstable();
        scope.dedup();
        labs.push(GenLab {
            id: format!("TL-{:04}", 101 + j * 7),
            name_en: (*en).to_owned(),
            name_th: (*th).to_owned(),
            standards: scope,
            accredited_from: from,
            accredited_until: until,
            status,
        });
    }
    labs
}

fn gen_purposes(today: NaiveDate) -> Vec<GenPurpose> {
    let p = |code: &str,
             th: &str,
             en: &str,
             from: NaiveDate,
             until: Option<NaiveDate>,
             cap: Option<u64>,
             review: bool,
             report: bool,
             role: PurposeRole| GenPurpose {
        code: code.to_owned(),
        description_th: th.to_owned(),
        description_en: en.to_owned(),
        valid_from: from,
        valid_until: until,
        max_quantity_per_year: cap.map(|c| Amount::from_milli(c * 1000)),
        officer_review: review,
        test_report_required: report,
        role,
    };
    let policy = NaiveDate::from_ymd_opt(2024, 10, 1)
        .expect("date")
        .min(today - days(400));
    vec![
        p(
            "RND",
            "เพื่อการวิจัยและพัฒนา",
            "Research and development",
            policy,
            None,
            None,
            false,
            false,
            PurposeRole::Open,
        ),
        p(
            "EXHIBIT",
            "เพื่อจัดแสดงในงานแสดงสินค้า",
            "Display at a trade exhibition",
            policy,
            None,
            None,
            false,
            false,
            PurposeRole::Open,
        ),
        p(
            "PERSONAL",
            "เพื่อใช้ส่วนตัว",
            "Personal use",
            policy,
            None,
            Some(10),
            false,
            false,
            PurposeRole::Capped,
        ),
        p(
            "DONATION",
            "เพื่อบริจาคแก่หน่วยงานการกุศล",
            "Donation to a charity",
            policy,
            None,
            None,
            true,
            false,
            PurposeRole::Review,
        ),
        p(
            "MARKETTEST",
            "เพื่อทดสอบตลาด",
            "Market test samples",
            policy,
            None,
            None,
            false,
            true,
            PurposeRole::NeedsReport,
        ),
        p(
            "RELIEF2025",
            "เพื่อการช่วยเหลือผู้ประสบภัย",
            "Disaster relief (closed)",
            policy,
            Some(today - days(120)),
            None,
            false,
            false,
            PurposeRole::Closed,
        ),
    ]
}

fn build_index(standards: &[GenStandard], holders: usize, licences: &[GenLicence]) -> Index {
    let mut counts = vec![0u32; holders + 1];
    for l in licences {
        counts[l.holder as usize + 1] += 1;
    }
    for h in 0..holders {
        counts[h + 1] += counts[h];
    }
    let holder_start = counts.clone();
    let mut fill = counts;
    let mut holder_licences = vec![0u32; licences.len()];
    let mut by_kind = vec![Vec::new(); LicenceKind::ALL.len()];
    let mut valid_plain = Vec::new();
    let mut valid_inspect = Vec::new();
    let mut valid_report = Vec::new();
    for (i, l) in licences.iter().enumerate() {
        let h = l.holder as usize;
        holder_licences[fill[h] as usize] = i as u32;
        fill[h] += 1;
        let k = LicenceKind::ALL
            .iter()
            .position(|x| *x == l.kind)
            .expect("listed");
        by_kind[k].push(i as u32);
        if l.kind == LicenceKind::Valid {
            let s = &standards[l.standard as usize];
            match (s.inspection_rate, s.test_report_required) {
                (0, false) => valid_plain.push(i as u32),
                (100, false) => valid_inspect.push(i as u32),
                (0, true) => valid_report.push(i as u32),
                _ => {}
            }
        }
    }
    Index {
        holder_start,
        holder_licences,
        by_kind,
        valid_plain,
        valid_inspect,
        valid_report,
    }
}

/// The country of a manufacturer as a domain value.
pub fn country(code: &str) -> Country {
    Country::parse(code).expect("pool countries are valid")
}

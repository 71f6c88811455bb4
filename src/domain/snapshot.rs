//! An immutable, indexed, in-memory view of the reference data that the decision rules read
//! without locks.
//!
//! Built once from a [`RefData`] by [`Snapshot::build`], which checks every cross-reference and
//! reports all problems at once. Licences are stored compactly (one fixed-size record each, all
//! text in one shared arena, repeated texts such as holder names, brands and manufacturers kept
//! once) so that a million licences fit comfortably in memory.
//!
//! A licence status change is applied with [`Snapshot::with_licence_status`], which derives a new
//! snapshot in time proportional to the number of status changes applied since the last full
//! build (the big tables are shared through `Arc`). The service swaps the new snapshot in; a full
//! reload through `build` starts again with no changes on top.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::NaiveDate;
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::refdata::{
    Lab, LabStatus, Licence, LicenceStatus, LicenceType, RefData, SpecialPurpose, Standard,
};
use super::types::{Country, HsCode, PartyKey, StandardRef};

/// Index of a standard edition inside a snapshot.
pub type StandardId = u32;

/// A problem in a reference-data set that prevents building a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefDataError {
    #[error("standard {0} is listed more than once")]
    DuplicateStandard(String),
    #[error("standard {standard}: HS prefix '{prefix}' must be 2 to 11 digits")]
    BadHsPrefix { standard: String, prefix: String },
    #[error("standard {standard}: inspection rate {rate} must be between 0 and 100")]
    InspectionRateOutOfRange { standard: String, rate: u8 },
    #[error("standard {standard}: in force until {until} is before in force from {from}")]
    StandardDatesInverted {
        standard: String,
        from: NaiveDate,
        until: NaiveDate,
    },
    #[error("licence {0} is listed more than once")]
    DuplicateLicence(String),
    #[error("licence {licence}: standard {standard} is not in the standards list")]
    LicenceStandardUnknown { licence: String, standard: String },
    #[error("licence {licence}: expires on {expires} before it was issued on {issued}")]
    LicenceDatesInverted {
        licence: String,
        issued: NaiveDate,
        expires: NaiveDate,
    },
    #[error("licence number must not be empty")]
    EmptyLicenceNumber,
    #[error("lab {0} is listed more than once")]
    DuplicateLab(String),
    #[error("lab {lab}: standard {standard} in its scope is not in the standards list")]
    LabStandardUnknown { lab: String, standard: String },
    #[error("lab {lab}: accredited until {until} is before accredited from {from}")]
    LabDatesInverted {
        lab: String,
        from: NaiveDate,
        until: NaiveDate,
    },
    #[error("special purpose {0} is listed more than once")]
    DuplicatePurpose(String),
    #[error("special purpose {code}: valid until {until} is before valid from {from}")]
    PurposeDatesInverted {
        code: String,
        from: NaiveDate,
        until: NaiveDate,
    },
}

/// Asked for a licence that the snapshot does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("licence {0} is not in the reference data")]
pub struct UnknownLicence(pub String);

/// A string in the shared text arena.
type Sym = u32;

/// Compact text storage: every string is a span of one big `String`.
#[derive(Default)]
struct Arena {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl Arena {
    fn get(&self, s: Sym) -> &str {
        let (off, len) = self.spans[s as usize];
        &self.text[off as usize..(off + len) as usize]
    }
    fn push(&mut self, s: &str) -> Sym {
        let off = self.text.len() as u32;
        self.text.push_str(s);
        self.spans.push((off, s.len() as u32));
        (self.spans.len() - 1) as Sym
    }
    fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
    }
}

/// Interns repeated texts while building; dropped afterwards.
struct Interner {
    table: HashTable<Sym>,
    hasher: FxBuildHasher,
}

impl Interner {
    fn new() -> Self {
        Self {
            table: HashTable::new(),
            hasher: FxBuildHasher,
        }
    }
    fn intern(&mut self, arena: &mut Arena, s: &str) -> Sym {
        let h = self.hasher.hash_one(s);
        if let Some(&sym) = self.table.find(h, |&sym| arena.get(sym) == s) {
            return sym;
        }
        let sym = arena.push(s);
        let hasher = &self.hasher;
        self.table
            .insert_unique(h, sym, |&x| hasher.hash_one(arena.get(x)));
        sym
    }
}

/// One licence, fixed size; texts live in the arena.
#[derive(Clone, Copy)]
struct LicenceRec {
    number: Sym,
    holder_name: Sym,
    manufacturer: Sym,
    standard: StandardId,
    brands_at: u32,
    models_at: u32,
    brands_len: u16,
    models_len: u16,
    holder: PartyKey,
    issued_on: NaiveDate,
    expires_on: NaiveDate,
    status_since: NaiveDate,
    manufacturer_country: Country,
    licence_type: LicenceType,
    status: LicenceStatus,
}

// A million licences: every byte of the record is a megabyte of resident memory.
const _: () = assert!(std::mem::size_of::<LicenceRec>() <= 64);

struct Tables {
    standards: Vec<Standard>,
    standard_by_ref: FxHashMap<StandardRef, StandardId>,
    /// Key: `prefix_value << 4 | prefix_len` → standards whose HS prefixes include it.
    hs_index: FxHashMap<u64, Vec<StandardId>>,
    licences: Vec<LicenceRec>,
    licence_by_number: HashTable<u32>,
    arena: Arena,
    /// Brand and model lists of all licences, as arena symbols.
    lists: Vec<Sym>,
    labs: Vec<Lab>,
    lab_by_id: FxHashMap<String, u32>,
    purposes: Vec<SpecialPurpose>,
    purpose_by_code: FxHashMap<String, u32>,
}

/// The immutable reference snapshot. Cheap to clone (shares its tables).
#[derive(Clone)]
pub struct Snapshot {
    tables: Arc<Tables>,
    /// Licence status changes applied after the build: licence index → (status, since).
    status_changes: Arc<FxHashMap<u32, (LicenceStatus, NaiveDate)>>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("standards", &self.tables.standards.len())
            .field("licences", &self.tables.licences.len())
            .field("labs", &self.tables.labs.len())
            .field("purposes", &self.tables.purposes.len())
            .field("status_changes", &self.status_changes.len())
            .finish()
    }
}

fn hs_key(value: u64, len: usize) -> u64 {
    (value << 4) | len as u64
}

fn fx_hash(s: &str) -> u64 {
    FxBuildHasher.hash_one(s)
}

/// Builds a [`Snapshot`] one licence at a time, so that a caller reading a million licences
/// from a store never holds them all as owned records: each is checked and packed into the
/// compact tables as it arrives. Standards come first (a licence names one), labs and special
/// purposes last. [`Snapshot::build`] is this builder over a whole [`RefData`].
pub struct SnapshotBuilder {
    errors: Vec<RefDataError>,
    standards: Vec<Standard>,
    standard_by_ref: FxHashMap<StandardRef, StandardId>,
    hs_index: FxHashMap<u64, Vec<StandardId>>,
    arena: Arena,
    interner: Interner,
    lists: Vec<Sym>,
    recs: Vec<LicenceRec>,
    by_number: HashTable<u32>,
}

impl fmt::Debug for SnapshotBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotBuilder")
            .field("standards", &self.standards.len())
            .field("licences", &self.recs.len())
            .field("errors", &self.errors.len())
            .finish()
    }
}

impl SnapshotBuilder {
    /// Starts a snapshot over these standards, checking them (duplicates, inspection rate,
    /// dates, HS prefixes).
    pub fn new(standards: Vec<Standard>) -> Self {
        let mut errors = Vec::new();
        let mut standard_by_ref: FxHashMap<StandardRef, StandardId> = FxHashMap::default();
        let mut hs_index: FxHashMap<u64, Vec<StandardId>> = FxHashMap::default();
        for (i, s) in standards.iter().enumerate() {
            let name = s.reference.canonical();
            if standard_by_ref
                .insert(s.reference.clone(), i as StandardId)
                .is_some()
            {
                errors.push(RefDataError::DuplicateStandard(name.clone()));
            }
            if s.inspection_rate > 100 {
                errors.push(RefDataError::InspectionRateOutOfRange {
                    standard: name.clone(),
                    rate: s.inspection_rate,
                });
            }
            if let Some(until) = s.in_force_until {
                if until < s.in_force_from {
                    errors.push(RefDataError::StandardDatesInverted {
                        standard: name.clone(),
                        from: s.in_force_from,
                        until,
                    });
                }
            }
            for p in &s.hs_prefixes {
                if !(2..=11).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                    errors.push(RefDataError::BadHsPrefix {
                        standard: name.clone(),
                        prefix: p.clone(),
                    });
                    continue;
                }
                let v: u64 = p.parse().expect("at most 11 digits");
                let ids = hs_index.entry(hs_key(v, p.len())).or_default();
                if !ids.contains(&(i as StandardId)) {
                    ids.push(i as StandardId);
                }
            }
        }
        SnapshotBuilder {
            errors,
            standards,
            standard_by_ref,
            hs_index,
            arena: Arena::default(),
            interner: Interner::new(),
            lists: Vec::new(),
            recs: Vec::new(),
            by_number: HashTable::new(),
        }
    }

    /// Makes room for `additional` more licences up front, so that the tables are not grown
    /// (and copied) while licences are added.
    pub fn reserve_licences(&mut self, additional: usize) {
        self.recs.reserve_exact(additional);
        let hasher = |&i: &u32| fx_hash(self.arena.get(self.recs[i as usize].number));
        self.by_number.reserve(additional, hasher);
    }

    /// Checks one licence and adds it (a licence with a problem is reported, not added).
    pub fn add_licence(&mut self, l: &Licence) {
        if l.number.trim().is_empty() {
            self.errors.push(RefDataError::EmptyLicenceNumber);
            return;
        }
        let Some(&std_id) = self.standard_by_ref.get(&l.standard) else {
            self.errors.push(RefDataError::LicenceStandardUnknown {
                licence: l.number.clone(),
                standard: l.standard.canonical(),
            });
            return;
        };
        if l.expires_on < l.issued_on {
            self.errors.push(RefDataError::LicenceDatesInverted {
                licence: l.number.clone(),
                issued: l.issued_on,
                expires: l.expires_on,
            });
        }
        let h = fx_hash(&l.number);
        let (arena, recs) = (&mut self.arena, &mut self.recs);
        if self
            .by_number
            .find(h, |&i| arena.get(recs[i as usize].number) == l.number)
            .is_some()
        {
            self.errors
                .push(RefDataError::DuplicateLicence(l.number.clone()));
            return;
        }
        let number = arena.push(&l.number);
        let interner = &mut self.interner;
        let lists = &mut self.lists;
        let brands_at = lists.len() as u32;
        for b in &l.brands {
            lists.push(interner.intern(arena, b));
        }
        let models_at = lists.len() as u32;
        for m in &l.models {
            lists.push(interner.intern(arena, m));
        }
        let rec = LicenceRec {
            number,
            holder_name: interner.intern(arena, &l.holder_name),
            manufacturer: interner.intern(arena, &l.manufacturer),
            standard: std_id,
            brands_at,
            models_at,
            brands_len: l.brands.len().min(u16::MAX as usize) as u16,
            models_len: l.models.len().min(u16::MAX as usize) as u16,
            holder: l.holder,
            issued_on: l.issued_on,
            expires_on: l.expires_on,
            status_since: l.status_since,
            manufacturer_country: l.manufacturer_country,
            licence_type: l.licence_type,
            status: l.status,
        };
        let idx = recs.len() as u32;
        recs.push(rec);
        self.by_number
            .insert_unique(h, idx, |&i| fx_hash(arena.get(recs[i as usize].number)));
    }

    /// Checks the labs and special purposes and finishes the snapshot; every problem found
    /// since [`SnapshotBuilder::new`] is returned, not only the first.
    pub fn finish(
        self,
        labs: Vec<Lab>,
        purposes: Vec<SpecialPurpose>,
    ) -> Result<Snapshot, Vec<RefDataError>> {
        let SnapshotBuilder {
            mut errors,
            standards,
            standard_by_ref,
            hs_index,
            mut arena,
            interner,
            mut lists,
            mut recs,
            by_number,
        } = self;
        drop(interner);
        arena.shrink();
        lists.shrink_to_fit();
        recs.shrink_to_fit();

        // Labs.
        let mut lab_by_id: FxHashMap<String, u32> = FxHashMap::default();
        for (i, lab) in labs.iter().enumerate() {
            if lab_by_id.insert(lab.id.clone(), i as u32).is_some() {
                errors.push(RefDataError::DuplicateLab(lab.id.clone()));
            }
            for s in &lab.standards {
                if !standard_by_ref.contains_key(s) {
                    errors.push(RefDataError::LabStandardUnknown {
                        lab: lab.id.clone(),
                        standard: s.canonical(),
                    });
                }
            }
            if let Some(until) = lab.accredited_until {
                if until < lab.accredited_from {
                    errors.push(RefDataError::LabDatesInverted {
                        lab: lab.id.clone(),
                        from: lab.accredited_from,
                        until,
                    });
                }
            }
        }

        // Special purposes.
        let mut purpose_by_code: FxHashMap<String, u32> = FxHashMap::default();
        for (i, p) in purposes.iter().enumerate() {
            if purpose_by_code.insert(p.code.clone(), i as u32).is_some() {
                errors.push(RefDataError::DuplicatePurpose(p.code.clone()));
            }
            if let Some(until) = p.valid_until {
                if until < p.valid_from {
                    errors.push(RefDataError::PurposeDatesInverted {
                        code: p.code.clone(),
                        from: p.valid_from,
                        until,
                    });
                }
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Snapshot {
            tables: Arc::new(Tables {
                standards,
                standard_by_ref,
                hs_index,
                licences: recs,
                licence_by_number: by_number,
                arena,
                lists,
                labs,
                lab_by_id,
                purposes,
                purpose_by_code,
            }),
            status_changes: Arc::new(FxHashMap::default()),
        })
    }
}

impl Snapshot {
    /// Builds the snapshot, checking duplicates, date ranges, HS prefixes and every
    /// cross-reference (a licence's standard, the standards in a lab's scope). All problems are
    /// returned, not only the first. Each licence record is dropped as soon as it is packed.
    pub fn build(data: RefData) -> Result<Snapshot, Vec<RefDataError>> {
        let RefData {
            standards,
            licences,
            labs,
            purposes,
        } = data;
        let mut b = SnapshotBuilder::new(standards);
        b.reserve_licences(licences.len());
        for l in licences {
            b.add_licence(&l);
        }
        b.finish(labs, purposes)
    }

    /// Builds the snapshot of borrowed reference data (the licences are not copied).
    pub fn build_from(data: &RefData) -> Result<Snapshot, Vec<RefDataError>> {
        let mut b = SnapshotBuilder::new(data.standards.clone());
        b.reserve_licences(data.licences.len());
        for l in &data.licences {
            b.add_licence(l);
        }
        b.finish(data.labs.clone(), data.purposes.clone())
    }

    /// A new snapshot in which licence `number` has `status` since `since`; everything else is
    /// shared with `self`. Costs O(status changes applied since the last full build).
    pub fn with_licence_status(
        &self,
        number: &str,
        status: LicenceStatus,
        since: NaiveDate,
    ) -> Result<Snapshot, UnknownLicence> {
        let idx = self
            .licence_index(number)
            .ok_or_else(|| UnknownLicence(number.to_owned()))?;
        let mut changes = (*self.status_changes).clone();
        changes.insert(idx, (status, since));
        Ok(Snapshot {
            tables: Arc::clone(&self.tables),
            status_changes: Arc::new(changes),
        })
    }

    fn licence_index(&self, number: &str) -> Option<u32> {
        let t = &*self.tables;
        t.licence_by_number
            .find(fx_hash(number), |&i| {
                t.arena.get(t.licences[i as usize].number) == number
            })
            .copied()
    }

    /// The licence with this number.
    pub fn licence(&self, number: &str) -> Option<LicenceRef<'_>> {
        self.licence_index(number)
            .map(|idx| LicenceRef { snap: self, idx })
    }

    /// Every licence, in load order.
    pub fn licences(&self) -> impl ExactSizeIterator<Item = LicenceRef<'_>> + '_ {
        (0..self.tables.licences.len() as u32).map(move |idx| LicenceRef { snap: self, idx })
    }

    pub fn licence_count(&self) -> usize {
        self.tables.licences.len()
    }

    /// The standard edition with exactly this number, part and edition year.
    pub fn standard(&self, r: &StandardRef) -> Option<&Standard> {
        self.standard_id(r).map(|id| self.standard_by_id(id))
    }

    pub fn standard_id(&self, r: &StandardRef) -> Option<StandardId> {
        self.tables.standard_by_ref.get(r).copied()
    }

    pub fn standard_by_id(&self, id: StandardId) -> &Standard {
        &self.tables.standards[id as usize]
    }

    pub fn standards(&self) -> &[Standard] {
        &self.tables.standards
    }

    /// Every edition of the same standard (number and part) as `r`.
    pub fn editions_of<'a>(
        &'a self,
        r: &'a StandardRef,
    ) -> impl Iterator<Item = &'a Standard> + 'a {
        self.tables
            .standards
            .iter()
            .filter(move |s| s.reference.same_standard(r))
    }

    /// Calls `f` for each standard with an HS prefix that `code` starts with (any status, any
    /// date), shortest prefix first; a standard with several matching prefixes comes once per
    /// prefix. No allocation.
    pub fn for_each_standard_covering(&self, code: &HsCode, mut f: impl FnMut(StandardId)) {
        let digits = code.as_str().as_bytes();
        let mut v: u64 = 0;
        for (i, b) in digits.iter().enumerate() {
            v = v * 10 + u64::from(b - b'0');
            let len = i + 1;
            if len < 2 {
                continue;
            }
            if let Some(ids) = self.tables.hs_index.get(&hs_key(v, len)) {
                for &id in ids {
                    f(id);
                }
            }
        }
    }

    /// Whether `code` falls under a compulsory standard in force on `date` (spec §6 rule 1).
    pub fn is_controlled(&self, code: &HsCode, date: NaiveDate) -> bool {
        let mut found = false;
        self.for_each_standard_covering(code, |id| {
            let s = self.standard_by_id(id);
            found |= s.compulsory && s.in_force_on(date);
        });
        found
    }

    /// The compulsory standards in force on `date` that cover `code`, for messages.
    pub fn controlling_standards(&self, code: &HsCode, date: NaiveDate) -> Vec<&Standard> {
        let mut ids = Vec::new();
        self.for_each_standard_covering(code, |id| {
            let s = self.standard_by_id(id);
            if s.compulsory && s.in_force_on(date) && !ids.contains(&id) {
                ids.push(id);
            }
        });
        ids.sort_unstable();
        ids.into_iter().map(|id| self.standard_by_id(id)).collect()
    }

    pub fn lab(&self, id: &str) -> Option<&Lab> {
        self.tables
            .lab_by_id
            .get(id)
            .map(|&i| &self.tables.labs[i as usize])
    }

    pub fn labs(&self) -> &[Lab] {
        &self.tables.labs
    }

    pub fn purpose(&self, code: &str) -> Option<&SpecialPurpose> {
        self.tables
            .purpose_by_code
            .get(code)
            .map(|&i| &self.tables.purposes[i as usize])
    }

    pub fn purposes(&self) -> &[SpecialPurpose] {
        &self.tables.purposes
    }

    /// How many licence status changes sit on top of the last full build.
    pub fn status_change_count(&self) -> usize {
        self.status_changes.len()
    }
}

/// A licence inside a snapshot: every field of [`Licence`], read from the compact record.
#[derive(Clone, Copy)]
pub struct LicenceRef<'a> {
    snap: &'a Snapshot,
    idx: u32,
}

impl fmt::Debug for LicenceRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_licence(), f)
    }
}

impl<'a> LicenceRef<'a> {
    fn rec(&self) -> &'a LicenceRec {
        &self.snap.tables.licences[self.idx as usize]
    }
    fn text(&self, s: Sym) -> &'a str {
        self.snap.tables.arena.get(s)
    }
    fn list(&self, at: u32, len: u16) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let t = &*self.snap.tables;
        t.lists[at as usize..at as usize + len as usize]
            .iter()
            .map(move |&s| t.arena.get(s))
    }

    pub fn number(&self) -> &'a str {
        self.text(self.rec().number)
    }
    pub fn licence_type(&self) -> LicenceType {
        self.rec().licence_type
    }
    pub fn holder(&self) -> PartyKey {
        self.rec().holder
    }
    pub fn holder_name(&self) -> &'a str {
        self.text(self.rec().holder_name)
    }
    pub fn standard_id(&self) -> StandardId {
        self.rec().standard
    }
    pub fn standard(&self) -> &'a Standard {
        self.snap.standard_by_id(self.rec().standard)
    }
    /// Brands covered; empty = not restricted.
    pub fn brands(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let r = self.rec();
        self.list(r.brands_at, r.brands_len)
    }
    /// Models covered; empty = not restricted.
    pub fn models(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let r = self.rec();
        self.list(r.models_at, r.models_len)
    }
    pub fn manufacturer(&self) -> &'a str {
        self.text(self.rec().manufacturer)
    }
    pub fn manufacturer_country(&self) -> Country {
        self.rec().manufacturer_country
    }
    pub fn issued_on(&self) -> NaiveDate {
        self.rec().issued_on
    }
    pub fn expires_on(&self) -> NaiveDate {
        self.rec().expires_on
    }
    /// Current status, including changes applied with [`Snapshot::with_licence_status`].
    pub fn status(&self) -> LicenceStatus {
        self.status_and_since().0
    }
    pub fn status_since(&self) -> NaiveDate {
        self.status_and_since().1
    }
    fn status_and_since(&self) -> (LicenceStatus, NaiveDate) {
        if !self.snap.status_changes.is_empty() {
            if let Some(&c) = self.snap.status_changes.get(&self.idx) {
                return c;
            }
        }
        let r = self.rec();
        (r.status, r.status_since)
    }

    /// The licence as an owned record.
    pub fn to_licence(&self) -> Licence {
        let (status, status_since) = self.status_and_since();
        Licence {
            number: self.number().to_owned(),
            licence_type: self.licence_type(),
            holder: self.holder(),
            holder_name: self.holder_name().to_owned(),
            standard: self.standard().reference.clone(),
            brands: self.brands().map(str::to_owned).collect(),
            models: self.models().map(str::to_owned).collect(),
            manufacturer: self.manufacturer().to_owned(),
            manufacturer_country: self.manufacturer_country(),
            issued_on: self.issued_on(),
            expires_on: self.expires_on(),
            status,
            status_since,
        }
    }
}

/// A lab is usable for a test report on `date` for `standard` (spec §6 rule 14).
pub fn lab_accredited(lab: &Lab, standard: Option<&StandardRef>, date: NaiveDate) -> bool {
    lab.status == LabStatus::Active
        && lab.accredited_from <= date
        && lab.accredited_until.is_none_or(|u| date <= u)
        && standard.is_none_or(|s| lab.standards.contains(s))
}

/// Generates reference data with `n` licences over a handful of standards, for measurements.
#[doc(hidden)]
pub fn synthetic_refdata(n: usize) -> RefData {
    use super::types::{Branch, TaxNumber};
    let day = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("valid date");
    let standards: Vec<Standard> = (0..40u32)
        .map(|i| Standard {
            reference: StandardRef {
                number: 1000 + i,
                part: None,
                edition_be: 2560,
            },
            title_th: format!("มาตรฐานตัวอย่าง {i}"),
            title_en: format!("Example standard {i}"),
            compulsory: true,
            in_force_from: day(2017, 1, 1),
            in_force_until: None,
            hs_prefixes: vec![format!("85{:02}", i), format!("94{:02}10", i)],
            inspection_rate: (i % 3 * 5) as u8,
            test_report_required: false,
        })
        .collect();
    let importers: Vec<(PartyKey, String)> = (0..20_000u64)
        .map(|i| {
            let first12 = format!("0105{:08}", 10_000_000 + i * 37);
            let digits: Vec<u8> = first12.bytes().map(|b| b - b'0').collect();
            let cd = TaxNumber::check_digit(&digits);
            let tax = TaxNumber::parse(&format!("{first12}{cd}")).expect("valid check digit");
            (
                PartyKey {
                    tax_number: tax,
                    branch: Branch::HEAD_OFFICE,
                },
                format!("บริษัท ตัวอย่างการค้า {i} จำกัด"),
            )
        })
        .collect();
    let brands: Vec<String> = (0..2_000).map(|i| format!("BRAND{i}")).collect();
    let makers: Vec<String> = (0..5_000)
        .map(|i| format!("Example Manufacturing {i} Co., Ltd."))
        .collect();
    let cn = Country::parse("CN").expect("country");
    let licences = (0..n)
        .map(|i| {
            let (holder, name) = &importers[i % importers.len()];
            Licence {
                number: format!("IL-{:07}/{}", i, 2560 + i % 10),
                licence_type: if i % 10 == 0 {
                    LicenceType::Manufacture
                } else {
                    LicenceType::Import
                },
                holder: *holder,
                holder_name: name.clone(),
                standard: standards[i % standards.len()].reference.clone(),
                brands: vec![brands[i % brands.len()].clone()],
                models: vec![format!("M{i}-A"), format!("M{i}-B")],
                manufacturer: makers[i % makers.len()].clone(),
                manufacturer_country: cn,
                issued_on: day(2023, 1, 1),
                expires_on: day(2028, 12, 31),
                status: LicenceStatus::Active,
                status_since: day(2023, 1, 1),
            }
        })
        .collect();
    RefData {
        standards,
        licences,
        labs: Vec::new(),
        purposes: Vec::new(),
    }
}

/// A 5-item LICENSED request that passes rules 0–15 against [`synthetic_refdata`] (licences 3,
/// 20003, … share holder and standard TIS 1003-2560, inspection rate 0). Measurement support.
#[doc(hidden)]
pub fn synthetic_request(snap: &Snapshot) -> crate::domain::documents::ImportPermitRequest {
    use crate::domain::documents::{
        Function, GoodsItem, ImportPermitRequest, Importer, Invoice, Manufacturer, RequestType,
        Shipment, TransportMode,
    };
    use crate::domain::types::{Port, Quantity, ReferenceNumber};
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    let numbers: Vec<String> = (0..5)
        .map(|k| {
            let i = 3 + k * 20_000;
            format!("IL-{:07}/{}", i, 2560 + i % 10)
        })
        .collect();
    let first = snap.licence(&numbers[0]).expect("licence");
    let holder = first.holder();
    let items: Vec<GoodsItem> = numbers
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let l = snap.licence(n).expect("licence");
            assert_eq!(l.holder(), holder);
            GoodsItem {
                item_number: k as u16 + 1,
                invoice_item_number: k as u16 + 1,
                hs_code: HsCode::parse("85030010").expect("hs"),
                description: "มอเตอร์".into(),
                description_en: Some("Motor".into()),
                brand: l.brands().next().expect("brand").to_owned(),
                model: l.models().next().expect("model").to_owned(),
                manufacturer: Manufacturer {
                    name: l.manufacturer().to_owned(),
                    country: l.manufacturer_country(),
                },
                country_of_origin: Country::parse("CN").expect("country"),
                quantity: Quantity::parse("100", "C62").expect("quantity"),
                standard: Some(l.standard().reference.canonical()),
                licence_number: Some(n.clone()),
                special_purpose: None,
                test_report: None,
            }
        })
        .collect();
    ImportPermitRequest {
        reference: ReferenceNumber::parse("PO-BENCH-1").expect("reference"),
        function: Function::Original,
        request_type: RequestType::Licensed,
        importer: Importer {
            tax_number: holder.tax_number.to_string(),
            branch: holder.branch,
            name: "บริษัท ตัวอย่าง จำกัด".into(),
            name_en: None,
        },
        agent: None,
        shipment: Shipment {
            arrival_date: date("2026-12-15"),
            transport_mode: TransportMode::Sea,
            load_port: Port::parse("CNSHA").expect("port"),
            discharge_port: Port::parse("THLCH").expect("port"),
            country_of_destination: Country::TH,
        },
        invoice: Invoice {
            number: "INV-1".into(),
            date: date("2026-11-20"),
        },
        items,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::types::{Amount, Branch, TaxNumber};

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    pub(crate) fn sref(s: &str) -> StandardRef {
        StandardRef::parse(s).unwrap()
    }

    pub(crate) fn party(tax: &str, branch: &str) -> PartyKey {
        PartyKey {
            tax_number: TaxNumber::parse(tax).unwrap(),
            branch: Branch::parse(branch).unwrap(),
        }
    }

    pub(crate) fn standard(r: &str, prefixes: &[&str]) -> Standard {
        Standard {
            reference: sref(r),
            title_th: "ตัวอย่าง".into(),
            title_en: "Example".into(),
            compulsory: true,
            in_force_from: d("2013-06-01"),
            in_force_until: None,
            hs_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            inspection_rate: 0,
            test_report_required: false,
        }
    }

    pub(crate) fn licence(number: &str, std: &str, holder: PartyKey) -> Licence {
        Licence {
            number: number.into(),
            licence_type: LicenceType::Import,
            holder,
            holder_name: "บริษัท ตัวอย่าง จำกัด".into(),
            standard: sref(std),
            brands: vec!["ACME".into()],
            models: vec!["A-1".into(), "A-2".into()],
            manufacturer: "Example Works Ltd".into(),
            manufacturer_country: Country::parse("CN").unwrap(),
            issued_on: d("2024-01-01"),
            expires_on: d("2029-12-31"),
            status: LicenceStatus::Active,
            status_since: d("2024-01-01"),
        }
    }

    fn sample() -> RefData {
        let p = party("0105536112014", "00000");
        RefData {
            standards: vec![
                standard("TIS 2432-2555", &["85044090", "85044019"]),
                standard("TIS 166-2549", &["8536"]),
            ],
            licences: vec![
                licence("L-1", "TIS 2432-2555", p),
                licence("L-2", "TIS 166-2549", p),
            ],
            labs: vec![Lab {
                id: "LAB1".into(),
                name: "Example Lab".into(),
                standards: vec![sref("TIS 166-2549")],
                accredited_from: d("2020-01-01"),
                accredited_until: None,
                status: LabStatus::Active,
            }],
            purposes: vec![SpecialPurpose {
                code: "SAMPLE".into(),
                description_th: "ตัวอย่าง".into(),
                description_en: "Samples".into(),
                valid_from: d("2024-10-01"),
                valid_until: None,
                max_quantity_per_year: Some(Amount::from_milli(10_000)),
                officer_review: false,
                test_report_required: true,
            }],
        }
    }

    #[test]
    fn builds_and_indexes() {
        let data = sample();
        let snap = Snapshot::build(data.clone()).unwrap();
        assert_eq!(snap.licence_count(), 2);
        let l = snap.licence("L-1").unwrap();
        assert_eq!(l.to_licence(), data.licences[0]);
        assert_eq!(l.standard().reference.canonical(), "TIS 2432-2555");
        assert!(snap.licence("L-3").is_none());
        assert!(snap.standard(&sref("มอก. 166-2549")).is_some());
        assert!(snap.standard(&sref("TIS 166-2550")).is_none());
        assert!(snap.lab("LAB1").is_some());
        assert!(snap.purpose("SAMPLE").is_some());
        let hs = |s: &str| HsCode::parse(s).unwrap();
        assert!(snap.is_controlled(&hs("85044090"), d("2026-11-26")));
        assert!(snap.is_controlled(&hs("85366999001"), d("2026-11-26")));
        assert!(!snap.is_controlled(&hs("85044091"), d("2026-11-26")));
        assert!(!snap.is_controlled(&hs("85044090"), d("2013-05-31")));
        assert_eq!(
            snap.licences()
                .map(|l| l.number().to_owned())
                .collect::<Vec<_>>(),
            ["L-1", "L-2"]
        );
    }

    #[test]
    fn status_change_derives_a_new_snapshot() {
        let snap = Snapshot::build(sample()).unwrap();
        let next = snap
            .with_licence_status("L-2", LicenceStatus::Suspended, d("2026-11-26"))
            .unwrap();
        assert_eq!(snap.licence("L-2").unwrap().status(), LicenceStatus::Active);
        assert_eq!(
            next.licence("L-2").unwrap().status(),
            LicenceStatus::Suspended
        );
        assert_eq!(next.licence("L-2").unwrap().status_since(), d("2026-11-26"));
        assert_eq!(next.licence("L-1").unwrap().status(), LicenceStatus::Active);
        assert_eq!(
            snap.with_licence_status("NOPE", LicenceStatus::Revoked, d("2026-11-26"))
                .unwrap_err()
                .to_string(),
            "licence NOPE is not in the reference data"
        );
    }

    #[test]
    fn every_cross_reference_problem_is_reported() {
        let mut data = sample();
        let p = party("0105536112014", "00000");
        data.standards
            .push(standard("TIS 2432-2555", &["8504", "85X"]));
        data.licences.push(licence("L-1", "TIS 2432-2555", p));
        data.licences.push(licence("L-9", "TIS 9999-2560", p));
        data.labs[0].standards.push(sref("TIS 1-2500"));
        data.labs.push(data.labs[0].clone());
        data.purposes.push(data.purposes[0].clone());
        let errs: Vec<String> = Snapshot::build(data)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "standard TIS 2432-2555 is listed more than once",
                "standard TIS 2432-2555: HS prefix '85X' must be 2 to 11 digits",
                "licence L-1 is listed more than once",
                "licence L-9: standard TIS 9999-2560 is not in the standards list",
                "lab LAB1: standard TIS 1-2500 in its scope is not in the standards list",
                "lab LAB1 is listed more than once",
                "lab LAB1: standard TIS 1-2500 in its scope is not in the standards list",
                "special purpose SAMPLE is listed more than once",
            ]
        );
    }

    /// Everything a snapshot holds, as owned records (licences with their current status).
    pub(crate) fn contents(s: &Snapshot) -> RefData {
        RefData {
            standards: s.standards().to_vec(),
            licences: s.licences().map(|l| l.to_licence()).collect(),
            labs: s.labs().to_vec(),
            purposes: s.purposes().to_vec(),
        }
    }

    #[test]
    fn builder_fed_one_licence_at_a_time_equals_build() {
        let mut data = synthetic_refdata(3_000);
        let extra = sample();
        data.labs = extra.labs;
        data.purposes = extra.purposes;
        data.labs[0].standards = vec![data.standards[1].reference.clone()];
        // A licence without brand or model restriction, and one with several brands.
        data.licences[7].brands.clear();
        data.licences[7].models.clear();
        data.licences[8].brands = vec!["ONE".into(), "TWO".into(), "BRAND1".into()];

        let whole = Snapshot::build(data.clone()).unwrap();
        let borrowed = Snapshot::build_from(&data).unwrap();
        // No reservation: the tables grow as licences arrive.
        let mut b = SnapshotBuilder::new(data.standards.clone());
        for l in &data.licences {
            b.add_licence(l);
        }
        let streamed = b.finish(data.labs.clone(), data.purposes.clone()).unwrap();

        assert_eq!(contents(&whole), data);
        assert_eq!(contents(&borrowed), data);
        assert_eq!(contents(&streamed), data);
        for l in &data.licences {
            assert_eq!(streamed.licence(&l.number).unwrap().to_licence(), *l);
        }
        assert!(streamed.licence("IL-9999999/2560").is_none());
        let hs = HsCode::parse("85030010").unwrap();
        assert!(streamed.is_controlled(&hs, d("2026-11-26")));
        assert_eq!(
            streamed.controlling_standards(&hs, d("2026-11-26")).len(),
            whole.controlling_standards(&hs, d("2026-11-26")).len()
        );
    }

    #[test]
    fn builder_reports_what_build_reports() {
        let mut data = sample();
        let p = party("0105536112014", "00000");
        data.standards.push(standard("TIS 2432-2555", &["8504"]));
        data.licences.push(licence("L-1", "TIS 2432-2555", p));
        data.licences.push(licence("L-9", "TIS 9999-2560", p));
        data.licences.push(licence(" ", "TIS 2432-2555", p));
        let mut inverted = licence("L-3", "TIS 166-2549", p);
        inverted.expires_on = d("2023-12-31");
        data.licences.push(inverted);
        let mut b = SnapshotBuilder::new(data.standards.clone());
        b.reserve_licences(data.licences.len());
        for l in &data.licences {
            b.add_licence(l);
        }
        let streamed = b
            .finish(data.labs.clone(), data.purposes.clone())
            .unwrap_err();
        let whole = Snapshot::build(data).unwrap_err();
        assert_eq!(streamed, whole);
        assert_eq!(
            whole.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            [
                "standard TIS 2432-2555 is listed more than once",
                "licence L-1 is listed more than once",
                "licence L-9: standard TIS 9999-2560 is not in the standards list",
                "licence number must not be empty",
                "licence L-3: expires on 2023-12-31 before it was issued on 2024-01-01",
            ]
        );
    }

    #[test]
    fn snapshot_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Snapshot>();
    }
}

//! Request generation from the reference-data model: ImportPermitRequests with a chosen mix of
//! outcomes, each with the decision the contract (spec §6) requires for it — known by
//! construction, from the records the generator picked.
//!
//! Every rejected request fails exactly one rule on one goods item (its other items are
//! approvable); the rejection reasons cycle through every reason code of §6, so a run of a few
//! dozen rejections covers them all.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use nsw_gateway::domain::engine::inspection_selected;
use nsw_gateway::domain::{
    Amount, Country, Function, GoodsItem, HsCode, ImportPermitRequest, Importer, Invoice,
    ItemResult, ItemStatus, Manufacturer, Port, Quantity, ReasonCode, ReferenceNumber,
    RequestDecision, RequestType, Shipment, StandardRef, TestReport, TransportMode, UnitCode,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::model::{GenLicence, Holder, LicenceKind, Model, PurposeRole, StandardRole};
use super::pools;

/// Shares of each outcome class, in parts (they need not add up to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub approve: u32,
    pub reject: u32,
    pub review: u32,
    pub inspect: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            approve: 70,
            reject: 20,
            review: 5,
            inspect: 5,
        }
    }
}

impl Mix {
    /// Parses `approve=70,reject=20,review=5,inspect=5`; classes left out get 0.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut m = Mix {
            approve: 0,
            reject: 0,
            review: 0,
            inspect: 0,
        };
        let mut errors = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                errors.push(format!("'{part}' must be class=weight"));
                continue;
            };
            let v = match v.trim().trim_end_matches('%').parse::<u32>() {
                Ok(v) => v,
                Err(_) => {
                    errors.push(format!("weight '{v}' of '{k}' is not a whole number"));
                    continue;
                }
            };
            match k.trim() {
                "approve" => m.approve = v,
                "reject" => m.reject = v,
                "review" => m.review = v,
                "inspect" => m.inspect = v,
                other => errors.push(format!(
                    "unknown class '{other}' (classes: approve, reject, review, inspect)"
                )),
            }
        }
        if errors.is_empty() && m.total() == 0 {
            errors.push("the weights add up to 0".into());
        }
        if errors.is_empty() {
            Ok(m)
        } else {
            Err(format!("--mix '{s}': {}", errors.join("; ")))
        }
    }

    fn total(&self) -> u32 {
        self.approve + self.reject + self.review + self.inspect
    }
}

/// The outcome class a request was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Approve,
    Reject(ReasonCode),
    Review,
    Inspect,
}

/// The §6 reason codes that reject an item, in the order rejected requests cycle through them.
pub const REJECT_REASONS: [ReasonCode; 17] = [
    ReasonCode::ImporterTaxNumberInvalid,
    ReasonCode::StandardUnknown,
    ReasonCode::StandardNotInForce,
    ReasonCode::StandardHsMismatch,
    ReasonCode::LicenceRequired,
    ReasonCode::LicenceNotFound,
    ReasonCode::LicenceTypeInvalid,
    ReasonCode::LicenceHolderMismatch,
    ReasonCode::LicenceStandardMismatch,
    ReasonCode::LicenceSuspended,
    ReasonCode::LicenceRevoked,
    ReasonCode::LicenceNotValid,
    ReasonCode::LicenceProductMismatch,
    ReasonCode::SpecialPurposeNotAllowed,
    ReasonCode::SpecialQuantityExceeded,
    ReasonCode::TestReportRequired,
    ReasonCode::LabNotAccredited,
];

/// What the contract requires for one goods item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedItem {
    pub status: ItemStatus,
    /// Reason codes that must be given.
    pub reasons: Vec<ReasonCode>,
    /// Reason codes that may be given as well: consequences of the same fault that another
    /// rule also catches (an importer with a bad tax number is not the licence holder, say).
    pub tolerated: Vec<ReasonCode>,
}

impl ExpectedItem {
    fn ok(status: ItemStatus) -> Self {
        Self {
            status,
            reasons: Vec::new(),
            tolerated: Vec::new(),
        }
    }

    fn with(status: ItemStatus, reason: ReasonCode, tolerated: &[ReasonCode]) -> Self {
        Self {
            status,
            reasons: vec![reason],
            tolerated: tolerated.to_vec(),
        }
    }
}

/// What the contract requires for a whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDecision {
    pub decision: RequestDecision,
    pub items: Vec<ExpectedItem>,
}

/// One difference between an answer and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ExpectedDecision {
    /// Compares an answer (decision and item results, in request order) with this expectation;
    /// every difference is listed.
    pub fn compare(&self, decision: RequestDecision, items: &[ItemResult]) -> Result<(), Mismatch> {
        let mut diffs = Vec::new();
        if decision != self.decision {
            diffs.push(format!(
                "decision: want {}, got {}",
                self.decision.code(),
                decision.code()
            ));
        }
        if items.len() != self.items.len() {
            diffs.push(format!(
                "items: want {}, got {}",
                self.items.len(),
                items.len()
            ));
        }
        for (i, (want, got)) in self.items.iter().zip(items).enumerate() {
            let n = i + 1;
            if got.item_number as usize != n {
                diffs.push(format!("item {n}: answered as item {}", got.item_number));
            }
            if got.status != want.status {
                diffs.push(format!(
                    "item {n}: status want {}, got {}",
                    want.status.code(),
                    got.status.code()
                ));
            }
            let codes: HashSet<ReasonCode> = got.reasons.iter().map(|r| r.code).collect();
            for r in &want.reasons {
                if !codes.contains(r) {
                    diffs.push(format!("item {n}: reason {} missing", r.code()));
                }
            }
            for c in &codes {
                if !want.reasons.contains(c) && !want.tolerated.contains(c) {
                    diffs.push(format!("item {n}: unexpected reason {}", c.code()));
                }
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(Mismatch(diffs.join("; ")))
        }
    }
}

/// A generated ImportPermitRequest with what it must get.
#[derive(Debug, Clone)]
pub struct GeneratedPermit {
    pub request: ImportPermitRequest,
    pub expected: ExpectedDecision,
    pub outcome: Outcome,
    /// Send the payload in a Thai single-byte encoding (TIS-620) instead of UTF-8.
    pub tis620: bool,
    /// Send it inline in the SOAP body (packaging B) instead of as a MIME part (packaging A).
    pub inline: bool,
}

/// Generates requests from a model, deterministically for a seed.
pub struct RequestGen {
    model: Arc<Model>,
    /// Part of every reference number, so that runs do not reuse each other's references.
    tag: String,
    rng: ChaCha8Rng,
    mix: Mix,
    serial: u64,
    rejects: usize,
    /// Goods items of approvable, inspected and referred requests, when fixed.
    items: Option<usize>,
    /// Standards usable for approvable special-import items: current, rate 0, no report.
    plain_standards: Vec<usize>,
}

/// An HS code under `prefix`: 8 digits, one in five with the 3 statistical digits.
fn hs_under(prefix: &str, rng: &mut ChaCha8Rng) -> HsCode {
    let mut s = prefix.to_owned();
    while s.len() < 8 {
        s.push(char::from(b'0' + rng.gen_range(0..10)));
    }
    if rng.gen_bool(0.2) {
        for _ in 0..3 {
            s.push(char::from(b'0' + rng.gen_range(0..10)));
        }
    }
    HsCode::parse(&s).expect("generated HS code has 8 or 11 digits")
}

impl RequestGen {
    pub fn new(model: Arc<Model>, seed: u64, mix: Mix) -> Self {
        let plain_standards = model.standards_where(|s| {
            s.role == StandardRole::Current && s.inspection_rate == 0 && !s.test_report_required
        });
        Self {
            tag: format!("S{seed}"),
            model,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_F4E9_u64),
            mix,
            serial: 0,
            rejects: 0,
            items: None,
            plain_standards,
        }
    }

    /// Approvable, inspected and referred requests carry exactly `n` goods items (at least 1;
    /// rejected requests keep their own 1–6). Without it they carry 1–20 (licensed), 1–6
    /// (special import), 1–4 (referred) and 1–7 (inspected).
    pub fn with_items(mut self, n: usize) -> Self {
        self.items = Some(n.max(1));
        self
    }

    /// `range`, or exactly the fixed number of items less `extra` added by the caller.
    fn count(
        &self,
        range: std::ops::RangeInclusive<usize>,
        extra: usize,
    ) -> std::ops::RangeInclusive<usize> {
        match self.items {
            Some(n) => {
                let n = n.saturating_sub(extra);
                n..=n
            }
            None => range,
        }
    }

    /// Uses `tag` in reference numbers (`PO-{tag}-{serial}`); by default it is `S{seed}`. The
    /// gateway remembers references across runs, so each run needs its own (at most 18
    /// characters).
    pub fn with_tag(mut self, tag: &str) -> Self {
        self.tag = tag.chars().take(18).collect();
        self
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// The next request, its class drawn from the mix.
    pub fn next_permit(&mut self) -> GeneratedPermit {
        let m = self.mix;
        let r = self.rng.gen_range(0..m.total());
        let outcome = if r < m.approve {
            Outcome::Approve
        } else if r < m.approve + m.reject {
            let code = REJECT_REASONS[self.rejects % REJECT_REASONS.len()];
            self.rejects += 1;
            Outcome::Reject(code)
        } else if r < m.approve + m.reject + m.review {
            Outcome::Review
        } else {
            Outcome::Inspect
        };
        self.permit_for(outcome)
    }

    /// A request built to get `outcome`.
    pub fn permit_for(&mut self, outcome: Outcome) -> GeneratedPermit {
        self.serial += 1;
        let today = self.model.today;
        let arrival = today + Duration::days(self.rng.gen_range(3..45));
        let mut b = Builder {
            items: Vec::new(),
            expected: Vec::new(),
            rates: Vec::new(),
        };
        let (holder, request_type, importer_tax) = match outcome {
            Outcome::Approve if self.rng.gen_bool(0.85) => {
                let n = self.count(1..=20, 0);
                let h = self.licensed_items(&mut b, None, n, true);
                (h, RequestType::Licensed, None)
            }
            Outcome::Approve => {
                let h = self.any_holder();
                let p = self.purpose(PurposeRole::Open);
                let n = self.count(1..=6, 0);
                self.special_items(&mut b, p, n, ItemStatus::Approved, None);
                (h, RequestType::Special, None)
            }
            Outcome::Review => {
                let h = self.any_holder();
                let p = self.purpose(PurposeRole::Review);
                let n = self.count(1..=4, 0);
                self.special_items(
                    &mut b,
                    p,
                    n,
                    ItemStatus::UnderReview,
                    Some(ReasonCode::OfficerReview),
                );
                (h, RequestType::Special, None)
            }
            Outcome::Inspect => {
                let model = self.model.clone();
                let l = self.pick(&model.index.valid_inspect);
                let h = self.model.licences[l].holder as usize;
                let n = self.count(0..=6, 1);
                self.licensed_items(&mut b, Some(h), n, true);
                let item = self.licensed_item(l);
                b.insert_random(
                    &mut self.rng,
                    item,
                    ExpectedItem::with(
                        ItemStatus::HoldForInspection,
                        ReasonCode::InspectionSelected,
                        &[],
                    ),
                );
                (h, RequestType::Licensed, None)
            }
            Outcome::Reject(code) => self.reject(code, &mut b),
        };
        let key = self.model.holders[holder].key;
        let mut name = String::new();
        Holder::name_th(holder, &mut name);
        let mut name_en = String::new();
        Holder::name_en(holder, &mut name_en);
        let tax = importer_tax.unwrap_or_else(|| key.tax_number.to_string());
        let load = *pools::PORTS_LOAD.choose(&mut self.rng).expect("non-empty");
        let discharge = *pools::PORTS_DISCHARGE
            .choose(&mut self.rng)
            .expect("non-empty");
        let mode = [
            TransportMode::Sea,
            TransportMode::Sea,
            TransportMode::Air,
            TransportMode::Road,
        ][self.rng.gen_range(0..4)];
        for (i, it) in b.items.iter_mut().enumerate() {
            it.item_number = (i + 1) as u16;
            it.invoice_item_number = (i + 1) as u16;
        }
        let reference = ReferenceNumber::parse(&format!("PO-{}-{:08}", self.tag, self.serial))
            .expect("short reference");
        b.draw_inspections(&tax, key.branch, reference.as_str());
        let items_expected: Vec<ExpectedItem> = b.expected;
        let decision = RequestDecision::aggregate(items_expected.iter().map(|e| e.status));
        let request = ImportPermitRequest {
            reference,
            function: Function::Original,
            request_type,
            importer: Importer {
                tax_number: tax,
                branch: key.branch,
                name,
                name_en: self.rng.gen_bool(0.5).then_some(name_en),
            },
            agent: None,
            shipment: Shipment {
                arrival_date: arrival,
                transport_mode: mode,
                load_port: Port::parse(load).expect("pool port"),
                discharge_port: Port::parse(discharge).expect("pool port"),
                country_of_destination: Country::TH,
            },
            invoice: Invoice {
                number: format!(
                    "INV-{}-{:06}",
                    arrival.format("%y%m"),
                    self.serial % 1_000_000
                ),
                date: today - Duration::days(self.rng.gen_range(1..30)),
            },
            items: b.items,
        };
        GeneratedPermit {
            request,
            expected: ExpectedDecision {
                decision,
                items: items_expected,
            },
            outcome,
            tis620: self.rng.gen_bool(0.1),
            inline: self.rng.gen_bool(0.5),
        }
    }

    fn pick(&mut self, list: &[u32]) -> usize {
        assert!(
            !list.is_empty(),
            "the model has no licence of the kind needed"
        );
        list[self.rng.gen_range(0..list.len())] as usize
    }

    fn any_holder(&mut self) -> usize {
        self.rng.gen_range(0..self.model.holders.len())
    }

    /// A purpose of the given role (one of them at random).
    fn purpose(&mut self, role: PurposeRole) -> usize {
        let all: Vec<usize> = (0..self.model.purposes.len())
            .filter(|&p| self.model.purposes[p].role == role)
            .collect();
        assert!(!all.is_empty(), "every purpose role is generated");
        all[self.rng.gen_range(0..all.len())]
    }

    /// A valid licence on a standard whose inspection rate is below 100 (its items are
    /// approved, or held when the inspection draw selects them).
    fn is_approvable(&self, l: usize) -> bool {
        let lic = &self.model.licences[l];
        let s = &self.model.standards[lic.standard as usize];
        lic.kind == LicenceKind::Valid && s.inspection_rate < 100
    }

    /// Adds approvable licensed items of one holder (`holder`, or the holder of a random plain
    /// valid licence); returns the holder. Items on test-report standards carry a report from an
    /// accredited lab; one item in ten is goods that need no permit.
    fn licensed_items(
        &mut self,
        b: &mut Builder,
        holder: Option<usize>,
        count: std::ops::RangeInclusive<usize>,
        free_goods: bool,
    ) -> usize {
        let holder = match holder {
            Some(h) => h,
            None => {
                // The model's `Arc`, not the list: with 1M licences the list is megabytes.
                let model = self.model.clone();
                let l = self.pick(&model.index.valid_plain);
                self.model.licences[l].holder as usize
            }
        };
        let own: Vec<usize> = self
            .model
            .licences_of(holder)
            .iter()
            .map(|&l| l as usize)
            .filter(|&l| self.is_approvable(l))
            .collect();
        let n = self.rng.gen_range(count);
        for _ in 0..n {
            if own.is_empty() || (free_goods && self.rng.gen_bool(0.1)) {
                if !free_goods {
                    break;
                }
                let item = self.free_item();
                b.push(item, ExpectedItem::ok(ItemStatus::NotRequired));
                continue;
            }
            let l = own[self.rng.gen_range(0..own.len())];
            let item = self.licensed_item(l);
            let rate =
                self.model.standards[self.model.licences[l].standard as usize].inspection_rate;
            b.push(item, ExpectedItem::ok(ItemStatus::Approved));
            *b.rates.last_mut().expect("just pushed") = rate;
        }
        holder
    }

    /// A goods item that matches licence `l` in every respect (HS code under its standard,
    /// standard as people write it, brand, model, manufacturer), with a test report from an
    /// accredited lab when the standard needs one.
    fn licensed_item(&mut self, l: usize) -> GoodsItem {
        let lic = self.model.licences[l];
        let s = lic.standard as usize;
        let mut item = self.item_for_standard(s);
        item.standard = Some(self.write_standard(&self.model.standards[s].reference.clone()));
        item.licence_number = Some(lic.number(l));
        self.product_of(&lic, &mut item);
        if self.model.standards[s].test_report_required {
            item.test_report = Some(self.good_report(s));
        }
        item
    }

    fn product_of(&mut self, lic: &GenLicence, item: &mut GoodsItem) {
        item.brand = lic
            .brand(self.rng.gen_range(0..lic.brand_count()))
            .to_owned();
        item.model = lic.model(self.rng.gen_range(0..lic.model_count()));
        item.manufacturer = Manufacturer {
            name: lic.manufacturer(),
            country: Country::parse(lic.manufacturer_country()).expect("pool country"),
        };
        item.country_of_origin = item.manufacturer.country;
        let th = pools::PRODUCTS[self.model.standards[lic.standard as usize].product].1;
        item.description = format!("{th} ยี่ห้อ {} รุ่น {}", item.brand, item.model);
    }

    /// A test report from a lab accredited for standard `s`, issued recently.
    fn good_report(&mut self, s: usize) -> TestReport {
        let issue = self.model.today - Duration::days(self.rng.gen_range(10..200));
        let labs: Vec<usize> = (0..self.model.labs.len())
            .filter(|&j| self.model.labs[j].accredited_for(s, issue))
            .collect();
        let j = labs[self.rng.gen_range(0..labs.len())];
        TestReport {
            lab_id: self.model.labs[j].id.clone(),
            report_number: format!(
                "TR-{}-{:06}",
                issue.format("%Y"),
                self.rng.gen_range(1..999_999)
            ),
            issue_date: issue,
        }
    }

    /// An item under standard `s` (HS code, description, quantity); no licence or product yet.
    fn item_for_standard(&mut self, s: usize) -> GoodsItem {
        let st = &self.model.standards[s];
        let prefix = st.hs_prefixes[self.rng.gen_range(0..st.hs_prefixes.len())].clone();
        let (en, th) = pools::PRODUCTS[st.product];
        let hs = hs_under(&prefix, &mut self.rng);
        self.item(hs, th, en)
    }

    fn item(&mut self, hs: HsCode, th: &str, en: &str) -> GoodsItem {
        let (unit, amount) = match self.rng.gen_range(0..10) {
            0 => (
                "KGM",
                Amount::from_milli(self.rng.gen_range(1_000..5_000_000)),
            ),
            1 => (
                "MTR",
                Amount::from_milli(self.rng.gen_range(1..5_000) * 1000),
            ),
            2 => ("SET", Amount::from_milli(self.rng.gen_range(1..200) * 1000)),
            _ => (
                "C62",
                Amount::from_milli(self.rng.gen_range(1..5_000) * 1000),
            ),
        };
        let brand = pools::BRANDS[self.rng.gen_range(0..pools::BRANDS.len())];
        let (place, country) = pools::MFR_PLACES[self.rng.gen_range(0..pools::MFR_PLACES.len())];
        GoodsItem {
            item_number: 0,
            invoice_item_number: 0,
            hs_code: hs,
            description: th.to_owned(),
            description_en: self.rng.gen_bool(0.7).then(|| en.to_owned()),
            brand: brand.to_owned(),
            model: format!("M-{}", self.rng.gen_range(100..999)),
            manufacturer: Manufacturer {
                name: format!(
                    "{place} {} Co., Ltd.",
                    pools::MFR_WORDS[self.rng.gen_range(0..pools::MFR_WORDS.len())]
                ),
                country: Country::parse(country).expect("pool country"),
            },
            country_of_origin: Country::parse(country).expect("pool country"),
            quantity: Quantity {
                amount,
                unit: UnitCode::parse(unit).expect("unit"),
            },
            standard: None,
            licence_number: None,
            special_purpose: None,
            test_report: None,
        }
    }

    /// Goods that no compulsory standard covers.
    fn free_item(&mut self) -> GoodsItem {
        let ch = pools::FREE_CHAPTERS[self.rng.gen_range(0..pools::FREE_CHAPTERS.len())];
        let hs = hs_under(ch, &mut self.rng);
        let (en, th) = pools::FREE_GOODS[self.rng.gen_range(0..pools::FREE_GOODS.len())];
        self.item(hs, th, en)
    }

    /// The standard as people write it: canonical, Thai, or with a CE edition year.
    fn write_standard(&mut self, r: &StandardRef) -> String {
        let part_th =
            |p: &Option<String>| p.as_ref().map(|p| format!(" เล่ม {p}")).unwrap_or_default();
        let part_en =
            |p: &Option<String>| p.as_ref().map(|p| format!(" Part {p}")).unwrap_or_default();
        match self.rng.gen_range(0..6) {
            0 | 1 => r.canonical(),
            2 => format!("มอก. {}{}-{}", r.number, part_th(&r.part), r.edition_be),
            3 => format!("มอก.{}{}-{}", r.number, part_th(&r.part), r.edition_be),
            4 => format!(
                "TIS {}{}-{}",
                r.number,
                part_en(&r.part),
                i32::from(r.edition_be) - 543
            ),
            _ => format!("TIS {}{}-{}", r.number, part_en(&r.part), r.edition_be),
        }
    }

    /// Special-import items under approvable standards with purpose `p`.
    fn special_items(
        &mut self,
        b: &mut Builder,
        p: usize,
        count: std::ops::RangeInclusive<usize>,
        status: ItemStatus,
        reason: Option<ReasonCode>,
    ) {
        let n = self.rng.gen_range(count);
        for _ in 0..n {
            let item = self.special_item(p);
            let e = match reason {
                Some(r) => ExpectedItem::with(status, r, &[]),
                None => ExpectedItem::ok(status),
            };
            b.push(item, e);
        }
    }

    fn special_item(&mut self, p: usize) -> GoodsItem {
        let s = self.plain_standards[self.rng.gen_range(0..self.plain_standards.len())];
        let mut item = self.item_for_standard(s);
        item.standard = Some(self.write_standard(&self.model.standards[s].reference.clone()));
        item.special_purpose = Some(self.model.purposes[p].code.clone());
        // Small, not-for-sale quantities.
        item.quantity = Quantity {
            amount: Amount::from_milli(self.rng.gen_range(1..=5) * 1000),
            unit: UnitCode::parse("C62").expect("unit"),
        };
        item
    }

    /// A rejected request: one item fails the rule of `code`; the others (if any) are
    /// approvable. Returns (holder, request type, importer tax number override).
    fn reject(
        &mut self,
        code: ReasonCode,
        b: &mut Builder,
    ) -> (usize, RequestType, Option<String>) {
        use ReasonCode as R;
        let rej = ItemStatus::Rejected;
        let model = self.model.clone();
        match code {
            R::SpecialPurposeNotAllowed | R::SpecialQuantityExceeded => {
                let h = self.any_holder();
                let open = self.purpose(PurposeRole::Open);
                self.special_items(b, open, 0..=3, ItemStatus::Approved, None);
                let item = if code == R::SpecialPurposeNotAllowed {
                    let mut it = self.special_item(open);
                    it.special_purpose = Some(if self.rng.gen_bool(0.5) {
                        model.purposes[self.purpose(PurposeRole::Closed)]
                            .code
                            .clone()
                    } else {
                        "NOSUCHPURPOSE".to_owned()
                    });
                    it
                } else {
                    let capped = self.purpose(PurposeRole::Capped);
                    let cap = model.purposes[capped]
                        .max_quantity_per_year
                        .expect("capped")
                        .milli();
                    let mut it = self.special_item(capped);
                    it.quantity.amount = Amount::from_milli(cap + 1000 * self.rng.gen_range(1..20));
                    it
                };
                b.insert_random(&mut self.rng, item, ExpectedItem::with(rej, code, &[]));
                return (h, RequestType::Special, None);
            }
            R::ImporterTaxNumberInvalid => {
                let h = self.licensed_items(b, None, 1..=5, false);
                for e in &mut b.expected {
                    *e = ExpectedItem::with(rej, code, &[R::LicenceHolderMismatch]);
                }
                let good = model.holders[h].key.tax_number.to_string();
                let last = good.as_bytes()[12] - b'0';
                let bad = format!("{}{}", &good[..12], (last + 1) % 10);
                return (h, RequestType::Licensed, Some(bad));
            }
            _ => {}
        }
        // Licensed rejections: pick the licence the failing item rests on, and its holder as
        // the importer (except for a holder mismatch).
        let (lic, importer) = match code {
            R::StandardNotInForce => {
                let l = self.pick(model.of_kind(LicenceKind::OldEdition));
                (l, model.licences[l].holder as usize)
            }
            R::LicenceTypeInvalid => {
                let l = self.pick(model.of_kind(LicenceKind::Manufacture));
                (l, model.licences[l].holder as usize)
            }
            R::LicenceSuspended => {
                let l = self.pick(model.of_kind(LicenceKind::Suspended));
                (l, model.licences[l].holder as usize)
            }
            R::LicenceRevoked => {
                let l = self.pick(model.of_kind(LicenceKind::Revoked));
                (l, model.licences[l].holder as usize)
            }
            R::LicenceNotValid => {
                let kind = if self.rng.gen_bool(0.7) {
                    LicenceKind::Expired
                } else {
                    LicenceKind::NotYetValid
                };
                let l = self.pick(model.of_kind(kind));
                (l, model.licences[l].holder as usize)
            }
            R::TestReportRequired | R::LabNotAccredited => {
                let l = self.pick(&model.index.valid_report);
                (l, model.licences[l].holder as usize)
            }
            R::LicenceHolderMismatch => {
                let l = self.pick(&model.index.valid_plain);
                let holder = model.licences[l].holder as usize;
                let n = model.holders.len();
                let other = (holder + 1 + self.rng.gen_range(0..n - 1)) % n;
                (l, other)
            }
            _ => {
                let l = self.pick(&model.index.valid_plain);
                (l, model.licences[l].holder as usize)
            }
        };
        self.licensed_items(b, Some(importer), 0..=5, true);
        let mut item = self.licensed_item(lic);
        let s = model.licences[lic].standard as usize;
        let mut tolerated: Vec<ReasonCode> = Vec::new();
        if model.standards[s].inspection_rate > 0 {
            // A rejected item may or may not also be drawn for inspection.
            tolerated.push(R::InspectionSelected);
        }
        match code {
            R::StandardUnknown => {
                item.standard = match self.rng.gen_range(0..3) {
                    0 => None,
                    1 => Some("TIS 99999-2560".to_owned()),
                    _ => Some("ISO 9001-2015".to_owned()),
                };
                tolerated.push(R::LicenceStandardMismatch);
            }
            R::StandardHsMismatch => {
                let other = self.other_plain_standard(s);
                let p = model.standards[other].hs_prefixes[0].clone();
                item.hs_code = hs_under(&p, &mut self.rng);
            }
            R::LicenceRequired => {
                item.licence_number = None;
                tolerated.push(R::LicenceNotFound);
            }
            R::LicenceNotFound => {
                item.licence_number =
                    Some(format!("L2500-{:07}", self.rng.gen_range(1..9_999_999)));
            }
            R::LicenceStandardMismatch => {
                let other = self.other_plain_standard(s);
                let fresh = self.item_for_standard(other);
                item.hs_code = fresh.hs_code;
                item.standard =
                    Some(self.write_standard(&model.standards[other].reference.clone()));
            }
            R::LicenceProductMismatch => match self.rng.gen_range(0..3) {
                0 => item.brand = "Unlisted Brand".to_owned(),
                1 => item.model = "ZZ-0000".to_owned(),
                _ => item.manufacturer.name = "Unlisted Works Co., Ltd.".to_owned(),
            },
            R::TestReportRequired => item.test_report = None,
            R::LabNotAccredited => {
                let mut r = self.good_report(s);
                let bad = (0..model.labs.len())
                    .filter(|&j| !model.labs[j].accredited_for(s, r.issue_date))
                    .collect::<Vec<_>>();
                r.lab_id = model.labs[bad[self.rng.gen_range(0..bad.len())]].id.clone();
                item.test_report = Some(r);
            }
            _ => {}
        }
        b.insert_random(
            &mut self.rng,
            item,
            ExpectedItem::with(rej, code, &tolerated),
        );
        (importer, RequestType::Licensed, None)
    }

    fn other_plain_standard(&mut self, s: usize) -> usize {
        loop {
            let o = self.plain_standards[self.rng.gen_range(0..self.plain_standards.len())];
            if !self.model.standards[o]
                .reference
                .same_standard(&self.model.standards[s].reference)
            {
                return o;
            }
        }
    }
}

struct Builder {
    items: Vec<GoodsItem>,
    expected: Vec<ExpectedItem>,
    /// Per item, the inspection rate to draw with when it is otherwise approved (0: none).
    rates: Vec<u8>,
}

impl Builder {
    fn push(&mut self, item: GoodsItem, e: ExpectedItem) {
        self.items.push(item);
        self.expected.push(e);
        self.rates.push(0);
    }

    fn insert_random(&mut self, rng: &mut ChaCha8Rng, item: GoodsItem, e: ExpectedItem) {
        let at = rng.gen_range(0..=self.items.len());
        self.items.insert(at, item);
        self.expected.insert(at, e);
        self.rates.insert(at, 0);
    }

    /// Rule 16 for approved items on standards with a rate between 0 and 100: the gateway's
    /// published inspection draw over (importer, reference, item number) decides.
    fn draw_inspections(
        &mut self,
        tax: &str,
        branch: nsw_gateway::domain::Branch,
        reference: &str,
    ) {
        for ((item, e), &rate) in self.items.iter().zip(&mut self.expected).zip(&self.rates) {
            if rate > 0
                && e.status == ItemStatus::Approved
                && inspection_selected(tax, branch, reference, item.item_number, rate)
            {
                *e = ExpectedItem::with(
                    ItemStatus::HoldForInspection,
                    ReasonCode::InspectionSelected,
                    &[],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::NaiveDate;
    use nsw_gateway::domain::TaxNumber;

    use super::*;
    use crate::gen::GenConfig;

    fn model() -> Arc<Model> {
        Arc::new(Model::generate(&GenConfig {
            licences: 2000,
            seed: 11,
            today: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        }))
    }

    /// A model with too few licences says why instead of panicking when requests are made.
    #[test]
    fn a_model_too_small_to_make_requests_says_so() {
        let of = |licences| {
            Model::generate(&GenConfig {
                licences,
                seed: 11,
                today: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            })
            .unusable()
        };
        let why = of(0).unwrap_or_default();
        assert!(why.contains("none of the kinds Valid"), "{why}");
        assert!(of(5).is_some());
        assert_eq!(model().unusable(), None);
    }

    #[test]
    fn fixed_item_count() {
        let mut g = RequestGen::new(model(), 3, Mix::default()).with_items(5);
        for outcome in [Outcome::Approve, Outcome::Review, Outcome::Inspect] {
            for _ in 0..20 {
                let p = g.permit_for(outcome);
                assert_eq!(p.request.items.len(), 5, "{outcome:?}");
                assert_eq!(p.expected.items.len(), 5, "{outcome:?}");
            }
        }
    }

    #[test]
    fn mix_parsing() {
        let check = |s: &str, want: Result<Mix, &str>| match (Mix::parse(s), want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{s}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{s}: {e}"),
            (g, w) => panic!("{s}: got {g:?}, want {w:?}"),
        };
        check(
            "approve=70,reject=20,review=5,inspect=5",
            Ok(Mix::default()),
        );
        check(
            "approve=1",
            Ok(Mix {
                approve: 1,
                reject: 0,
                review: 0,
                inspect: 0,
            }),
        );
        check(
            "reject=50%, inspect=50%",
            Ok(Mix {
                approve: 0,
                reject: 50,
                review: 0,
                inspect: 50,
            }),
        );
        check("approve=0", Err("add up to 0"));
        check("approve", Err("must be class=weight"));
        check("approve=x", Err("weight 'x' of 'approve'"));
        check("accept=3", Err("unknown class 'accept'"));
    }

    #[test]
    fn same_seed_same_requests() {
        let m = model();
        let mut a = RequestGen::new(m.clone(), 5, Mix::default());
        let mut b = RequestGen::new(m.clone(), 5, Mix::default());
        let mut c = RequestGen::new(m, 6, Mix::default());
        let (mut same, mut differ) = (true, false);
        for _ in 0..300 {
            let (x, y, z) = (a.next_permit(), b.next_permit(), c.next_permit());
            same &= format!("{x:?}") == format!("{y:?}");
            differ |= format!("{x:?}") != format!("{z:?}");
        }
        assert!(same && differ);
    }

    #[test]
    fn requests_are_well_formed_and_cover_every_reason() {
        let m = model();
        let mut g = RequestGen::new(m, 1, Mix::default());
        let mut reasons = HashSet::new();
        let mut outcomes = HashSet::new();
        let mut refs = HashSet::new();
        let (mut tis, mut inline, mut held_by_draw) = (0, 0, 0);
        for _ in 0..2000 {
            let p = g.next_permit();
            let r = &p.request;
            assert!((1..=20).contains(&r.items.len()), "{} items", r.items.len());
            assert_eq!(r.items.len(), p.expected.items.len());
            assert!(refs.insert(r.reference.clone()), "reference reused");
            for (i, it) in r.items.iter().enumerate() {
                assert_eq!(it.item_number as usize, i + 1);
                assert!(!it.description.is_empty());
            }
            let tax_ok = TaxNumber::parse(&r.importer.tax_number).is_ok();
            assert_eq!(
                tax_ok,
                p.outcome != Outcome::Reject(ReasonCode::ImporterTaxNumberInvalid)
            );
            assert_eq!(
                p.expected.decision,
                RequestDecision::aggregate(p.expected.items.iter().map(|e| e.status))
            );
            let want = match p.outcome {
                Outcome::Approve => RequestDecision::Approved,
                Outcome::Reject(_) => RequestDecision::Rejected,
                Outcome::Review => RequestDecision::UnderReview,
                Outcome::Inspect => RequestDecision::HoldForInspection,
            };
            // An approvable request may hold only goods that need no permit, or have items
            // the inspection draw selects.
            let drawn = p.outcome == Outcome::Approve
                && p.expected.decision == RequestDecision::HoldForInspection;
            held_by_draw += usize::from(drawn);
            assert!(
                p.expected.decision == want
                    || drawn
                    || (want == RequestDecision::Approved
                        && p.expected.decision == RequestDecision::NotRequired),
                "{:?} expected {:?}",
                p.outcome,
                p.expected.decision
            );
            outcomes.insert(format!("{:?}", want));
            for e in &p.expected.items {
                reasons.extend(e.reasons.iter().copied());
            }
            tis += usize::from(p.tis620);
            inline += usize::from(p.inline);
        }
        for r in REJECT_REASONS
            .iter()
            .chain(&[ReasonCode::OfficerReview, ReasonCode::InspectionSelected])
        {
            assert!(reasons.contains(r), "no request for {}", r.code());
        }
        assert_eq!(outcomes.len(), 4);
        assert!(
            held_by_draw > 0,
            "no approvable request was drawn for inspection"
        );
        assert!(tis > 100 && tis < 400, "tis-620 {tis}");
        assert!(inline > 800 && inline < 1200, "inline {inline}");
    }

    fn result(n: u16, status: ItemStatus, codes: &[ReasonCode]) -> ItemResult {
        ItemResult {
            item_number: n,
            invoice_item_number: n,
            hs_code: HsCode::parse("85044090").unwrap(),
            country_of_origin: Country::TH,
            status,
            standard: None,
            approved_quantity: None,
            reasons: codes
                .iter()
                .map(|c| nsw_gateway::domain::Reason {
                    code: *c,
                    field: String::new(),
                    message_th: String::new(),
                    message_en: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn comparison_names_every_difference() {
        use ItemStatus::*;
        use ReasonCode as R;
        let want = ExpectedDecision {
            decision: RequestDecision::Rejected,
            items: vec![
                ExpectedItem::ok(Approved),
                ExpectedItem::with(Rejected, R::LicenceRevoked, &[R::InspectionSelected]),
            ],
        };
        let check = |decision, items: Vec<ItemResult>, expected: &str| {
            let got = match want.compare(decision, &items) {
                Ok(()) => "ok".to_owned(),
                Err(m) => m.0,
            };
            assert_eq!(got, expected);
        };
        check(
            RequestDecision::Rejected,
            vec![
                result(1, Approved, &[]),
                result(2, Rejected, &[R::LicenceRevoked]),
            ],
            "ok",
        );
        check(
            RequestDecision::Rejected,
            vec![
                result(1, Approved, &[]),
                result(2, Rejected, &[R::LicenceRevoked, R::InspectionSelected]),
            ],
            "ok",
        );
        check(
            RequestDecision::Approved,
            vec![result(1, Approved, &[]), result(2, Approved, &[])],
            "decision: want REJECTED, got APPROVED; item 2: status want REJECTED, got APPROVED; item 2: reason LICENCE_REVOKED missing",
        );
        check(
            RequestDecision::Rejected,
            vec![result(1, Approved, &[R::OfficerReview]), result(2, Rejected, &[R::LicenceSuspended])],
            "item 1: unexpected reason OFFICER_REVIEW; item 2: reason LICENCE_REVOKED missing; item 2: unexpected reason LICENCE_SUSPENDED",
        );
        check(
            RequestDecision::Rejected,
            vec![result(1, Approved, &[])],
            "items: want 2, got 1",
        );
    }
}

#[cfg(test)]
mod agreement {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use nsw_gateway::domain::engine::{decide, NoUsage};
    use nsw_gateway::domain::snapshot::Snapshot;

    use super::*;
    use crate::gen::{write_csv, GenConfig};

    /// The decisions the generator expects agree with the gateway's engine on requests decided
    /// against the same data, loaded from the CSV files the generator wrote.
    #[test]
    fn expected_decisions_agree_with_the_engine() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let model = Arc::new(Model::generate(&GenConfig {
            licences: 3000,
            seed: 21,
            today,
        }));
        let dir = tempfile::tempdir().unwrap();
        write_csv(&model, dir.path()).unwrap();
        let data = nsw_gateway::refdata::load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let snap = Snapshot::build(data).unwrap_or_else(|e| panic!("{e:?}"));
        let mut g = RequestGen::new(model, 4, Mix::default());
        let mut failures = Vec::new();
        let mut decisions = std::collections::HashMap::new();
        for i in 0..10_000 {
            let p = g.next_permit();
            let d = decide(&p.request, &snap, today, &NoUsage);
            *decisions.entry(d.decision.code()).or_insert(0) += 1;
            if let Err(m) = p.expected.compare(d.decision, &d.items) {
                failures.push(format!("request {i} ({:?}): {m}", p.outcome));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of 10000 disagree, e.g.:\n{}",
            failures.len(),
            failures[..failures.len().min(15)].join("\n")
        );
        assert_eq!(decisions.len(), 5, "{decisions:?}");
    }
}

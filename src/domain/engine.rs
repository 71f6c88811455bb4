//! The decision rules of spec §6: a pure function of (request, reference snapshot, date,
//! special-import usage so far).
//!
//! Rules are applied to each goods item in order and every failing rule adds its reason, so a
//! sender sees everything to correct at once. Choices made where the spec is silent:
//!
//! * **Rule 0** (importer check digit) applies to every item. When it fails and rule 1 finds the
//!   HS code uncontrolled, the item is REJECTED with only the rule-0 reason (rule 1 stops the
//!   later checks but does not erase an earlier failure).
//! * **Rule 1**: an HS code is controlled when a *compulsory* standard in force on the arrival
//!   date has an HS prefix that the code starts with. Uncontrolled → NOT_REQUIRED, no reason,
//!   no approved quantity; the standard is still echoed when it parses.
//! * **Rule 2** (`STANDARD_UNKNOWN`): missing, unparsable, not an edition in the records, or an
//!   edition that is not compulsory. The message names the compulsory standards that control
//!   the HS code. When it fails, rules 3, 4 and 16 are skipped (they need the edition's
//!   record); rule 9 still compares the licence with the standard as written when it parsed.
//! * **Rule 3**: the named edition is not in force on the arrival date (`in_force_from ≤ arrival
//!   ≤ in_force_until`, both ends inclusive); the message names the edition in force, if any.
//! * **Rules 5–11 apply to LICENSED requests only**; a `LicenceNumber` on a SPECIAL item is
//!   ignored. Rule 5 failing skips 6–11 (there is nothing to look up).
//! * **Rule 8** compares tax number and branch; with an invalid importer tax number the holder
//!   cannot be the importer, so it fails too.
//! * **Rule 10**: SUSPENDED and REVOKED count when the status took effect on or before the later
//!   of the arrival date and today (a status already in force today blocks a new permit; a
//!   status scheduled before the arrival blocks it too). Validity is `issued_on ≤ arrival ≤
//!   expires_on`: a licence expiring on the arrival date is still valid. A status reason and a
//!   validity reason can both be given.
//! * **Rule 11**: brand and model are compared case-insensitively with runs of white space
//!   collapsed; an empty brand (or model) list on the licence does not restrict. Manufacturer
//!   name (same comparison) and country are checked separately; each mismatch is its own reason
//!   naming its field.
//! * **Rules 12, 13 and 15 apply to SPECIAL requests only**. A purpose code is matched exactly
//!   after trimming.
//! * **Rule 13**: the cap counts amounts whatever their unit (the policy table has none). The
//!   total is the store's usage for the importer, purpose and calendar year of the arrival
//!   date, plus every *controlled* item of this request with the same purpose. All of those
//!   items therefore get the same verdict, whatever their order. With an invalid importer tax
//!   number there is no usage to look up; only this request counts. The store's usage counts
//!   the same items of the importer's earlier requests, those that were or may still be
//!   permitted: the controlled items (status APPROVED, HOLD_FOR_INSPECTION or UNDER_REVIEW,
//!   never NOT_REQUIRED or REJECTED) of SPECIAL requests neither REJECTED nor CANCELLED
//!   (`store::common::SPECIAL_USAGE`); the two must keep counting alike.
//! * **Rule 14**: a test report is required when the edition's `test_report_required` is set, or
//!   (SPECIAL) the purpose's. Only a required report is checked. Its lab must be known, ACTIVE,
//!   accredited on the report's issue date (`from ≤ issue ≤ until`) and have the item's edition
//!   in scope (checked only when the edition is known); each failing point is its own
//!   `LAB_NOT_ACCREDITED` reason. A report dated after the decision date does not exist yet:
//!   `TEST_REPORT_REQUIRED` on its `IssueDate`, and its lab is not looked at.
//! * **Rules 15 and 16 only run when rules 0–14 all passed.** When both apply the item is
//!   UNDER_REVIEW and also carries `INSPECTION_SELECTED`: an officer approving it should release
//!   it as HOLD_FOR_INSPECTION.
//! * **Rule 16**: see [`inspection_draw`].
//! * Reasons point at the field with a positional XPath (`GoodsItem[k]` is the k-th item in
//!   the request); messages name the item by its `ItemNumber`.
//! * Approved quantity = requested quantity for APPROVED and HOLD_FOR_INSPECTION items only.
//! * Permit dates: see [`PermitDates::compute`]. Only licences of APPROVED / HOLD items cap the
//!   expiry. A permit whose expiry would fall before its effective date is not issued: the
//!   items it would cover are REJECTED (`ARRIVAL_DATE_PASSED`, `LICENCE_NOT_VALID`; see
//!   `no_permit_window`).

use chrono::{Datelike, Duration, NaiveDate};

use super::documents::{
    Decision, GoodsItem, ImportPermitRequest, ItemResult, ItemStatus, PermitDates, Reason,
    ReasonCode, RequestDecision, RequestType,
};
use super::messages::{self as msg, Text};
use super::refdata::{LicenceStatus, LicenceType, SpecialPurpose, Standard};
use super::snapshot::{lab_accredited, Snapshot};
use super::types::{Amount, Branch, PartyKey, StandardRef};

/// How much an importer already imported under a special purpose in a calendar year (the store
/// supplies it; this request is not included): the controlled items of its earlier SPECIAL
/// requests that were or may still be permitted (see rule 13 in the module notes).
pub trait SpecialUsage {
    fn used(&self, importer: &PartyKey, purpose: &str, year: i32) -> Amount;
}

/// No earlier usage at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsage;

impl SpecialUsage for NoUsage {
    fn used(&self, _: &PartyKey, _: &str, _: i32) -> Amount {
        Amount::ZERO
    }
}

/// Usage held in memory, keyed by (importer, purpose, year).
#[derive(Debug, Clone, Default)]
pub struct UsageMap(pub std::collections::HashMap<(PartyKey, String, i32), Amount>);

impl UsageMap {
    pub fn with(mut self, importer: PartyKey, purpose: &str, year: i32, amount: Amount) -> Self {
        self.0.insert((importer, purpose.to_owned(), year), amount);
        self
    }
}

impl SpecialUsage for UsageMap {
    fn used(&self, importer: &PartyKey, purpose: &str, year: i32) -> Amount {
        self.0
            .get(&(*importer, purpose.to_owned(), year))
            .copied()
            .unwrap_or(Amount::ZERO)
    }
}

impl PermitDates {
    /// Effective = arrival − 30 days, but never before `today`; expiry = arrival + 90 days,
    /// capped at the earliest expiry of the licences used. The window can be empty (expiry
    /// before effective: an arrival more than 90 days back, or a licence that expires before
    /// today); no permit is issued then (see `decide`).
    pub fn compute(
        arrival: NaiveDate,
        today: NaiveDate,
        earliest_licence_expiry: Option<NaiveDate>,
    ) -> Self {
        let effective = (arrival - Duration::days(30)).max(today);
        let mut expiry = arrival + Duration::days(90);
        if let Some(e) = earliest_licence_expiry {
            expiry = expiry.min(e);
        }
        PermitDates { effective, expiry }
    }
}

/// FNV-1a (64 bit) over the given byte strings, each followed by a 0 separator, then the
/// SplitMix64 finaliser to spread the bits. Stable across builds and platforms: it decides who
/// is inspected, so it must never change.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The inspection draw for an item, 0..10000: the stable hash of (importer tax number as
/// written, branch as 5 digits, reference number, item number as decimal) modulo 10000.
pub fn inspection_draw(
    importer_tax: &str,
    branch: Branch,
    reference: &str,
    item_number: u16,
) -> u32 {
    let mut b = [0u8; 5];
    let mut v = branch.value();
    for slot in b.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let item = item_number.to_be_bytes();
    (stable_hash(&[importer_tax.as_bytes(), &b, reference.as_bytes(), &item]) % 10_000) as u32
}

/// Rule 16: selected when the draw is below rate × 100 (rate 0 never, 100 always).
pub fn inspection_selected(
    importer_tax: &str,
    branch: Branch,
    reference: &str,
    item_number: u16,
    rate: u8,
) -> bool {
    match rate {
        0 => return false,
        100.. => return true,
        _ => {}
    }
    inspection_draw(importer_tax, branch, reference, item_number) < u32::from(rate.min(100)) * 100
}

/// Case-insensitive (ASCII) comparison with white space trimmed and runs collapsed; no
/// allocation.
fn same_text(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let mut x = a.split_whitespace();
    let mut y = b.split_whitespace();
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

/// A licence list (brands or models) covers `v`: empty lists do not restrict.
fn covered<'a>(mut list: impl ExactSizeIterator<Item = &'a str>, v: &str) -> bool {
    list.len() == 0 || list.any(|b| same_text(b, v))
}

const ROOT: &str = "/ImportPermitRequest";

struct ItemCtx<'a> {
    item: &'a GoodsItem,
    pos: usize,
    reasons: Vec<Reason>,
}

impl ItemCtx<'_> {
    fn add(&mut self, code: ReasonCode, field: &str, text: Text) {
        let field = if field.starts_with('/') {
            field.to_owned()
        } else if field.is_empty() {
            format!("{ROOT}/GoodsItem[{}]", self.pos)
        } else {
            format!("{ROOT}/GoodsItem[{}]/{field}", self.pos)
        };
        self.reasons.push(reason(code, field, text));
    }
    fn n(&self) -> u16 {
        self.item.item_number
    }
}

fn canon_list<'s>(it: impl IntoIterator<Item = &'s Standard>) -> Vec<String> {
    it.into_iter().map(|s| s.reference.canonical()).collect()
}

fn valid_purposes(snap: &Snapshot, date: NaiveDate) -> Vec<String> {
    snap.purposes()
        .iter()
        .filter(|p| purpose_valid_on(p, date))
        .map(|p| p.code.clone())
        .collect()
}

fn purpose_valid_on(p: &SpecialPurpose, date: NaiveDate) -> bool {
    p.valid_from <= date && p.valid_until.is_none_or(|u| date <= u)
}

/// Decides a request (spec §6).
pub fn decide(
    req: &ImportPermitRequest,
    snap: &Snapshot,
    today: NaiveDate,
    usage: &dyn SpecialUsage,
) -> Decision {
    let arrival = req.shipment.arrival_date;
    let importer = req.importer.key();
    // Rule 13 sums the controlled items of the request: classify them once.
    let controlled: Vec<bool> = match req.request_type {
        RequestType::Special => req
            .items
            .iter()
            .map(|it| snap.is_controlled(&it.hs_code, arrival))
            .collect(),
        RequestType::Licensed => Vec::new(),
    };
    let rq = RequestCtx {
        req,
        importer: importer.as_ref(),
        snap,
        today,
        usage,
        controlled: &controlled,
    };
    let mut items = Vec::with_capacity(req.items.len());
    let mut licence_expiries = Vec::with_capacity(req.items.len());
    let mut earliest_expiry: Option<NaiveDate> = None;
    for (i, item) in req.items.iter().enumerate() {
        let (result, licence_expiry) = decide_item(&rq, item, i + 1);
        if permitted(result.status) {
            if let Some(e) = licence_expiry {
                earliest_expiry = Some(earliest_expiry.map_or(e, |x| x.min(e)));
            }
        }
        items.push(result);
        licence_expiries.push(licence_expiry);
    }
    let mut decision = RequestDecision::aggregate(items.iter().map(|r| r.status));
    let mut permit_dates = decision
        .issues_permit()
        .then(|| PermitDates::compute(arrival, today, earliest_expiry));
    if let Some(dates) = permit_dates.filter(|d| d.expiry < d.effective) {
        no_permit_window(req, &mut items, &licence_expiries, dates);
        decision = RequestDecision::aggregate(items.iter().map(|r| r.status));
        permit_dates = None;
    }
    Decision {
        decision,
        items,
        permit_dates,
    }
}

/// The statuses a permit is issued for.
fn permitted(status: ItemStatus) -> bool {
    matches!(status, ItemStatus::Approved | ItemStatus::HoldForInspection)
}

/// A permit that would expire before it takes effect is never issued: the items that close
/// the window are REJECTED, with why. `ARRIVAL_DATE_PASSED` (every item the permit would
/// cover) when the arrival lies so far back that arrival + 90 days is before the decision
/// date; `LICENCE_NOT_VALID` for an item whose licence expires before then (valid on the
/// arrival date, rule 10, but on no day a permit could be used). When the window is empty one
/// of the two holds for at least one item, so the request is REJECTED.
fn no_permit_window(
    req: &ImportPermitRequest,
    items: &mut [ItemResult],
    licence_expiries: &[Option<NaiveDate>],
    dates: PermitDates,
) {
    let arrival = req.shipment.arrival_date;
    let latest = arrival + Duration::days(90);
    for (pos, (result, expiry)) in items.iter_mut().zip(licence_expiries).enumerate() {
        if !permitted(result.status) {
            continue;
        }
        let goods = &req.items[pos];
        let n = goods.item_number;
        let before = result.reasons.len();
        if latest < dates.effective {
            result.reasons.push(reason(
                ReasonCode::ArrivalDatePassed,
                format!("{ROOT}/Shipment/ArrivalDate"),
                msg::arrival_date_passed(n, arrival, latest, dates.effective),
            ));
        }
        if let (Some(e), Some(number)) = (
            expiry.filter(|e| *e < dates.effective),
            &goods.licence_number,
        ) {
            result.reasons.push(reason(
                ReasonCode::LicenceNotValid,
                format!("{ROOT}/GoodsItem[{}]/LicenceNumber", pos + 1),
                msg::licence_expires_before_permit(n, number, e, dates.effective),
            ));
        }
        if result.reasons.len() > before {
            result.status = ItemStatus::Rejected;
            result.approved_quantity = None;
        }
    }
}

fn reason(code: ReasonCode, field: String, text: Text) -> Reason {
    Reason {
        code,
        field,
        message_th: text.th,
        message_en: text.en,
    }
}

/// What every item of a request shares.
#[derive(Clone, Copy)]
struct RequestCtx<'a> {
    req: &'a ImportPermitRequest,
    importer: Option<&'a PartyKey>,
    snap: &'a Snapshot,
    today: NaiveDate,
    usage: &'a dyn SpecialUsage,
    /// Per item, whether its HS code is controlled (SPECIAL requests only; empty otherwise).
    controlled: &'a [bool],
}

/// One item; also returns the expiry of the licence it uses, if any.
fn decide_item(
    rq: &RequestCtx<'_>,
    item: &GoodsItem,
    pos: usize,
) -> (ItemResult, Option<NaiveDate>) {
    let RequestCtx {
        req,
        importer,
        snap,
        today,
        usage,
        controlled,
    } = *rq;
    let arrival = req.shipment.arrival_date;
    let mut cx = ItemCtx {
        item,
        pos,
        reasons: Vec::new(),
    };
    let n = cx.n();

    // The standard as written, parsed (echoed in canonical form whenever it parses).
    let parsed: Option<Result<StandardRef, String>> = item
        .standard
        .as_deref()
        .map(|s| StandardRef::parse(s).map_err(|e| e.0));
    let standard_ref = parsed.as_ref().and_then(|r| r.as_ref().ok()).cloned();

    let finish = |cx: ItemCtx<'_>, status: ItemStatus, expiry: Option<NaiveDate>| {
        let approved = matches!(status, ItemStatus::Approved | ItemStatus::HoldForInspection)
            .then(|| item.quantity.clone());
        (
            ItemResult {
                item_number: item.item_number,
                invoice_item_number: item.invoice_item_number,
                hs_code: item.hs_code.clone(),
                country_of_origin: item.country_of_origin,
                status,
                standard: standard_ref.clone(),
                approved_quantity: approved,
                reasons: cx.reasons,
            },
            expiry,
        )
    };

    // Rule 0.
    if importer.is_none() {
        cx.add(
            ReasonCode::ImporterTaxNumberInvalid,
            &format!("{ROOT}/Importer/TaxNumber"),
            msg::importer_tax_number_invalid(&req.importer.tax_number),
        );
    }

    // Rule 1.
    if !snap.is_controlled(&item.hs_code, arrival) {
        let status = if cx.reasons.is_empty() {
            ItemStatus::NotRequired
        } else {
            ItemStatus::Rejected
        };
        return finish(cx, status, None);
    }

    // Rule 2.
    let controlling = || canon_list(snap.controlling_standards(&item.hs_code, arrival));
    let standard: Option<&Standard> = match &parsed {
        None => {
            cx.add(
                ReasonCode::StandardUnknown,
                "Standard",
                msg::standard_missing(n, &item.hs_code, &controlling()),
            );
            None
        }
        Some(Err(problem)) => {
            let text = item.standard.as_deref().unwrap_or_default();
            cx.add(
                ReasonCode::StandardUnknown,
                "Standard",
                msg::standard_unparsable(n, text, problem),
            );
            None
        }
        Some(Ok(r)) => match snap.standard(r) {
            None => {
                cx.add(
                    ReasonCode::StandardUnknown,
                    "Standard",
                    msg::standard_unknown(n, r, &item.hs_code, &controlling()),
                );
                None
            }
            Some(s) if !s.compulsory => {
                cx.add(
                    ReasonCode::StandardUnknown,
                    "Standard",
                    msg::standard_not_compulsory(n, r, &item.hs_code, &controlling()),
                );
                None
            }
            Some(s) => Some(s),
        },
    };

    if let Some(s) = standard {
        // Rule 3.
        if !s.in_force_on(arrival) {
            let editions = canon_list(
                snap.editions_of(&s.reference)
                    .filter(|e| e.compulsory && e.in_force_on(arrival)),
            );
            cx.add(
                ReasonCode::StandardNotInForce,
                "Standard",
                msg::standard_not_in_force(
                    n,
                    &s.reference,
                    s.in_force_from,
                    s.in_force_until,
                    arrival,
                    &editions,
                ),
            );
        }
        // Rule 4.
        if !s.hs_prefixes.iter().any(|p| item.hs_code.starts_with(p)) {
            cx.add(
                ReasonCode::StandardHsMismatch,
                "HSCode",
                msg::standard_hs_mismatch(
                    n,
                    &item.hs_code,
                    &s.reference,
                    &s.hs_prefixes,
                    &controlling(),
                ),
            );
        }
    }

    let mut licence_expiry = None;
    let mut purpose: Option<&SpecialPurpose> = None;
    match req.request_type {
        RequestType::Licensed => {
            // Rule 5.
            match item
                .licence_number
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                None => cx.add(
                    ReasonCode::LicenceRequired,
                    "LicenceNumber",
                    msg::licence_required(n, &item.hs_code, standard_ref.as_ref()),
                ),
                Some(number) => match snap.licence(number) {
                    // Rule 6.
                    None => cx.add(
                        ReasonCode::LicenceNotFound,
                        "LicenceNumber",
                        msg::licence_not_found(n, number),
                    ),
                    Some(lic) => {
                        licence_expiry = Some(lic.expires_on());
                        // Rule 7.
                        if lic.licence_type() != LicenceType::Import {
                            cx.add(
                                ReasonCode::LicenceTypeInvalid,
                                "LicenceNumber",
                                msg::licence_type_invalid(n, number),
                            );
                        }
                        // Rule 8.
                        if importer != Some(&lic.holder()) {
                            cx.add(
                                ReasonCode::LicenceHolderMismatch,
                                "LicenceNumber",
                                msg::licence_holder_mismatch(
                                    n,
                                    number,
                                    &lic.holder(),
                                    lic.holder_name(),
                                    &req.importer.tax_number,
                                    &req.importer.branch.to_string(),
                                ),
                            );
                        }
                        // Rule 9.
                        let lic_std = &lic.standard().reference;
                        if let Some(r) = &standard_ref {
                            if lic_std != r {
                                cx.add(
                                    ReasonCode::LicenceStandardMismatch,
                                    "LicenceNumber",
                                    msg::licence_standard_mismatch(n, number, lic_std, r),
                                );
                            }
                        }
                        // Rule 10.
                        let status_day = arrival.max(today);
                        match lic.status() {
                            LicenceStatus::Active => {}
                            LicenceStatus::Suspended if lic.status_since() <= status_day => cx.add(
                                ReasonCode::LicenceSuspended,
                                "LicenceNumber",
                                msg::licence_suspended(n, number, lic.status_since()),
                            ),
                            LicenceStatus::Revoked if lic.status_since() <= status_day => cx.add(
                                ReasonCode::LicenceRevoked,
                                "LicenceNumber",
                                msg::licence_revoked(n, number, lic.status_since()),
                            ),
                            LicenceStatus::Suspended | LicenceStatus::Revoked => {}
                        }
                        if arrival < lic.issued_on() || arrival > lic.expires_on() {
                            cx.add(
                                ReasonCode::LicenceNotValid,
                                "LicenceNumber",
                                msg::licence_not_valid(
                                    n,
                                    number,
                                    lic.issued_on(),
                                    lic.expires_on(),
                                    arrival,
                                ),
                            );
                        }
                        // Rule 11.
                        if !covered(lic.brands(), &item.brand) {
                            let l: Vec<String> = lic.brands().map(str::to_owned).collect();
                            cx.add(
                                ReasonCode::LicenceProductMismatch,
                                "Brand",
                                msg::licence_product_mismatch(
                                    n,
                                    number,
                                    msg::Label::Brand,
                                    &item.brand,
                                    &l,
                                ),
                            );
                        }
                        if !covered(lic.models(), &item.model) {
                            let l: Vec<String> = lic.models().map(str::to_owned).collect();
                            cx.add(
                                ReasonCode::LicenceProductMismatch,
                                "Model",
                                msg::licence_product_mismatch(
                                    n,
                                    number,
                                    msg::Label::Model,
                                    &item.model,
                                    &l,
                                ),
                            );
                        }
                        if !same_text(lic.manufacturer(), &item.manufacturer.name) {
                            cx.add(
                                ReasonCode::LicenceProductMismatch,
                                "Manufacturer/Name",
                                msg::licence_product_mismatch(
                                    n,
                                    number,
                                    msg::Label::Manufacturer,
                                    &item.manufacturer.name,
                                    &[lic.manufacturer().to_owned()],
                                ),
                            );
                        }
                        if lic.manufacturer_country() != item.manufacturer.country {
                            cx.add(
                                ReasonCode::LicenceProductMismatch,
                                "Manufacturer/Country",
                                msg::licence_product_mismatch(
                                    n,
                                    number,
                                    msg::Label::ManufacturerCountry,
                                    item.manufacturer.country.as_str(),
                                    &[lic.manufacturer_country().as_str().to_owned()],
                                ),
                            );
                        }
                    }
                },
            }
        }
        RequestType::Special => {
            // Rule 12.
            match item
                .special_purpose
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                None => cx.add(
                    ReasonCode::SpecialPurposeNotAllowed,
                    "SpecialPurpose",
                    msg::special_purpose_missing(n, &valid_purposes(snap, arrival)),
                ),
                Some(code) => match snap.purpose(code) {
                    None => cx.add(
                        ReasonCode::SpecialPurposeNotAllowed,
                        "SpecialPurpose",
                        msg::special_purpose_unknown(n, code, &valid_purposes(snap, arrival)),
                    ),
                    Some(p) if !purpose_valid_on(p, arrival) => cx.add(
                        ReasonCode::SpecialPurposeNotAllowed,
                        "SpecialPurpose",
                        msg::special_purpose_not_valid(
                            n,
                            code,
                            p.valid_from,
                            p.valid_until,
                            arrival,
                            &valid_purposes(snap, arrival),
                        ),
                    ),
                    Some(p) => purpose = Some(p),
                },
            }
            // Rule 13.
            if let Some(p) = purpose {
                if let Some(max) = p.max_quantity_per_year {
                    let year = arrival.year();
                    let used = importer.map_or(Amount::ZERO, |k| usage.used(k, &p.code, year));
                    let this_request = req
                        .items
                        .iter()
                        .zip(controlled)
                        .filter(|(o, &ctl)| {
                            ctl && o.special_purpose.as_deref().map(str::trim)
                                == Some(p.code.as_str())
                        })
                        .fold(Amount::ZERO, |acc, (o, _)| {
                            acc.checked_add(o.quantity.amount).unwrap_or(Amount::MAX)
                        });
                    let total = used.checked_add(this_request).unwrap_or(Amount::MAX);
                    if total > max {
                        cx.add(
                            ReasonCode::SpecialQuantityExceeded,
                            "Quantity",
                            msg::special_quantity_exceeded(
                                n,
                                &p.code,
                                year,
                                used,
                                this_request,
                                max,
                            ),
                        );
                    }
                }
            }
        }
    }

    // Rule 14.
    let by_standard = standard.is_some_and(|s| s.test_report_required);
    let by_purpose = purpose.is_some_and(|p| p.test_report_required);
    if by_standard || by_purpose {
        match &item.test_report {
            None => cx.add(
                ReasonCode::TestReportRequired,
                "TestReport",
                msg::test_report_required(
                    n,
                    standard
                        .filter(|s| s.test_report_required)
                        .map(|s| &s.reference),
                    purpose
                        .filter(|p| p.test_report_required)
                        .map(|p| p.code.as_str()),
                    standard_ref.as_ref(),
                ),
            ),
            Some(tr) => match snap.lab(tr.lab_id.trim()) {
                _ if tr.issue_date > today => cx.add(
                    ReasonCode::TestReportRequired,
                    "TestReport/IssueDate",
                    msg::test_report_from_the_future(n, &tr.report_number, tr.issue_date, today),
                ),
                None => cx.add(
                    ReasonCode::LabNotAccredited,
                    "TestReport/LabId",
                    msg::lab_unknown(n, &tr.lab_id),
                ),
                Some(lab) => {
                    let std_ref = standard.map(|s| &s.reference);
                    if !lab_accredited(lab, std_ref, tr.issue_date) {
                        if lab.status != super::refdata::LabStatus::Active {
                            cx.add(
                                ReasonCode::LabNotAccredited,
                                "TestReport/LabId",
                                msg::lab_not_active(n, &lab.id, lab.status.code()),
                            );
                        }
                        if let Some(r) = std_ref {
                            if !lab.standards.contains(r) {
                                let scope: Vec<String> =
                                    lab.standards.iter().map(|s| s.canonical()).collect();
                                cx.add(
                                    ReasonCode::LabNotAccredited,
                                    "TestReport/LabId",
                                    msg::lab_out_of_scope(n, &lab.id, r, &scope),
                                );
                            }
                        }
                        if tr.issue_date < lab.accredited_from
                            || lab.accredited_until.is_some_and(|u| tr.issue_date > u)
                        {
                            cx.add(
                                ReasonCode::LabNotAccredited,
                                "TestReport/IssueDate",
                                msg::lab_not_accredited_on(
                                    n,
                                    &lab.id,
                                    tr.issue_date,
                                    lab.accredited_from,
                                    lab.accredited_until,
                                ),
                            );
                        }
                    }
                }
            },
        }
    }

    if !cx.reasons.is_empty() {
        return finish(cx, ItemStatus::Rejected, licence_expiry);
    }

    // Rule 15.
    let mut status = ItemStatus::Approved;
    if let Some(p) = purpose.filter(|p| p.officer_review) {
        cx.add(
            ReasonCode::OfficerReview,
            "SpecialPurpose",
            msg::officer_review(n, &p.code),
        );
        status = ItemStatus::UnderReview;
    }
    // Rule 16.
    if let Some(s) = standard {
        if inspection_selected(
            &req.importer.tax_number,
            req.importer.branch,
            req.reference.as_str(),
            n,
            s.inspection_rate,
        ) {
            cx.add(
                ReasonCode::InspectionSelected,
                "",
                msg::inspection_selected(n, &s.reference, s.inspection_rate),
            );
            if status == ItemStatus::Approved {
                status = ItemStatus::HoldForInspection;
            }
        }
    }
    finish(cx, status, licence_expiry)
}

#[cfg(test)]
mod tests;

//! Customs matching of declaration lines against permit items (spec §3.3), pure.
//!
//! The store supplies what it holds about each permit ([`PermitRecord`]) and performs the
//! atomic write-off; these functions say whether each line matches, naming every field that
//! does not, and whether its quantity fits what is left.
//!
//! Choices where the spec is silent:
//! * Line result precedence: `PERMIT_NOT_FOUND` (no such permit) > `PERMIT_NOT_VALID` (the
//!   request is not APPROVED / HOLD_FOR_INSPECTION — e.g. CANCELLED —, the item has no approved
//!   quantity, or the declaration's arrival date lies outside the effective–expiry window) >
//!   `MISMATCH` (any matching field, the importer or the unit differs) > `HOLD` (the item is
//!   held for inspection) > `QUANTITY_EXCEEDED` > `MATCHED`. Every problem found is listed as a
//!   reason whatever the result.
//! * An invoice item number that is not on the permit is a `MISMATCH` of `InvoiceItemNumber`.
//! * HS codes agree when their 8-digit AHTN codes are equal and, when both carry the 3
//!   statistical digits, those are equal too.
//! * Invoice numbers are compared after trimming, exactly.
//! * The country of destination is TH: a discharge port outside Thailand is a mismatch of
//!   `DischargePort`.
//! * Several lines of one declaration against the same permit item add up: each line's
//!   quantity must fit after the earlier matched lines ([`Claims`]). "The same permit item"
//!   is the item each line was matched against, not its invoice item number, which a request
//!   may repeat; a line that did not match takes nothing. Among the items of one invoice item
//!   number the store picks, for each line, one whose HS code agrees and that still has the
//!   line's quantity (the lowest item number when none has), so all of them can be written off.
//! * Overall: `ACCEPTED` only when every line is `MATCHED`; `HOLD` when at least one line is
//!   `HOLD` and every other line is `MATCHED` or `HOLD`; otherwise `REFUSED`. A declaration with no
//!   line is `REFUSED`.
//! * `RemainingQuantity` is what remains after this declaration: approved − written off − the
//!   declaration's matched lines on that item when the declaration is ACCEPTED (it is then
//!   written off), else approved − written off (nothing is written off); 0 on a permit that
//!   is no longer valid (CANCELLED) and for an item without an approved quantity, as the status
//!   query says.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::documents::{
    DeclarationCheck, DeclarationCheckResponse, DeclarationLine, DeclarationLineResult,
    DeclarationResult, ItemStatus, LineResult, Permit, Reason, ReasonCode, RequestDecision,
};
use super::messages::{self as msg, Label, Text};
use super::types::{
    Amount, Country, HsCode, PartyKey, PermitNumber, Quantity, TaxNumber, UnitCode,
};

/// One item of an issued permit, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitItem {
    pub invoice_item_number: u16,
    pub hs_code: HsCode,
    pub country_of_origin: Country,
    pub unit: UnitCode,
    pub approved: Amount,
    pub written_off: Amount,
    pub status: ItemStatus,
}

/// A permit as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRecord {
    pub permit: Permit,
    /// The importer the permit was issued to.
    pub holder: PartyKey,
    /// TISI's tax number as printed on the permit.
    pub issuing_authority: TaxNumber,
    /// The request's current decision (CANCELLED once cancelled or replaced).
    pub decision: RequestDecision,
    /// The day (in Thailand) the permit was cancelled, when it was.
    pub cancelled_on: Option<NaiveDate>,
    pub items: Vec<PermitItem>,
}

/// What the matched lines of one declaration take from each permit item so far, in line
/// order: the `claimed_before` of [`match_line`]. `K` names the permit item a line was
/// matched against (whoever picks the item picks the key: the store its row, the pure
/// [`check_declaration`] the permit and invoice item number). Only a `MATCHED` line takes
/// anything: nothing of any other line would be written off.
#[derive(Debug, Clone)]
pub struct Claims<K> {
    by_item: BTreeMap<K, Amount>,
}

impl<K: Ord> Default for Claims<K> {
    fn default() -> Self {
        Self {
            by_item: BTreeMap::new(),
        }
    }
}

impl<K: Ord> Claims<K> {
    /// What the earlier matched lines take from `item`.
    pub fn before(&self, item: &K) -> Amount {
        self.by_item.get(item).copied().unwrap_or(Amount::ZERO)
    }

    /// Records the result of a line against `item`: a matched line takes its quantity.
    pub fn record(&mut self, item: K, result: LineResult, quantity: Amount) {
        if result != LineResult::Matched {
            return;
        }
        let claimed = self.by_item.entry(item).or_insert(Amount::ZERO);
        *claimed = claimed.checked_add(quantity).unwrap_or(Amount::MAX);
    }
}

/// What a permit item has left for a line: approved, less what was written off and what the
/// declaration's earlier matched lines take.
pub fn quantity_left(approved: Amount, written_off: Amount, claimed_before: Amount) -> Amount {
    approved
        .saturating_sub(written_off)
        .saturating_sub(claimed_before)
}

/// Whether two HS codes name the same goods for matching (see the module notes).
pub fn hs_agree(a: &HsCode, b: &HsCode) -> bool {
    let (a, b) = (a.as_str(), b.as_str());
    a.get(..8) == b.get(..8) && (a.len() == 8 || b.len() == 8 || a == b)
}

struct LineCx {
    pos: usize,
    line: u16,
    permit: String,
    mismatch: bool,
    reasons: Vec<Reason>,
}

impl LineCx {
    fn add(&mut self, code: ReasonCode, field: &str, text: Text) {
        let field = if field.starts_with('/') {
            field.to_owned()
        } else {
            format!("/DeclarationCheck/Line[{}]/{field}", self.pos)
        };
        self.reasons.push(Reason {
            code,
            field,
            message_th: text.th,
            message_en: text.en,
        });
    }

    /// A Customs matching field: adds a `FIELD_MISMATCH` reason when it differs.
    fn field(&mut self, ok: bool, name: &str, what: Label, declared: String, on_permit: String) {
        if !ok {
            self.mismatch = true;
            let text = msg::field_mismatch(self.line, what, &declared, &on_permit, &self.permit);
            self.add(ReasonCode::FieldMismatch, name, text);
        }
    }
}

/// Matches one line (at 1-based position `pos` in the declaration) against the permit it
/// names. `claimed_before` is what earlier matched lines of the same declaration take from the
/// same permit item. The returned `remaining` is approved − written off − claimed_before − this
/// line (when it matched), i.e. what would remain if the declaration were accepted.
pub fn match_line(
    line: &DeclarationLine,
    pos: usize,
    importer: &PartyKey,
    arrival: NaiveDate,
    permit: Option<&PermitRecord>,
    claimed_before: Amount,
) -> DeclarationLineResult {
    let n = line.line_number;
    let pn = line.permit_number.to_string();
    let mut cx = LineCx {
        pos,
        line: n,
        permit: pn.clone(),
        mismatch: false,
        reasons: Vec::new(),
    };
    let Some(rec) = permit else {
        cx.add(
            ReasonCode::PermitNotFound,
            "PermitNumber",
            msg::permit_not_found(n, &pn),
        );
        return DeclarationLineResult {
            line_number: n,
            result: LineResult::PermitNotFound,
            remaining: None,
            reasons: cx.reasons,
        };
    };
    let p = &rec.permit;
    let mut not_valid = false;

    if !rec.decision.issues_permit() {
        not_valid = true;
        cx.add(
            ReasonCode::PermitNotValid,
            "PermitNumber",
            msg::permit_not_valid(n, &pn, rec.decision.code(), rec.cancelled_on),
        );
    }
    cx.field(
        line.permit_issue_date == p.issue_date,
        "PermitIssueDate",
        Label::PermitIssueDate,
        line.permit_issue_date.to_string(),
        p.issue_date.to_string(),
    );
    cx.field(
        line.issuing_authority_tax_number == rec.issuing_authority,
        "IssuingAuthorityTaxNumber",
        Label::IssuingAuthorityTaxNumber,
        line.issuing_authority_tax_number.to_string(),
        rec.issuing_authority.to_string(),
    );
    cx.field(
        line.invoice_number.trim() == p.invoice_number.trim(),
        "InvoiceNumber",
        Label::InvoiceNumber,
        line.invoice_number.clone(),
        p.invoice_number.clone(),
    );
    cx.field(
        line.invoice_date == p.invoice_date,
        "InvoiceDate",
        Label::InvoiceDate,
        line.invoice_date.to_string(),
        p.invoice_date.to_string(),
    );
    cx.field(
        line.load_port == p.load_port,
        "LoadPort",
        Label::LoadPort,
        line.load_port.to_string(),
        p.load_port.to_string(),
    );
    cx.field(
        line.discharge_port == p.discharge_port,
        "DischargePort",
        Label::DischargePort,
        line.discharge_port.to_string(),
        p.discharge_port.to_string(),
    );
    if line.discharge_port.country() != Country::TH {
        cx.mismatch = true;
        cx.add(
            ReasonCode::FieldMismatch,
            "DischargePort",
            msg::discharge_port_not_thai(n, line.discharge_port.as_str()),
        );
    }

    // Importer and arrival date (declaration-level fields).
    if *importer != rec.holder {
        cx.mismatch = true;
        let f = if importer.tax_number != rec.holder.tax_number {
            "/DeclarationCheck/Importer/TaxNumber"
        } else {
            "/DeclarationCheck/Importer/Branch"
        };
        cx.add(
            ReasonCode::ImporterMismatch,
            f,
            msg::importer_mismatch(importer, &rec.holder, &pn),
        );
    }
    if arrival < p.effective_date || arrival > p.expiry_date {
        not_valid = true;
        cx.add(
            ReasonCode::ArrivalOutsideValidity,
            "/DeclarationCheck/ArrivalDate",
            msg::arrival_outside_validity(arrival, p.effective_date, p.expiry_date, &pn),
        );
    }

    let mut hold = false;
    let mut exceeded = false;
    let mut remaining = None;
    match rec
        .items
        .iter()
        .find(|i| i.invoice_item_number == line.invoice_item_number)
    {
        None => {
            let on: Vec<String> = rec
                .items
                .iter()
                .map(|i| i.invoice_item_number.to_string())
                .collect();
            cx.mismatch = true;
            cx.add(
                ReasonCode::FieldMismatch,
                "InvoiceItemNumber",
                msg::item_not_on_permit(n, &pn, line.invoice_item_number, &on),
            );
        }
        Some(item) => {
            cx.field(
                hs_agree(&line.hs_code, &item.hs_code),
                "HSCode",
                Label::HsCode,
                line.hs_code.to_string(),
                item.hs_code.to_string(),
            );
            cx.field(
                line.country_of_origin == item.country_of_origin,
                "CountryOfOrigin",
                Label::CountryOfOrigin,
                line.country_of_origin.to_string(),
                item.country_of_origin.to_string(),
            );
            let unit_ok = line.quantity.unit == item.unit;
            if !unit_ok {
                cx.mismatch = true;
                cx.add(
                    ReasonCode::UnitMismatch,
                    "Quantity/@unitCode",
                    msg::unit_mismatch(n, line.quantity.unit.as_str(), item.unit.as_str(), &pn),
                );
            }
            match item.status {
                ItemStatus::Approved => {}
                ItemStatus::HoldForInspection => {
                    hold = true;
                    cx.add(
                        ReasonCode::AwaitingInspection,
                        "InvoiceItemNumber",
                        msg::awaiting_inspection(n, &pn, item.invoice_item_number),
                    );
                }
                other => {
                    not_valid = true;
                    cx.add(
                        ReasonCode::PermitNotValid,
                        "InvoiceItemNumber",
                        msg::item_not_approved(n, &pn, item.invoice_item_number, other.code()),
                    );
                }
            }
            let usable = usable(rec, item);
            let left = if usable {
                quantity_left(item.approved, item.written_off, claimed_before)
            } else {
                Amount::ZERO
            };
            let mut after = left;
            if unit_ok && usable {
                if line.quantity.amount > left {
                    exceeded = true;
                    cx.add(
                        ReasonCode::QuantityExceeded,
                        "Quantity",
                        msg::quantity_exceeded(
                            n,
                            line.quantity.amount,
                            left,
                            item.unit.as_str(),
                            &pn,
                        ),
                    );
                } else {
                    after = left.saturating_sub(line.quantity.amount);
                }
            }
            remaining = Some(Quantity {
                amount: after,
                unit: item.unit.clone(),
            });
        }
    }

    let result = if not_valid {
        LineResult::PermitNotValid
    } else if cx.mismatch {
        LineResult::Mismatch
    } else if hold {
        LineResult::Hold
    } else if exceeded {
        LineResult::QuantityExceeded
    } else {
        LineResult::Matched
    };
    if result != LineResult::Matched {
        // Nothing of this line would be written off.
        if let (Some(r), Some(item)) = (
            remaining.as_mut(),
            rec.items
                .iter()
                .find(|i| i.invoice_item_number == line.invoice_item_number)
                .filter(|i| usable(rec, i)),
        ) {
            r.amount = quantity_left(item.approved, item.written_off, claimed_before);
        }
    }
    DeclarationLineResult {
        line_number: n,
        result,
        remaining,
        reasons: cx.reasons,
    }
}

/// Whether what is left of `item` can still be written off: its permit is valid and the item
/// has an approved quantity. Nothing is left of any other item.
fn usable(rec: &PermitRecord, item: &PermitItem) -> bool {
    rec.decision.issues_permit() && item.status.approves_quantity()
}

impl ItemStatus {
    /// Whether an item in this status carries an approved quantity on a permit.
    pub fn approves_quantity(self) -> bool {
        matches!(self, ItemStatus::Approved | ItemStatus::HoldForInspection)
    }
}

/// The declaration's overall result from its line results.
pub fn overall(lines: &[DeclarationLineResult]) -> DeclarationResult {
    if lines.is_empty() {
        return DeclarationResult::Refused;
    }
    if lines.iter().all(|l| l.result == LineResult::Matched) {
        DeclarationResult::Accepted
    } else if lines
        .iter()
        .all(|l| matches!(l.result, LineResult::Matched | LineResult::Hold))
    {
        DeclarationResult::Hold
    } else {
        DeclarationResult::Refused
    }
}

/// Matches a whole declaration. `find` returns what the store holds about a permit. The
/// response's remaining quantities follow the all-or-nothing rule (see the module notes); the
/// store writes off the matched quantities exactly when the result is `ACCEPTED`.
pub fn check_declaration(
    decl: &DeclarationCheck,
    mut find: impl FnMut(&PermitNumber) -> Option<PermitRecord>,
) -> DeclarationCheckResponse {
    let mut permits: Vec<(PermitNumber, Option<PermitRecord>)> = Vec::new();
    // By (permit, invoice item): here a line's item is the permit's first with its invoice
    // item number.
    let mut claimed = Claims::default();
    let mut lines = Vec::with_capacity(decl.lines.len());
    for (i, line) in decl.lines.iter().enumerate() {
        let idx = match permits.iter().position(|(p, _)| *p == line.permit_number) {
            Some(idx) => idx,
            None => {
                permits.push((line.permit_number, find(&line.permit_number)));
                permits.len() - 1
            }
        };
        let key = (line.permit_number, line.invoice_item_number);
        let r = match_line(
            line,
            i + 1,
            &decl.importer,
            decl.arrival_date,
            permits[idx].1.as_ref(),
            claimed.before(&key),
        );
        claimed.record(key, r.result, line.quantity.amount);
        lines.push(r);
    }
    let result = overall(&lines);
    // Remaining after this declaration, the same for every line on one item.
    for (line, r) in decl.lines.iter().zip(lines.iter_mut()) {
        let Some(rem) = r.remaining.as_mut() else {
            continue;
        };
        let Some(rec) = permits
            .iter()
            .find(|(p, _)| *p == line.permit_number)
            .and_then(|(_, r)| r.as_ref())
        else {
            continue;
        };
        let Some(item) = rec
            .items
            .iter()
            .find(|i| i.invoice_item_number == line.invoice_item_number)
        else {
            continue;
        };
        if !usable(rec, item) {
            continue; // nothing is left of it
        }
        let mut left = item.approved.saturating_sub(item.written_off);
        if result == DeclarationResult::Accepted {
            left = left
                .saturating_sub(claimed.before(&(line.permit_number, line.invoice_item_number)));
        }
        rem.amount = left;
    }
    DeclarationCheckResponse {
        declaration_number: decl.declaration_number.clone(),
        result,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::snapshot::tests::{d, party};

    const A: &str = "0105536112014";
    const TISI: &str = "0994000617721";

    fn permit_number() -> PermitNumber {
        PermitNumber::parse("TISI-P-2569-00000042").unwrap()
    }

    fn record() -> PermitRecord {
        let item = |n: u16, hs: &str, approved: u64, written: u64, status| PermitItem {
            invoice_item_number: n,
            hs_code: HsCode::parse(hs).unwrap(),
            country_of_origin: Country::parse("CN").unwrap(),
            unit: UnitCode::parse("C62").unwrap(),
            approved: Amount::from_milli(approved * 1000),
            written_off: Amount::from_milli(written * 1000),
            status,
        };
        PermitRecord {
            permit: Permit {
                number: permit_number(),
                issue_date: d("2026-11-26"),
                effective_date: d("2026-11-26"),
                expiry_date: d("2027-03-15"),
                arrival_date: d("2026-12-15"),
                invoice_number: "INV-1".into(),
                invoice_date: d("2026-11-20"),
                load_port: crate::domain::types::Port::parse("CNSHA").unwrap(),
                discharge_port: crate::domain::types::Port::parse("THLCH").unwrap(),
                country_of_destination: Country::TH,
            },
            holder: party(A, "00000"),
            issuing_authority: TaxNumber::parse(TISI).unwrap(),
            decision: RequestDecision::HoldForInspection,
            cancelled_on: None,
            items: vec![
                item(1, "85044090", 10, 4, ItemStatus::Approved),
                item(2, "65061010", 5, 0, ItemStatus::HoldForInspection),
                item(3, "94033000", 0, 0, ItemStatus::NotRequired),
            ],
        }
    }

    fn line(n: u16, f: impl FnOnce(&mut DeclarationLine)) -> DeclarationLine {
        let mut l = DeclarationLine {
            line_number: n,
            permit_number: permit_number(),
            permit_issue_date: d("2026-11-26"),
            issuing_authority_tax_number: TaxNumber::parse(TISI).unwrap(),
            invoice_number: "INV-1".into(),
            invoice_date: d("2026-11-20"),
            invoice_item_number: 1,
            hs_code: HsCode::parse("85044090").unwrap(),
            quantity: Quantity::parse("3", "C62").unwrap(),
            load_port: crate::domain::types::Port::parse("CNSHA").unwrap(),
            discharge_port: crate::domain::types::Port::parse("THLCH").unwrap(),
            country_of_origin: Country::parse("CN").unwrap(),
        };
        f(&mut l);
        l
    }

    fn decl(lines: Vec<DeclarationLine>) -> DeclarationCheck {
        DeclarationCheck {
            declaration_number: "A0011-26-12-00001".into(),
            declaration_date: d("2026-12-15"),
            importer: party(A, "00000"),
            arrival_date: d("2026-12-15"),
            lines,
        }
    }

    fn compact(r: &DeclarationCheckResponse) -> String {
        let mut s = r.result.code().to_owned();
        for l in &r.lines {
            s += &format!("\n{} {}", l.line_number, l.result.code());
            if let Some(q) = &l.remaining {
                s += &format!(" rem={q}");
            }
            for reason in &l.reasons {
                assert!(!reason.message_th.is_empty() && !reason.message_en.is_empty());
                s += &format!(
                    " {}@{}",
                    reason.code.code(),
                    reason.field.replace("/DeclarationCheck", "")
                );
            }
        }
        s
    }

    #[track_caller]
    fn check(d: DeclarationCheck, rec: Option<PermitRecord>, expected: &str) {
        let got = compact(&check_declaration(&d, |_| rec.clone()));
        assert_eq!(got, expected.trim());
    }

    #[test]
    fn matching_cases() {
        let r = || Some(record());
        check(
            decl(vec![line(1, |_| {})]),
            r(),
            "ACCEPTED\n1 MATCHED rem=3 C62",
        );
        check(
            decl(vec![line(1, |l| {
                l.quantity = Quantity::parse("6", "C62").unwrap()
            })]),
            r(),
            "ACCEPTED\n1 MATCHED rem=0 C62",
        );
        check(
            decl(vec![line(1, |l| {
                l.quantity = Quantity::parse("6.001", "C62").unwrap()
            })]),
            r(),
            "REFUSED\n1 QUANTITY_EXCEEDED rem=6 C62 QUANTITY_EXCEEDED@/Line[1]/Quantity",
        );
        // Two lines on one item add up; refused as a whole, nothing deducted.
        check(
            decl(vec![line(1, |_| {}), line(2, |l| l.quantity = Quantity::parse("4", "C62").unwrap())]),
            r(),
            "REFUSED\n1 MATCHED rem=6 C62\n2 QUANTITY_EXCEEDED rem=6 C62 QUANTITY_EXCEEDED@/Line[2]/Quantity",
        );
        check(
            decl(vec![
                line(1, |_| {}),
                line(2, |l| l.quantity = Quantity::parse("2", "C62").unwrap()),
            ]),
            r(),
            "ACCEPTED\n1 MATCHED rem=1 C62\n2 MATCHED rem=1 C62",
        );
        // A line that did not match takes nothing from the item.
        check(
            decl(vec![
                line(1, |l| {
                    l.invoice_number = "X".into();
                    l.quantity = Quantity::parse("6", "C62").unwrap();
                }),
                line(2, |l| l.quantity = Quantity::parse("6", "C62").unwrap()),
            ]),
            r(),
            "REFUSED\n1 MISMATCH rem=6 C62 FIELD_MISMATCH@/Line[1]/InvoiceNumber\n2 MATCHED rem=6 C62",
        );
        check(
            decl(vec![line(1, |_| {})]),
            None,
            "REFUSED\n1 PERMIT_NOT_FOUND PERMIT_NOT_FOUND@/Line[1]/PermitNumber",
        );
        // Every mismatched field is named.
        check(
            decl(vec![line(1, |l| {
                l.permit_issue_date = d("2026-11-25");
                l.issuing_authority_tax_number = TaxNumber::parse(A).unwrap();
                l.invoice_number = "INV-2".into();
                l.invoice_date = d("2026-11-21");
                l.hs_code = HsCode::parse("85044091").unwrap();
                l.load_port = crate::domain::types::Port::parse("CNNGB").unwrap();
                l.discharge_port = crate::domain::types::Port::parse("THBKK").unwrap();
                l.country_of_origin = Country::parse("VN").unwrap();
                l.quantity = Quantity::parse("3", "KGM").unwrap();
            })]),
            r(),
            "REFUSED\n1 MISMATCH rem=6 C62 FIELD_MISMATCH@/Line[1]/PermitIssueDate FIELD_MISMATCH@/Line[1]/IssuingAuthorityTaxNumber FIELD_MISMATCH@/Line[1]/InvoiceNumber FIELD_MISMATCH@/Line[1]/InvoiceDate FIELD_MISMATCH@/Line[1]/LoadPort FIELD_MISMATCH@/Line[1]/DischargePort FIELD_MISMATCH@/Line[1]/HSCode FIELD_MISMATCH@/Line[1]/CountryOfOrigin UNIT_MISMATCH@/Line[1]/Quantity/@unitCode",
        );
        check(decl(vec![line(1, |l| l.discharge_port = crate::domain::types::Port::parse("MYPKG").unwrap())]), r(), "REFUSED\n1 MISMATCH rem=6 C62 FIELD_MISMATCH@/Line[1]/DischargePort FIELD_MISMATCH@/Line[1]/DischargePort");
        check(
            decl(vec![line(1, |l| {
                l.hs_code = HsCode::parse("85044090001").unwrap()
            })]),
            r(),
            "ACCEPTED\n1 MATCHED rem=3 C62",
        );
        check(
            decl(vec![line(1, |l| l.invoice_item_number = 9)]),
            r(),
            "REFUSED\n1 MISMATCH FIELD_MISMATCH@/Line[1]/InvoiceItemNumber",
        );
        // Importer and arrival window.
        let mut other = decl(vec![line(1, |_| {})]);
        other.importer = party("0994000617721", "00000");
        check(
            other,
            r(),
            "REFUSED\n1 MISMATCH rem=6 C62 IMPORTER_MISMATCH@/Importer/TaxNumber",
        );
        let mut other = decl(vec![line(1, |_| {})]);
        other.importer = party(A, "00001");
        check(
            other,
            r(),
            "REFUSED\n1 MISMATCH rem=6 C62 IMPORTER_MISMATCH@/Importer/Branch",
        );
        for (arrival, want) in [
            ("2027-03-15", "ACCEPTED\n1 MATCHED rem=3 C62"),
            (
                "2027-03-16",
                "REFUSED\n1 PERMIT_NOT_VALID rem=6 C62 ARRIVAL_OUTSIDE_VALIDITY@/ArrivalDate",
            ),
            (
                "2026-11-25",
                "REFUSED\n1 PERMIT_NOT_VALID rem=6 C62 ARRIVAL_OUTSIDE_VALIDITY@/ArrivalDate",
            ),
        ] {
            let mut x = decl(vec![line(1, |_| {})]);
            x.arrival_date = d(arrival);
            check(x, r(), want);
        }
        // Cancelled permit; item without approved quantity; held item.
        let mut cancelled = record();
        cancelled.decision = RequestDecision::Cancelled;
        check(
            decl(vec![line(1, |_| {})]),
            Some(cancelled),
            "REFUSED\n1 PERMIT_NOT_VALID rem=0 C62 PERMIT_NOT_VALID@/Line[1]/PermitNumber",
        );
        check(
            decl(vec![line(1, |l| {
                l.invoice_item_number = 3;
                l.hs_code = HsCode::parse("94033000").unwrap();
            })]),
            r(),
            "REFUSED\n1 PERMIT_NOT_VALID rem=0 C62 PERMIT_NOT_VALID@/Line[1]/InvoiceItemNumber",
        );
        let held = |n: u16| {
            line(n, |l| {
                l.invoice_item_number = 2;
                l.hs_code = HsCode::parse("65061010").unwrap();
            })
        };
        check(
            decl(vec![held(1)]),
            r(),
            "HOLD\n1 HOLD rem=5 C62 AWAITING_INSPECTION@/Line[1]/InvoiceItemNumber",
        );
        check(decl(vec![line(1, |_| {}), held(2)]), r(), "HOLD\n1 MATCHED rem=6 C62\n2 HOLD rem=5 C62 AWAITING_INSPECTION@/Line[2]/InvoiceItemNumber");
        check(decl(vec![line(1, |l| l.invoice_number = "X".into()), held(2)]), r(), "REFUSED\n1 MISMATCH rem=6 C62 FIELD_MISMATCH@/Line[1]/InvoiceNumber\n2 HOLD rem=5 C62 AWAITING_INSPECTION@/Line[2]/InvoiceItemNumber");
        check(decl(vec![]), r(), "REFUSED");
    }

    #[test]
    fn single_line_reports_what_would_remain() {
        let rec = record();
        let l = line(1, |_| {});
        let r = match_line(
            &l,
            1,
            &party(A, "00000"),
            d("2026-12-15"),
            Some(&rec),
            Amount::from_milli(1000),
        );
        assert_eq!(r.result, LineResult::Matched);
        assert_eq!(
            r.remaining.as_ref().unwrap().amount,
            Amount::from_milli(2000)
        );
        assert_eq!(overall(&[r]), DeclarationResult::Accepted);
    }
}

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
//!   quantity must fit after the earlier matched lines.
//! * Overall: `ACCEPTED` only when every line is `MATCHED`; `HOLD` when at least one line is
//!   `HOLD` and every other line is `MATCHED` or `HOLD`; otherwise `REFUSED`. A declaration with no
//!   line is `REFUSED`.
//! * `RemainingQuantity` is what remains after this declaration: approved − written off − the
//!   declaration's matched lines on that item when the declaration is ACCEPTED (it is then
//!   written off), else approved − written off (nothing is written off).

use chrono::NaiveDate;

use super::documents::{
    DeclarationCheck, DeclarationCheckResponse, DeclarationLine, DeclarationLineResult,
    DeclarationResult, ItemStatus, LineResult, Permit, Reason, ReasonCode, RequestDecision,
};
use super::messages::{self as msg, Text};
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
    pub items: Vec<PermitItem>,
}

fn hs_agree(a: &HsCode, b: &HsCode) -> bool {
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
    fn field(
        &mut self,
        ok: bool,
        name: &str,
        th: &str,
        en: &str,
        declared: String,
        on_permit: String,
    ) {
        if !ok {
            self.mismatch = true;
            let text = msg::field_mismatch(self.line, th, en, &declared, &on_permit, &self.permit);
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
            msg::permit_not_valid(n, &pn, rec.decision.code()),
        );
    }
    cx.field(
        line.permit_issue_date == p.issue_date,
        "PermitIssueDate",
        "วันที่ออกใบอนุญาต",
        "permit issue date",
        line.permit_issue_date.to_string(),
        p.issue_date.to_string(),
    );
    cx.field(
        line.issuing_authority_tax_number == rec.issuing_authority,
        "IssuingAuthorityTaxNumber",
        "เลขประจำตัวผู้เสียภาษีของหน่วยงานผู้ออกใบอนุญาต",
        "issuing authority tax number",
        line.issuing_authority_tax_number.to_string(),
        rec.issuing_authority.to_string(),
    );
    cx.field(
        line.invoice_number.trim() == p.invoice_number.trim(),
        "InvoiceNumber",
        "เลขที่บัญชีราคาสินค้า",
        "invoice number",
        line.invoice_number.clone(),
        p.invoice_number.clone(),
    );
    cx.field(
        line.invoice_date == p.invoice_date,
        "InvoiceDate",
        "วันที่บัญชีราคาสินค้า",
        "invoice date",
        line.invoice_date.to_string(),
        p.invoice_date.to_string(),
    );
    cx.field(
        line.load_port == p.load_port,
        "LoadPort",
        "ท่าต้นทาง",
        "load port",
        line.load_port.to_string(),
        p.load_port.to_string(),
    );
    cx.field(
        line.discharge_port == p.discharge_port,
        "DischargePort",
        "ท่าปลายทาง",
        "discharge port",
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
                "พิกัดศุลกากร",
                "HS code",
                line.hs_code.to_string(),
                item.hs_code.to_string(),
            );
            cx.field(
                line.country_of_origin == item.country_of_origin,
                "CountryOfOrigin",
                "ประเทศกำเนิด",
                "country of origin",
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
            let left = item
                .approved
                .saturating_sub(item.written_off)
                .saturating_sub(claimed_before);
            let mut after = left;
            if unit_ok && item.status.approves_quantity() {
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
                .find(|i| i.invoice_item_number == line.invoice_item_number),
        ) {
            r.amount = item
                .approved
                .saturating_sub(item.written_off)
                .saturating_sub(claimed_before);
        }
    }
    DeclarationLineResult {
        line_number: n,
        result,
        remaining,
        reasons: cx.reasons,
    }
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
    // (permit, invoice item) → quantity claimed by matched lines so far.
    let mut claimed: Vec<((PermitNumber, u16), Amount)> = Vec::new();
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
        let before = claimed
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Amount::ZERO, |(_, a)| *a);
        let r = match_line(
            line,
            i + 1,
            &decl.importer,
            decl.arrival_date,
            permits[idx].1.as_ref(),
            before,
        );
        if r.result == LineResult::Matched {
            match claimed.iter_mut().find(|(k, _)| *k == key) {
                Some((_, a)) => *a = a.checked_add(line.quantity.amount).unwrap_or(Amount::MAX),
                None => claimed.push((key, line.quantity.amount)),
            }
        }
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
        let mut left = item.approved.saturating_sub(item.written_off);
        if result == DeclarationResult::Accepted {
            let key = (line.permit_number, line.invoice_item_number);
            let c = claimed
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(Amount::ZERO, |(_, a)| *a);
            left = left.saturating_sub(c);
        }
        rem.amount = left;
    }
    DeclarationCheckResponse {
        declaration_number: decl.declaration_number.clone(),
        result,
        lines,
    }
}

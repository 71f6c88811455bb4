//! The business documents of spec §3 as domain values: what a request says once it has been
//! decoded and checked for form. Fields whose *content* is judged by the decision rules (the
//! importer's check digit, the standard text) are kept as written so that the rules can give
//! a business reason instead of a transport error.

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::types::{
    Branch, Country, HsCode, PartyKey, PermitNumber, Port, Quantity, ReferenceNumber, StandardRef,
    TaxNumber, UnitCode,
};

/// `DocumentControl/Function` (UN/EDIFACT 1225).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `9`
    Original,
    /// `5`
    Replacement,
    /// `1`
    Cancellation,
}

impl Function {
    pub fn code(self) -> &'static str {
        match self {
            Function::Original => "9",
            Function::Replacement => "5",
            Function::Cancellation => "1",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "9" => Some(Function::Original),
            "5" => Some(Function::Replacement),
            "1" => Some(Function::Cancellation),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    Licensed,
    Special,
}

impl RequestType {
    pub fn code(self) -> &'static str {
        match self {
            RequestType::Licensed => "LICENSED",
            RequestType::Special => "SPECIAL",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "LICENSED" => Some(RequestType::Licensed),
            "SPECIAL" => Some(RequestType::Special),
            _ => None,
        }
    }
}

/// WCO transport mode codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportMode {
    Sea = 1,
    Rail = 2,
    Road = 3,
    Air = 4,
    Post = 5,
}

impl TransportMode {
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(s: &str) -> Option<Self> {
        match s {
            "1" => Some(TransportMode::Sea),
            "2" => Some(TransportMode::Rail),
            "3" => Some(TransportMode::Road),
            "4" => Some(TransportMode::Air),
            "5" => Some(TransportMode::Post),
            _ => None,
        }
    }
}

/// The importer as the request names it. The tax number has the right form (13 digits) but its
/// check digit is judged by rule 0, so it is kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importer {
    pub tax_number: String,
    pub branch: Branch,
    pub name: String,
    pub name_en: Option<String>,
}

impl Importer {
    /// The importer's key, when its tax number is valid.
    pub fn key(&self) -> Option<PartyKey> {
        TaxNumber::parse(&self.tax_number).ok().map(|t| PartyKey {
            tax_number: t,
            branch: self.branch,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub tax_number: TaxNumber,
    pub branch: Branch,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub arrival_date: NaiveDate,
    pub transport_mode: TransportMode,
    pub load_port: Port,
    pub discharge_port: Port,
    pub country_of_destination: Country,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub number: String,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manufacturer {
    pub name: String,
    pub country: Country,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    pub lab_id: String,
    pub report_number: String,
    pub issue_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodsItem {
    /// 1..=999, unique within the request.
    pub item_number: u16,
    /// n..4
    pub invoice_item_number: u16,
    pub hs_code: HsCode,
    pub description: String,
    pub description_en: Option<String>,
    pub brand: String,
    pub model: String,
    pub manufacturer: Manufacturer,
    pub country_of_origin: Country,
    pub quantity: Quantity,
    /// As written; parsed by rule 2.
    pub standard: Option<String>,
    pub licence_number: Option<String>,
    pub special_purpose: Option<String>,
    pub test_report: Option<TestReport>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPermitRequest {
    pub reference: ReferenceNumber,
    pub function: Function,
    pub request_type: RequestType,
    pub importer: Importer,
    pub agent: Option<Agent>,
    pub shipment: Shipment,
    pub invoice: Invoice,
    pub items: Vec<GoodsItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationLine {
    pub line_number: u16,
    pub permit_number: PermitNumber,
    pub permit_issue_date: NaiveDate,
    pub issuing_authority_tax_number: TaxNumber,
    pub invoice_number: String,
    pub invoice_date: NaiveDate,
    pub invoice_item_number: u16,
    pub hs_code: HsCode,
    pub quantity: Quantity,
    pub load_port: Port,
    pub discharge_port: Port,
    pub country_of_origin: Country,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationCheck {
    pub declaration_number: String,
    pub declaration_date: NaiveDate,
    pub importer: PartyKey,
    pub arrival_date: NaiveDate,
    pub lines: Vec<DeclarationLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmendmentAction {
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationAmendment {
    pub declaration_number: String,
    pub action: AmendmentAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermitStatusQuery {
    ByPermit(PermitNumber),
    ByReference {
        importer: PartyKey,
        reference: ReferenceNumber,
    },
}

/// Every business document the gateway accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundDocument {
    ImportPermitRequest(ImportPermitRequest),
    DeclarationCheck(DeclarationCheck),
    DeclarationAmendment(DeclarationAmendment),
    PermitStatusQuery(PermitStatusQuery),
}

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

/// Status of one goods item (spec §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemStatus {
    Approved,
    HoldForInspection,
    UnderReview,
    Rejected,
    NotRequired,
}

impl ItemStatus {
    pub fn code(self) -> &'static str {
        match self {
            ItemStatus::Approved => "APPROVED",
            ItemStatus::HoldForInspection => "HOLD_FOR_INSPECTION",
            ItemStatus::UnderReview => "UNDER_REVIEW",
            ItemStatus::Rejected => "REJECTED",
            ItemStatus::NotRequired => "NOT_REQUIRED",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Some(match s {
            "APPROVED" => ItemStatus::Approved,
            "HOLD_FOR_INSPECTION" => ItemStatus::HoldForInspection,
            "UNDER_REVIEW" => ItemStatus::UnderReview,
            "REJECTED" => ItemStatus::Rejected,
            "NOT_REQUIRED" => ItemStatus::NotRequired,
            _ => return None,
        })
    }
}

/// Decision on a whole request (spec §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestDecision {
    Approved,
    HoldForInspection,
    UnderReview,
    Rejected,
    NotRequired,
    Cancelled,
}

impl RequestDecision {
    pub fn code(self) -> &'static str {
        match self {
            RequestDecision::Approved => "APPROVED",
            RequestDecision::HoldForInspection => "HOLD_FOR_INSPECTION",
            RequestDecision::UnderReview => "UNDER_REVIEW",
            RequestDecision::Rejected => "REJECTED",
            RequestDecision::NotRequired => "NOT_REQUIRED",
            RequestDecision::Cancelled => "CANCELLED",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Some(match s {
            "APPROVED" => RequestDecision::Approved,
            "HOLD_FOR_INSPECTION" => RequestDecision::HoldForInspection,
            "UNDER_REVIEW" => RequestDecision::UnderReview,
            "REJECTED" => RequestDecision::Rejected,
            "NOT_REQUIRED" => RequestDecision::NotRequired,
            "CANCELLED" => RequestDecision::Cancelled,
            _ => return None,
        })
    }

    /// Whether a permit exists for a request with this decision.
    pub fn issues_permit(self) -> bool {
        matches!(
            self,
            RequestDecision::Approved | RequestDecision::HoldForInspection
        )
    }

    /// Aggregates item statuses as spec §6 says: REJECTED if any item is; else UNDER_REVIEW if
    /// any is; else HOLD_FOR_INSPECTION if any is; else APPROVED if any is; else NOT_REQUIRED.
    pub fn aggregate(items: impl IntoIterator<Item = ItemStatus>) -> Self {
        let (mut rej, mut rev, mut hold, mut appr) = (false, false, false, false);
        for s in items {
            match s {
                ItemStatus::Rejected => rej = true,
                ItemStatus::UnderReview => rev = true,
                ItemStatus::HoldForInspection => hold = true,
                ItemStatus::Approved => appr = true,
                ItemStatus::NotRequired => {}
            }
        }
        if rej {
            RequestDecision::Rejected
        } else if rev {
            RequestDecision::UnderReview
        } else if hold {
            RequestDecision::HoldForInspection
        } else if appr {
            RequestDecision::Approved
        } else {
            RequestDecision::NotRequired
        }
    }
}

/// Every reason code of the contract (spec §4 and §6, and the Customs matching of §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonCode {
    ImporterTaxNumberInvalid,
    StandardUnknown,
    StandardNotInForce,
    StandardHsMismatch,
    LicenceRequired,
    LicenceNotFound,
    LicenceTypeInvalid,
    LicenceHolderMismatch,
    LicenceStandardMismatch,
    LicenceSuspended,
    LicenceRevoked,
    LicenceNotValid,
    LicenceProductMismatch,
    SpecialPurposeNotAllowed,
    SpecialQuantityExceeded,
    TestReportRequired,
    LabNotAccredited,
    OfficerReview,
    InspectionSelected,
    DuplicateReference,
    PermitInUse,
    ReferenceNotFound,
    /// An officer's decision on an item (officer workflow).
    OfficerDecision,
    /// Customs matching: a field of a declaration line differs from the permit.
    FieldMismatch,
    PermitNotFound,
    PermitNotValid,
    QuantityExceeded,
    UnitMismatch,
    ImporterMismatch,
    ArrivalOutsideValidity,
    AwaitingInspection,
    /// A permit request whose arrival date lies so far back that a permit issued on the
    /// decision date would already have expired.
    ArrivalDatePassed,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 32] = [
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
        ReasonCode::OfficerReview,
        ReasonCode::InspectionSelected,
        ReasonCode::DuplicateReference,
        ReasonCode::PermitInUse,
        ReasonCode::ReferenceNotFound,
        ReasonCode::OfficerDecision,
        ReasonCode::FieldMismatch,
        ReasonCode::PermitNotFound,
        ReasonCode::PermitNotValid,
        ReasonCode::QuantityExceeded,
        ReasonCode::UnitMismatch,
        ReasonCode::ImporterMismatch,
        ReasonCode::ArrivalOutsideValidity,
        ReasonCode::AwaitingInspection,
        ReasonCode::ArrivalDatePassed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReasonCode::ImporterTaxNumberInvalid => "IMPORTER_TAX_NUMBER_INVALID",
            ReasonCode::StandardUnknown => "STANDARD_UNKNOWN",
            ReasonCode::StandardNotInForce => "STANDARD_NOT_IN_FORCE",
            ReasonCode::StandardHsMismatch => "STANDARD_HS_MISMATCH",
            ReasonCode::LicenceRequired => "LICENCE_REQUIRED",
            ReasonCode::LicenceNotFound => "LICENCE_NOT_FOUND",
            ReasonCode::LicenceTypeInvalid => "LICENCE_TYPE_INVALID",
            ReasonCode::LicenceHolderMismatch => "LICENCE_HOLDER_MISMATCH",
            ReasonCode::LicenceStandardMismatch => "LICENCE_STANDARD_MISMATCH",
            ReasonCode::LicenceSuspended => "LICENCE_SUSPENDED",
            ReasonCode::LicenceRevoked => "LICENCE_REVOKED",
            ReasonCode::LicenceNotValid => "LICENCE_NOT_VALID",
            ReasonCode::LicenceProductMismatch => "LICENCE_PRODUCT_MISMATCH",
            ReasonCode::SpecialPurposeNotAllowed => "SPECIAL_PURPOSE_NOT_ALLOWED",
            ReasonCode::SpecialQuantityExceeded => "SPECIAL_QUANTITY_EXCEEDED",
            ReasonCode::TestReportRequired => "TEST_REPORT_REQUIRED",
            ReasonCode::LabNotAccredited => "LAB_NOT_ACCREDITED",
            ReasonCode::OfficerReview => "OFFICER_REVIEW",
            ReasonCode::InspectionSelected => "INSPECTION_SELECTED",
            ReasonCode::DuplicateReference => "DUPLICATE_REFERENCE",
            ReasonCode::PermitInUse => "PERMIT_IN_USE",
            ReasonCode::ReferenceNotFound => "REFERENCE_NOT_FOUND",
            ReasonCode::OfficerDecision => "OFFICER_DECISION",
            ReasonCode::FieldMismatch => "FIELD_MISMATCH",
            ReasonCode::PermitNotFound => "PERMIT_NOT_FOUND",
            ReasonCode::PermitNotValid => "PERMIT_NOT_VALID",
            ReasonCode::QuantityExceeded => "QUANTITY_EXCEEDED",
            ReasonCode::UnitMismatch => "UNIT_MISMATCH",
            ReasonCode::ImporterMismatch => "IMPORTER_MISMATCH",
            ReasonCode::ArrivalOutsideValidity => "ARRIVAL_OUTSIDE_VALIDITY",
            ReasonCode::ArrivalDatePassed => "ARRIVAL_DATE_PASSED",
            ReasonCode::AwaitingInspection => "AWAITING_INSPECTION",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// Why an item (or a declaration line) has its status: a code, the XPath of the field at fault
/// in the request, and a message in Thai and in English that says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    pub field: String,
    pub message_th: String,
    pub message_en: String,
}

/// The result for one goods item (spec §3.2 `ItemResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    pub item_number: u16,
    pub invoice_item_number: u16,
    pub hs_code: HsCode,
    pub country_of_origin: Country,
    pub status: ItemStatus,
    pub standard: Option<StandardRef>,
    pub approved_quantity: Option<Quantity>,
    pub reasons: Vec<Reason>,
}

/// The permit block of a response (spec §3.2 `Permit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    pub number: PermitNumber,
    pub issue_date: NaiveDate,
    pub effective_date: NaiveDate,
    pub expiry_date: NaiveDate,
    pub arrival_date: NaiveDate,
    pub invoice_number: String,
    pub invoice_date: NaiveDate,
    pub load_port: Port,
    pub discharge_port: Port,
    pub country_of_destination: Country,
}

/// `ImportPermitResponse` (spec §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPermitResponse {
    pub reference: ReferenceNumber,
    pub function: Function,
    pub request_id: String,
    pub decided_at: DateTime<FixedOffset>,
    pub issuing_authority_tax_number: TaxNumber,
    pub issuing_authority_name: String,
    /// As the request gave it (the check digit may be wrong: rule 0).
    pub importer_tax_number: String,
    pub importer_branch: Branch,
    pub decision: RequestDecision,
    pub permit: Option<Permit>,
    pub items: Vec<ItemResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineResult {
    Matched,
    Mismatch,
    PermitNotFound,
    PermitNotValid,
    QuantityExceeded,
    Hold,
}

impl LineResult {
    pub fn code(self) -> &'static str {
        match self {
            LineResult::Matched => "MATCHED",
            LineResult::Mismatch => "MISMATCH",
            LineResult::PermitNotFound => "PERMIT_NOT_FOUND",
            LineResult::PermitNotValid => "PERMIT_NOT_VALID",
            LineResult::QuantityExceeded => "QUANTITY_EXCEEDED",
            LineResult::Hold => "HOLD",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Some(match s {
            "MATCHED" => LineResult::Matched,
            "MISMATCH" => LineResult::Mismatch,
            "PERMIT_NOT_FOUND" => LineResult::PermitNotFound,
            "PERMIT_NOT_VALID" => LineResult::PermitNotValid,
            "QUANTITY_EXCEEDED" => LineResult::QuantityExceeded,
            "HOLD" => LineResult::Hold,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclarationResult {
    Accepted,
    Refused,
    Hold,
}

impl DeclarationResult {
    pub fn code(self) -> &'static str {
        match self {
            DeclarationResult::Accepted => "ACCEPTED",
            DeclarationResult::Refused => "REFUSED",
            DeclarationResult::Hold => "HOLD",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Some(match s {
            "ACCEPTED" => DeclarationResult::Accepted,
            "REFUSED" => DeclarationResult::Refused,
            "HOLD" => DeclarationResult::Hold,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationLineResult {
    pub line_number: u16,
    pub result: LineResult,
    /// Remaining quantity of the permit item after this declaration (absent when the permit
    /// item could not be found).
    pub remaining: Option<Quantity>,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationCheckResponse {
    pub declaration_number: String,
    pub result: DeclarationResult,
    pub lines: Vec<DeclarationLineResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmendmentResult {
    Restored,
    UnknownDeclaration,
}

impl AmendmentResult {
    pub fn code(self) -> &'static str {
        match self {
            AmendmentResult::Restored => "RESTORED",
            AmendmentResult::UnknownDeclaration => "UNKNOWN_DECLARATION",
        }
    }
    pub fn from_code(s: &str) -> Option<Self> {
        Some(match s {
            "RESTORED" => AmendmentResult::Restored,
            "UNKNOWN_DECLARATION" => AmendmentResult::UnknownDeclaration,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationAmendmentResponse {
    pub declaration_number: String,
    pub result: AmendmentResult,
}

/// Per-item quantities of a permit (approved, written off, remaining).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemQuantities {
    pub item_number: u16,
    pub invoice_item_number: u16,
    pub status: ItemStatus,
    pub unit: UnitCode,
    pub approved: super::types::Amount,
    pub written_off: super::types::Amount,
    pub remaining: super::types::Amount,
}

/// Who made a state change: `system`, `officer:<id>` or `customs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    System,
    Officer(String),
    Customs,
}

impl Actor {
    pub fn code(&self) -> String {
        match self {
            Actor::System => "system".into(),
            Actor::Officer(id) => format!("officer:{id}"),
            Actor::Customs => "customs".into(),
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(Actor::System),
            "customs" => Some(Actor::Customs),
            _ => s
                .strip_prefix("officer:")
                .filter(|id| !id.is_empty())
                .map(|id| Actor::Officer(id.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: DateTime<FixedOffset>,
    pub actor: Actor,
    /// The state entered (a request decision or item status code, or a write-off event).
    pub state: String,
    pub reason_th: String,
    pub reason_en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusQueryResult {
    Found,
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitStatusResponse {
    pub result: StatusQueryResult,
    pub reference: Option<ReferenceNumber>,
    pub request_id: Option<String>,
    pub decision: Option<RequestDecision>,
    pub permit: Option<Permit>,
    pub items: Vec<ItemQuantities>,
    pub history: Vec<HistoryEntry>,
}

/// What the decision rules conclude for one request (spec §6): the item results in request
/// order, the request decision and, when a permit is due, its effective and expiry dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub decision: RequestDecision,
    pub items: Vec<ItemResult>,
    /// `Some` exactly when `decision.issues_permit()`.
    pub permit_dates: Option<PermitDates>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermitDates {
    pub effective: NaiveDate,
    pub expiry: NaiveDate,
}

/// Every business document the gateway sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundDocument {
    ImportPermitResponse(ImportPermitResponse),
    DeclarationCheckResponse(DeclarationCheckResponse),
    DeclarationAmendmentResponse(DeclarationAmendmentResponse),
    PermitStatusResponse(PermitStatusResponse),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_follows_precedence() {
        use ItemStatus::*;
        let check = |items: &[ItemStatus], want: RequestDecision| {
            assert_eq!(
                RequestDecision::aggregate(items.iter().copied()),
                want,
                "{items:?}"
            );
        };
        check(
            &[Approved, Rejected, UnderReview],
            RequestDecision::Rejected,
        );
        check(
            &[Approved, UnderReview, HoldForInspection],
            RequestDecision::UnderReview,
        );
        check(
            &[Approved, HoldForInspection],
            RequestDecision::HoldForInspection,
        );
        check(&[Approved, NotRequired], RequestDecision::Approved);
        check(&[NotRequired, NotRequired], RequestDecision::NotRequired);
        check(&[], RequestDecision::NotRequired);
    }

    #[test]
    fn codes_round_trip() {
        for c in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_code(c.code()), Some(c));
        }
        for a in [
            Actor::System,
            Actor::Customs,
            Actor::Officer("k.somchai".into()),
        ] {
            assert_eq!(Actor::parse(&a.code()), Some(a));
        }
        assert_eq!(Actor::parse("officer:"), None);
    }
}

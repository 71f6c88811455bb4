//! The JSON documents of the status API (and their OpenAPI schemas). Built from the store's
//! read models; quantities are exact decimal strings (thousandths), dates ISO 8601.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::api::{
    HistoryRecord, ItemRecord, PermitRecord, ReasonRecord, RequestRecord, RequestSummary,
};

/// A text in Thai and in English.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bilingual {
    /// Thai.
    pub th: String,
    /// English.
    pub en: String,
}

/// What a decision or item status code means, in Thai and English.
pub fn status_text(code: &str) -> Bilingual {
    let (th, en) = match code {
        "APPROVED" => ("อนุมัติ", "Approved"),
        "HOLD_FOR_INSPECTION" => ("กักตรวจสอบที่ด่านศุลกากร", "Held for inspection at the port"),
        "UNDER_REVIEW" => ("อยู่ระหว่างการพิจารณาของเจ้าหน้าที่", "Under review by an officer"),
        "REJECTED" => ("ไม่อนุมัติ", "Rejected"),
        "NOT_REQUIRED" => ("ไม่ต้องขออนุญาต", "No permit required"),
        "CANCELLED" => ("ยกเลิกแล้ว", "Cancelled"),
        "ACTIVE" => ("ใช้งานได้", "Active"),
        "WRITTEN_OFF" => (
            "ตัดบัญชีปริมาณกับใบขนสินค้าแล้ว",
            "Written off against a customs declaration",
        ),
        "RESTORED" => (
            "คืนปริมาณจากใบขนสินค้าที่ยกเลิก",
            "Restored from a cancelled customs declaration",
        ),
        other => (other, other),
    };
    Bilingual {
        th: th.to_string(),
        en: en.to_string(),
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, naming the field at fault.
    pub detail: String,
}

/// A party (importer or broker) as tax number and branch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Party {
    #[schema(example = "0105536112014")]
    pub tax_number: String,
    #[schema(example = "00000")]
    pub branch: String,
    pub name: String,
    pub name_en: Option<String>,
}

/// The permit issued for a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermitDto {
    #[schema(example = "TISI-P-2569-00000042")]
    pub permit_number: String,
    /// `ACTIVE` or `CANCELLED`.
    pub status: String,
    pub status_text: Bilingual,
    #[schema(format = Date)]
    pub issue_date: String,
    #[schema(format = Date)]
    pub effective_date: String,
    #[schema(format = Date)]
    pub expiry_date: String,
    #[schema(format = Date)]
    pub arrival_date: String,
    pub invoice_number: String,
    #[schema(format = Date)]
    pub invoice_date: String,
    pub load_port: String,
    pub discharge_port: String,
    pub country_of_destination: String,
    #[schema(format = DateTime)]
    pub cancelled_at: Option<String>,
}

/// Why an item has its status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonDto {
    #[schema(example = "LICENCE_NOT_FOUND")]
    pub code: String,
    /// XPath of the field at fault in the request.
    pub field: String,
    pub message: Bilingual,
}

/// One goods item: status, reasons and quantities (approved, written off, remaining).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemDto {
    pub item_number: i64,
    pub invoice_item_number: i64,
    pub hs_code: String,
    pub description: String,
    pub brand: String,
    pub model: String,
    pub country_of_origin: String,
    /// Canonical standard reference, when the item names one.
    pub standard: Option<String>,
    /// `APPROVED`, `HOLD_FOR_INSPECTION`, `UNDER_REVIEW`, `REJECTED` or `NOT_REQUIRED`.
    pub status: String,
    pub status_text: Bilingual,
    /// UN/ECE Rec. 20 unit code of every quantity of the item.
    #[schema(example = "C62")]
    pub unit: String,
    /// Exact decimal.
    #[schema(example = "100")]
    pub requested: String,
    #[schema(example = "100")]
    pub approved: String,
    #[schema(example = "40")]
    pub written_off: String,
    #[schema(example = "60")]
    pub remaining: String,
    pub reasons: Vec<ReasonDto>,
}

/// One state change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryDto {
    #[schema(format = DateTime)]
    pub at: String,
    /// `system`, `officer:<id>` or `customs`.
    pub actor: String,
    /// The state entered: a decision code, `WRITTEN_OFF` or `RESTORED`.
    pub state: String,
    pub state_text: Bilingual,
    pub reason: Bilingual,
}

/// A request with its decision, permit, items and full history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestDetail {
    pub request_id: String,
    pub reference: String,
    pub importer: Party,
    pub agent: Option<Party>,
    /// `9` original, `5` replacement, `1` cancellation.
    pub function: String,
    /// `LICENSED` or `SPECIAL`.
    pub request_type: String,
    /// Version of the reference this request became (1 = original), if any.
    pub version: Option<i64>,
    /// `APPROVED`, `HOLD_FOR_INSPECTION`, `UNDER_REVIEW`, `REJECTED`, `NOT_REQUIRED` or
    /// `CANCELLED`.
    pub decision: String,
    pub decision_text: Bilingual,
    #[schema(format = DateTime)]
    pub decided_at: String,
    #[schema(format = Date)]
    pub arrival_date: String,
    pub permit: Option<PermitDto>,
    pub items: Vec<ItemDto>,
    pub history: Vec<HistoryDto>,
}

/// One request of an importer's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestSummaryDto {
    pub request_id: String,
    pub reference: String,
    pub function: String,
    pub request_type: String,
    pub version: Option<i64>,
    pub decision: String,
    pub decision_text: Bilingual,
    #[schema(format = DateTime)]
    pub decided_at: String,
    #[schema(format = Date)]
    pub arrival_date: String,
    pub permit_number: Option<String>,
    /// `ACTIVE` or `CANCELLED`.
    pub permit_status: Option<String>,
    pub permit_status_text: Option<Bilingual>,
    pub item_count: i64,
}

/// One page of an importer's requests, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestPage {
    pub requests: Vec<RequestSummaryDto>,
    /// Pass as `cursor` (with the same filters) for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl From<&ReasonRecord> for ReasonDto {
    fn from(r: &ReasonRecord) -> Self {
        ReasonDto {
            code: r.code.clone(),
            field: r.field.clone(),
            message: Bilingual {
                th: r.message_th.clone(),
                en: r.message_en.clone(),
            },
        }
    }
}

impl From<&ItemRecord> for ItemDto {
    fn from(i: &ItemRecord) -> Self {
        ItemDto {
            item_number: i.item_number,
            invoice_item_number: i.invoice_item_number,
            hs_code: i.hs_code.clone(),
            description: i.description.clone(),
            brand: i.brand.clone(),
            model: i.model.clone(),
            country_of_origin: i.country_of_origin.clone(),
            standard: i.standard.clone(),
            status_text: status_text(&i.status),
            status: i.status.clone(),
            unit: i.unit.clone(),
            requested: i.requested.to_string(),
            approved: i.approved.to_string(),
            written_off: i.written_off.to_string(),
            remaining: i.remaining.to_string(),
            reasons: i.reasons.iter().map(ReasonDto::from).collect(),
        }
    }
}

impl From<&PermitRecord> for PermitDto {
    fn from(p: &PermitRecord) -> Self {
        PermitDto {
            permit_number: p.number.clone(),
            status_text: status_text(&p.status),
            status: p.status.clone(),
            issue_date: p.issue_date.to_string(),
            effective_date: p.effective_date.to_string(),
            expiry_date: p.expiry_date.to_string(),
            arrival_date: p.arrival_date.to_string(),
            invoice_number: p.invoice_number.clone(),
            invoice_date: p.invoice_date.to_string(),
            load_port: p.load_port.clone(),
            discharge_port: p.discharge_port.clone(),
            country_of_destination: p.country_of_destination.clone(),
            cancelled_at: p.cancelled_at.map(time),
        }
    }
}

impl From<&HistoryRecord> for HistoryDto {
    fn from(h: &HistoryRecord) -> Self {
        HistoryDto {
            at: time(h.at),
            actor: h.actor.clone(),
            state_text: status_text(&h.state),
            state: h.state.clone(),
            reason: Bilingual {
                th: h.reason_th.clone(),
                en: h.reason_en.clone(),
            },
        }
    }
}

impl From<&RequestRecord> for RequestDetail {
    fn from(r: &RequestRecord) -> Self {
        let agent = match (&r.agent_tax_number, &r.agent_branch, &r.agent_name) {
            (Some(t), Some(b), Some(n)) => Some(Party {
                tax_number: t.clone(),
                branch: b.clone(),
                name: n.clone(),
                name_en: None,
            }),
            _ => None,
        };
        RequestDetail {
            request_id: r.request_id.clone(),
            reference: r.reference.clone(),
            importer: Party {
                tax_number: r.importer_tax_number.clone(),
                branch: r.importer_branch.clone(),
                name: r.importer_name.clone(),
                name_en: r.importer_name_en.clone(),
            },
            agent,
            function: r.function.clone(),
            request_type: r.request_type.clone(),
            version: r.version,
            decision_text: status_text(&r.decision),
            decision: r.decision.clone(),
            decided_at: time(r.decided_at),
            arrival_date: r.arrival_date.to_string(),
            permit: r.permit.as_ref().map(PermitDto::from),
            items: r.items.iter().map(ItemDto::from).collect(),
            history: r.history.iter().map(HistoryDto::from).collect(),
        }
    }
}

impl From<&RequestSummary> for RequestSummaryDto {
    fn from(s: &RequestSummary) -> Self {
        RequestSummaryDto {
            request_id: s.request_id.clone(),
            reference: s.reference.clone(),
            function: s.function.clone(),
            request_type: s.request_type.clone(),
            version: s.version,
            decision_text: status_text(&s.decision),
            decision: s.decision.clone(),
            decided_at: time(s.decided_at),
            arrival_date: s.arrival_date.to_string(),
            permit_number: s.permit_number.clone(),
            permit_status_text: s.permit_status.as_deref().map(status_text),
            permit_status: s.permit_status.clone(),
            item_count: s.items,
        }
    }
}

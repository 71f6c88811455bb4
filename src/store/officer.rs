//! The officer workflow: items waiting for an officer (UNDER_REVIEW) or for the result of a
//! physical inspection (HOLD_FOR_INSPECTION), and the officer's decision on them.
//!
//! A decision is one transaction: the item's new status (with an `OFFICER_DECISION` reason
//! when rejected), the request decision recomputed with `RequestDecision::aggregate`, a
//! permit issued when it becomes due (serial from the same counter/sequence as every other
//! permit; dates from `PermitDates::compute`), the history entry with actor
//! `officer:<id>`, and the new ImportPermitResponse rendered (by the caller's function, the
//! store knows no XML) and put in the outbox for the partner.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::common::{
    for_no_key_update, history, lock_permit_of, micros, permit_of_request,
    rebuild_permit_response_as,
};
use super::sql::{args, Conn, Ty};
use super::{OutboundMessage, Store, StoreError};
use crate::domain::{
    Actor, Function, ImportPermitResponse, ItemStatus, PermitDates, PermitNumber, ReasonCode,
    RequestDecision, TaxNumber,
};

/// What an officer does with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficerAction {
    /// UNDER_REVIEW → APPROVED, or HOLD_FOR_INSPECTION when the item was also selected for
    /// inspection (rule 16).
    Approve,
    /// UNDER_REVIEW → REJECTED.
    Reject,
    /// HOLD_FOR_INSPECTION → APPROVED (the sample passed): declarations of it now match.
    Release,
    /// HOLD_FOR_INSPECTION → REJECTED (the sample failed): declarations of it are refused.
    RejectAfterInspection,
}

impl OfficerAction {
    /// The status of the items the action applies to.
    pub fn applies_to(self) -> ItemStatus {
        match self {
            OfficerAction::Approve | OfficerAction::Reject => ItemStatus::UnderReview,
            OfficerAction::Release | OfficerAction::RejectAfterInspection => {
                ItemStatus::HoldForInspection
            }
        }
    }
    fn to(self) -> ItemStatus {
        match self {
            OfficerAction::Approve | OfficerAction::Release => ItemStatus::Approved,
            OfficerAction::Reject | OfficerAction::RejectAfterInspection => ItemStatus::Rejected,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            OfficerAction::Approve => "approve",
            OfficerAction::Reject => "reject",
            OfficerAction::Release => "release",
            OfficerAction::RejectAfterInspection => "reject-after-inspection",
        }
    }
}

/// The exchange a later response belongs to (the original request's ebMS facts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalExchange {
    pub message_id: String,
    pub conversation_id: String,
    /// The partner that sent the request (the response goes to it).
    pub from_party: String,
    /// The `type` of the request's From PartyId, when it had one.
    pub from_party_type: Option<String>,
    pub to_party: String,
    /// The `type` of the request's To PartyId, when it had one.
    pub to_party_type: Option<String>,
    pub cpa_id: String,
    pub packaging: String,
    pub ack_requested: bool,
}

/// Renders a later response as an ebMS message to deliver; provided by the service (wire
/// code). Called inside the transaction: no I/O.
pub type RenderLater =
    dyn Fn(&OriginalExchange, &ImportPermitResponse) -> OutboundMessage + Send + Sync;

/// An officer's decision on one item.
#[derive(Clone)]
pub struct OfficerDecisionInput {
    pub request_id: String,
    pub item_number: u16,
    pub action: OfficerAction,
    pub officer_id: String,
    pub reason: String,
    pub now: DateTime<Utc>,
    /// The decision date (Thailand), for the permit's issue date.
    pub today: NaiveDate,
    pub authority_tax_number: TaxNumber,
    pub authority_name: String,
    pub render: Arc<RenderLater>,
}

/// What came of an officer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficerOutcome {
    Done {
        decision: RequestDecision,
        permit_number: Option<String>,
        /// The MessageId of the response queued for the partner.
        outbox_message_id: String,
    },
    /// No current request with that id, or no such item in it.
    NotFound,
    /// The item is not in the state the action needs.
    WrongState(ItemStatus),
    /// The request is REJECTED already: none of its items waits for an officer.
    RequestRejected,
    /// An approval that would issue a permit expiring (arrival + 90 days) before it takes
    /// effect (the decision date): the arrival lies too far back. Nothing changed.
    NoPermitWindow {
        arrival: NaiveDate,
        expiry: NaiveDate,
    },
}

/// An item waiting for an officer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    pub request_id: String,
    pub reference: String,
    pub importer_tax_number: String,
    pub importer_branch: String,
    pub item_number: u16,
    pub hs_code: String,
    pub status: ItemStatus,
    /// When the item got its status (the request's decision time).
    pub since: DateTime<Utc>,
}

/// Items UNDER_REVIEW or HOLD_FOR_INSPECTION of current requests, oldest first; only those
/// waiting since before `older_than` when given.
pub(crate) async fn review_queue<C: Conn>(
    c: &mut C,
    older_than: Option<DateTime<Utc>>,
) -> Result<Vec<ReviewItem>, StoreError> {
    let cutoff = older_than.map(micros);
    let rows = c
        .rows(
            "SELECT r.request_id, r.reference, r.importer_tax_number, r.importer_branch, \
             i.item_number, i.hs_code, i.status, r.decided_at FROM request_items i \
             JOIN requests r ON r.id = i.request_pk \
             WHERE i.status IN ('UNDER_REVIEW', 'HOLD_FOR_INSPECTION') AND r.version IS NOT NULL \
             AND r.decision NOT IN ('CANCELLED', 'REJECTED') \
             AND ($1 IS NULL OR r.decided_at <= $1) \
             ORDER BY r.decided_at, r.id, i.item_number",
            args![cutoff],
            &[
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::Time,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let status = r.text(6)?;
            Ok(ReviewItem {
                request_id: r.text(0)?,
                reference: r.text(1)?,
                importer_tax_number: r.text(2)?,
                importer_branch: r.text(3)?,
                item_number: u16::try_from(r.i64(4)?)
                    .map_err(|_| StoreError::Corrupt("item number".into()))?,
                hs_code: r.text(5)?,
                status: ItemStatus::from_code(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("item status `{status}`")))?,
                since: r.time(7)?,
            })
        })
        .collect()
}

pub(crate) async fn decide<C: Conn>(
    c: &mut C,
    input: &OfficerDecisionInput,
) -> Result<OfficerOutcome, StoreError> {
    let now = micros(input.now);
    let sql = format!(
        "SELECT id, function, decision, arrival_date, message_id FROM requests \
         WHERE request_id = $1 AND version IS NOT NULL{}",
        for_no_key_update(c)
    );
    let Some(req) = c
        .opt_row(
            &sql,
            args![&input.request_id],
            &[Ty::I64, Ty::Text, Ty::Text, Ty::Date, Ty::Text],
        )
        .await?
    else {
        return Ok(OfficerOutcome::NotFound);
    };
    let request_pk = req.i64(0)?;
    let function_code = req.text(1)?;
    let function = Function::from_code(&function_code)
        .ok_or_else(|| StoreError::Corrupt(format!("function `{function_code}`")))?;
    let decision_code = req.text(2)?;
    if decision_code == RequestDecision::Cancelled.code() {
        return Ok(OfficerOutcome::NotFound);
    }
    if decision_code == RequestDecision::Rejected.code() {
        // Nothing an officer does to an item changes a REJECTED request (spec §6: any
        // REJECTED item rejects it): no decision to record, no response to send.
        return Ok(OfficerOutcome::RequestRejected);
    }
    // Its permit too, when it has one, in the order a cancellation or replacement locks them
    // (request, then permit): a declaration writing off against the permit holds that lock
    // until it commits, so the write-offs read below are all there are.
    lock_permit_of(c, request_pk).await?;
    let arrival = req.date(3)?;
    let request_message_id = req.text(4)?;
    let Some(item) = c
        .opt_row(
            "SELECT id, status, quantity_milli, unit FROM request_items \
             WHERE request_pk = $1 AND item_number = $2",
            args![request_pk, input.item_number],
            &[Ty::I64, Ty::Text, Ty::I64, Ty::Text],
        )
        .await?
    else {
        return Ok(OfficerOutcome::NotFound);
    };
    let item_pk = item.i64(0)?;
    let status_code = item.text(1)?;
    let status = ItemStatus::from_code(&status_code)
        .ok_or_else(|| StoreError::Corrupt(format!("item status `{status_code}`")))?;
    if status != input.action.applies_to() {
        return Ok(OfficerOutcome::WrongState(status));
    }
    if input.action == OfficerAction::Approve {
        // Any permit of this request, now or after its other items, would start today at the
        // earliest (see `issue_permit`).
        let dates = PermitDates::compute(arrival, input.today, None);
        if dates.expiry < dates.effective {
            return Ok(OfficerOutcome::NoPermitWindow {
                arrival,
                expiry: dates.expiry,
            });
        }
    }
    let mut to = input.action.to();

    // The item itself.
    match to {
        ItemStatus::Approved if input.action == OfficerAction::Approve => {
            // Rule 16 drew the item for inspection too (spec §6): approved, it is held for
            // the inspection at the port, as it would have been without the review.
            let selected = c
                .one_row(
                    "SELECT COUNT(*) FROM item_reasons WHERE item_pk = $1 AND code = $2",
                    args![item_pk, ReasonCode::InspectionSelected.code()],
                    &[Ty::I64],
                )
                .await?
                .i64(0)?
                > 0;
            if selected {
                to = ItemStatus::HoldForInspection;
            }
            c.exec(
                "UPDATE request_items SET status = $2, approved_milli = quantity_milli, \
                 approved_unit = unit WHERE id = $1",
                args![item_pk, to.code()],
            )
            .await?;
            // The officer's review is done: the reason that asked for it goes.
            c.exec(
                "DELETE FROM item_reasons WHERE item_pk = $1 AND code = $2",
                args![item_pk, ReasonCode::OfficerReview.code()],
            )
            .await?;
        }
        ItemStatus::Approved => {
            c.exec(
                "UPDATE request_items SET status = 'APPROVED' WHERE id = $1",
                args![item_pk],
            )
            .await?;
            c.exec(
                "DELETE FROM item_reasons WHERE item_pk = $1 AND code = $2",
                args![item_pk, ReasonCode::InspectionSelected.code()],
            )
            .await?;
        }
        _ => {
            c.exec(
                "UPDATE request_items SET status = 'REJECTED', approved_milli = NULL, \
                 approved_unit = NULL WHERE id = $1",
                args![item_pk],
            )
            .await?;
            let seq = c
                .one_row(
                    "SELECT COALESCE(MAX(seq), -1) + 1 FROM item_reasons WHERE item_pk = $1",
                    args![item_pk],
                    &[Ty::I64],
                )
                .await?
                .i64(0)?;
            let (th, en) = match input.action {
                OfficerAction::RejectAfterInspection => (
                    format!(
                        "รายการที่ {} ไม่ผ่านการตรวจสอบตัวอย่าง: {}",
                        input.item_number, input.reason
                    ),
                    format!(
                        "Item {} failed the sample inspection: {}",
                        input.item_number, input.reason
                    ),
                ),
                _ => (
                    format!(
                        "เจ้าหน้าที่ไม่อนุญาตรายการที่ {}: {}",
                        input.item_number, input.reason
                    ),
                    format!(
                        "An officer refused item {}: {}",
                        input.item_number, input.reason
                    ),
                ),
            };
            c.exec(
                "INSERT INTO item_reasons (item_pk, seq, code, field, message_th, message_en) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                args![
                    item_pk,
                    seq,
                    ReasonCode::OfficerDecision.code(),
                    format!("/ImportPermitRequest/GoodsItem[{}]", input.item_number),
                    th,
                    en
                ],
            )
            .await?;
        }
    }

    // The permit item, when the item is on a permit (HOLD items are).
    c.exec(
        "UPDATE permit_items SET status = $1 WHERE item_pk = $2",
        args![to.code(), item_pk],
    )
    .await?;

    // The request decision, recomputed.
    let statuses = c
        .rows(
            "SELECT status FROM request_items WHERE request_pk = $1 ORDER BY item_number",
            args![request_pk],
            &[Ty::Text],
        )
        .await?
        .iter()
        .map(|r| {
            let s = r.text(0)?;
            ItemStatus::from_code(&s)
                .ok_or_else(|| StoreError::Corrupt(format!("item status `{s}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let decision = RequestDecision::aggregate(statuses.iter().copied());
    c.exec(
        "UPDATE requests SET decision = $1 WHERE id = $2",
        args![decision.code(), request_pk],
    )
    .await?;

    // A permit, when one is now due and none exists yet.
    let mut issued = None;
    if decision.issues_permit() && permit_of_request(c, request_pk).await?.is_none() {
        issued = Some(issue_permit(c, request_pk, arrival, input.today).await?);
    }
    let permit = permit_of_request(c, request_pk).await?;
    if !decision.issues_permit() {
        // The request no longer stands (spec §6: a REJECTED request has no permit): its permit
        // is cancelled, and later declarations against any of its items are refused
        // (PERMIT_NOT_VALID). What was written off before stands: those goods were cleared.
        // The permit is locked (above): a write-off commits before this or is refused after.
        c.exec(
            "UPDATE permits SET status = 'CANCELLED', cancelled_at = $1 \
             WHERE request_pk = $2 AND status = 'ACTIVE'",
            args![now, request_pk],
        )
        .await?;
    }

    let actor = Actor::Officer(input.officer_id.clone());
    let (th, en) = (
        format!(
            "เจ้าหน้าที่ {} ดำเนินการ {} รายการที่ {}: {} ผลการพิจารณา {}{}",
            input.officer_id,
            input.action.code(),
            input.item_number,
            input.reason,
            decision.code(),
            issued
                .as_ref()
                .map(|n| format!(" ออกใบอนุญาต {n}"))
                .unwrap_or_default()
        ),
        format!(
            "Officer {} did {} on item {}: {}; decision {}{}",
            input.officer_id,
            input.action.code(),
            input.item_number,
            input.reason,
            decision.code(),
            issued
                .as_ref()
                .map(|n| format!(", permit {n} issued"))
                .unwrap_or_default()
        ),
    );
    history(c, request_pk, now, &actor, decision.code(), &th, &en).await?;

    // The new response, rendered and queued for the partner.
    let response = rebuild_permit_response_as(
        c,
        request_pk,
        function,
        input.authority_tax_number,
        &input.authority_name,
    )
    .await?;
    let m = c
        .one_row(
            "SELECT message_id, conversation_id, from_party, to_party, cpa_id, packaging, \
             ack_requested, from_party_type, to_party_type FROM messages WHERE message_id = $1",
            args![&request_message_id],
            &[
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Bool,
                Ty::Text,
                Ty::Text,
            ],
        )
        .await?;
    let original = OriginalExchange {
        message_id: m.text(0)?,
        conversation_id: m.text(1)?,
        from_party: m.text(2)?,
        to_party: m.text(3)?,
        cpa_id: m.text(4)?,
        packaging: m.text(5)?,
        ack_requested: m.bool(6)?,
        from_party_type: m.opt_text(7)?,
        to_party_type: m.opt_text(8)?,
    };
    let out = (input.render)(&original, &response);
    let seq = c
        .one_row(
            "SELECT COALESCE(MAX(conversation_seq), 0) + 1 FROM outbox WHERE conversation_id = $1",
            args![&out.conversation_id],
            &[Ty::I64],
        )
        .await?
        .i64(0)?;
    c.exec(
        "INSERT INTO outbox (message_id, conversation_id, conversation_seq, partner, \
         content_type, body, ack_requested, status, attempts, next_attempt_at, created_at, \
         about_request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', 0, $8, $8, $9)",
        args![
            &out.message_id,
            &out.conversation_id,
            seq,
            &out.partner,
            &out.content_type,
            out.body.as_slice(),
            out.ack_requested,
            now,
            &input.request_id
        ],
    )
    .await?;
    super::audit::audit(
        c,
        &super::AuditEntry {
            at: now,
            actor: actor.code(),
            action: input.action.code().to_string(),
            target: format!("request/{}/item/{}", input.request_id, input.item_number),
            detail: input.reason.clone(),
        },
    )
    .await?;
    Ok(OfficerOutcome::Done {
        decision,
        permit_number: permit.map(|p| p.number.to_string()),
        outbox_message_id: out.message_id,
    })
}

/// Issues the permit of a request whose decision became APPROVED (or HOLD) by an officer:
/// the next serial, dates by `PermitDates::compute`, one permit item per usable item.
async fn issue_permit<C: Conn>(
    c: &mut C,
    request_pk: i64,
    arrival: NaiveDate,
    today: NaiveDate,
) -> Result<String, StoreError> {
    // Requests that reach an officer are special imports (rule 15), which use no licence:
    // nothing caps the expiry.
    let dates = PermitDates::compute(arrival, today, None);
    let serial = c.next_serial().await?;
    let number = PermitNumber::for_date(today, serial)
        .map_err(|e| StoreError::Invalid(format!("permit number for serial {serial}: {e}")))?
        .to_string();
    let permit_pk = c
        .one_row(
            "INSERT INTO permits (permit_number, request_pk, status, holder_tax_number, \
             holder_branch, issue_date, effective_date, expiry_date, arrival_date, \
             invoice_number, invoice_date, load_port, discharge_port, country_of_destination) \
             SELECT $1, id, 'ACTIVE', importer_tax_number, importer_branch, $2, $3, $4, \
             arrival_date, invoice_number, invoice_date, load_port, discharge_port, \
             country_of_destination FROM requests WHERE id = $5 RETURNING id",
            args![&number, today, dates.effective, dates.expiry, request_pk],
            &[Ty::I64],
        )
        .await?
        .i64(0)?;
    let items = c
        .rows(
            "SELECT id, item_number, invoice_item_number, hs_code, country_of_origin, status, \
             approved_milli, approved_unit FROM request_items WHERE request_pk = $1 \
             AND status IN ('APPROVED', 'HOLD_FOR_INSPECTION') AND approved_milli IS NOT NULL \
             ORDER BY item_number",
            args![request_pk],
            &[
                Ty::I64,
                Ty::I64,
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::Text,
            ],
        )
        .await?;
    for it in &items {
        c.exec(
            "INSERT INTO permit_items (permit_pk, item_pk, item_number, invoice_item_number, \
             hs_code, country_of_origin, unit, status, approved_milli, written_off_milli) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
            args![
                permit_pk,
                it.i64(0)?,
                it.i64(1)?,
                it.i64(2)?,
                it.text(3)?,
                it.text(4)?,
                it.text(7)?,
                it.text(5)?,
                it.i64(6)?
            ],
        )
        .await?;
    }
    Ok(number)
}

impl Store {
    /// Items waiting for an officer, oldest first (only those waiting since before
    /// `older_than` when given).
    pub async fn review_queue(
        &self,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        read!(self, c => review_queue(c, older_than).await)
    }

    /// Applies an officer's decision (see the module documentation), in one transaction.
    pub async fn officer_decide(
        &self,
        input: OfficerDecisionInput,
    ) -> Result<OfficerOutcome, StoreError> {
        in_tx!(self, [input], c => decide(c, &input).await)
    }
}

//! The store's logic, written once over the dialect-neutral [`Conn`]: exactly-once message
//! handling, permit requests with replacements and cancellations, declaration matching and
//! write-off, amendments, status queries and reference data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use sha2::{Digest, Sha256};

use super::sql::{args, shift_params, Conn, Dialect, Done, Kept, Row, Stmt, Ty, V};
use super::{
    Ctx, LicenceStatusChange, MessageMeta, Outcome, SpecialUsage, StoreError, StoredReply,
};
use crate::domain::matching::{Claims, PermitItem, PermitRecord};
use crate::domain::{
    Actor, AmendmentResult, Amount, Branch, Country, Decision, DeclarationAmendment,
    DeclarationAmendmentResponse, DeclarationCheck, DeclarationCheckResponse,
    DeclarationLineResult, DeclarationResult, Function, HistoryEntry, HsCode, ImportPermitRequest,
    ImportPermitResponse, InboundDocument, ItemQuantities, ItemResult, ItemStatus, Lab, LabStatus,
    Licence, LicenceStatus, LicenceType, LineResult, OutboundDocument, PartyKey, Permit,
    PermitNumber, PermitStatusQuery, PermitStatusResponse, Port, Quantity, Reason, ReasonCode,
    RefData, ReferenceNumber, RequestDecision, SpecialPurpose, Standard, StandardRef,
    StatusQueryResult, TaxNumber, UnitCode,
};

// ---------------------------------------------------------------------------------------------
// Conversions between stored text and domain values
// ---------------------------------------------------------------------------------------------

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} '{value}' is not valid"))
}

fn p_hs(s: &str) -> Result<HsCode, StoreError> {
    HsCode::parse(s).map_err(|_| bad("HS code", s))
}
fn p_country(s: &str) -> Result<Country, StoreError> {
    Country::parse(s).map_err(|_| bad("country", s))
}
fn p_port(s: &str) -> Result<Port, StoreError> {
    Port::parse(s).map_err(|_| bad("port", s))
}
fn p_unit(s: &str) -> Result<UnitCode, StoreError> {
    UnitCode::parse(s).map_err(|_| bad("unit", s))
}
fn p_branch(s: &str) -> Result<Branch, StoreError> {
    Branch::parse(s).map_err(|_| bad("branch", s))
}
fn p_tax(s: &str) -> Result<TaxNumber, StoreError> {
    TaxNumber::parse(s).map_err(|_| bad("tax number", s))
}
fn p_standard(s: &str) -> Result<StandardRef, StoreError> {
    StandardRef::parse(s).map_err(|_| bad("standard", s))
}
fn p_licence_status(s: &str) -> Result<LicenceStatus, StoreError> {
    LicenceStatus::from_code(s).ok_or_else(|| bad("licence status", s))
}
fn p_u16(v: i64, what: &str) -> Result<u16, StoreError> {
    u16::try_from(v).map_err(|_| bad(what, &v.to_string()))
}
fn p_amount(v: i64) -> Result<Amount, StoreError> {
    u64::try_from(v)
        .map(Amount::from_milli)
        .map_err(|_| bad("amount", &v.to_string()))
}
fn milli(a: Amount) -> i64 {
    // Amount::MAX (999999999999) fits in i64 many times over.
    a.milli() as i64
}
fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}
fn p_list(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| bad("list", s))
}
fn list(v: &[String]) -> String {
    serde_json::to_string(v).expect("a list of strings serialises")
}

/// Timestamps are kept to the microsecond, which both databases store exactly, so that a
/// response rebuilt from rows equals the one built when deciding.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let us = t.timestamp_micros();
    DateTime::from_timestamp_micros(us).unwrap_or(t)
}

// ---------------------------------------------------------------------------------------------
// Content hash
// ---------------------------------------------------------------------------------------------

struct Hasher(Sha256);

impl Hasher {
    fn s(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
    }
    fn o(&mut self, s: Option<&str>) {
        match s {
            None => self.0.update([0u8]),
            Some(s) => {
                self.0.update([1u8]);
                self.s(s);
            }
        }
    }
    fn n(&mut self, n: u64) {
        self.0.update(n.to_be_bytes());
    }
}

/// A stable hash of a request's content (everything but `Function`): two requests with the
/// same business content have the same hash, whatever the message carrying them.
pub fn content_hash(r: &ImportPermitRequest) -> String {
    let mut h = Hasher(Sha256::new());
    h.s("ImportPermitRequest/1");
    h.s(r.reference.as_str());
    h.s(r.request_type.code());
    h.s(&r.importer.tax_number);
    h.s(&r.importer.branch.to_string());
    h.s(&r.importer.name);
    h.o(r.importer.name_en.as_deref());
    match &r.agent {
        None => h.n(0),
        Some(a) => {
            h.n(1);
            h.s(&a.tax_number.to_string());
            h.s(&a.branch.to_string());
            h.s(&a.name);
        }
    }
    h.s(&r.shipment.arrival_date.to_string());
    h.n(u64::from(r.shipment.transport_mode.code()));
    h.s(r.shipment.load_port.as_str());
    h.s(r.shipment.discharge_port.as_str());
    h.s(r.shipment.country_of_destination.as_str());
    h.s(&r.invoice.number);
    h.s(&r.invoice.date.to_string());
    h.n(r.items.len() as u64);
    for i in &r.items {
        h.n(u64::from(i.item_number));
        h.n(u64::from(i.invoice_item_number));
        h.s(i.hs_code.as_str());
        h.s(&i.description);
        h.o(i.description_en.as_deref());
        h.s(&i.brand);
        h.s(&i.model);
        h.s(&i.manufacturer.name);
        h.s(i.manufacturer.country.as_str());
        h.s(i.country_of_origin.as_str());
        h.n(i.quantity.amount.milli());
        h.s(i.quantity.unit.as_str());
        h.o(i.standard.as_deref());
        h.o(i.licence_number.as_deref());
        h.o(i.special_purpose.as_deref());
        match &i.test_report {
            None => h.n(0),
            Some(t) => {
                h.n(1);
                h.s(&t.lab_id);
                h.s(&t.report_number);
                h.s(&t.issue_date.to_string());
            }
        }
    }
    hex::encode(h.0.finalize())
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

pub(crate) async fn lookup_reply<C: Conn>(
    c: &mut C,
    message_id: &str,
    from_party: &str,
) -> Result<Option<StoredReply>, StoreError> {
    Ok(lookup_answered(c, message_id)
        .await?
        .filter(|(from, _)| from == from_party)
        .map(|(_, reply)| reply))
}

/// The party that sent a message that was answered, and the reply it got.
async fn lookup_answered<C: Conn>(
    c: &mut C,
    message_id: &str,
) -> Result<Option<(String, StoredReply)>, StoreError> {
    let row = c
        .opt_row(
            "SELECT reply_status, reply_content_type, reply_body, from_party FROM messages \
             WHERE message_id = $1 AND reply_status IS NOT NULL",
            args![message_id],
            &[Ty::I64, Ty::Text, Ty::Bytes, Ty::Text],
        )
        .await?;
    row.map(|r| {
        let reply = StoredReply {
            http_status: u16::try_from(r.i64(0)?).map_err(|_| bad("HTTP status", "?"))?,
            content_type: r.text(1)?,
            body: r.bytes(2)?,
        };
        Ok((r.text(3)?, reply))
    })
    .transpose()
}

/// The statement that claims a message's `MessageId`: it returns the new row's id, or no row
/// when another copy was stored first. The row starts small: the message's bytes are stored
/// with its reply, in the same transaction, so the large row is written once.
///
/// `strict`: a copy stored first makes the statement fail with a unique violation instead
/// (the one-script path, which then rolls back and takes the general one).
fn claim_stmt(meta: &MessageMeta, strict: bool) -> Stmt {
    const INSERT: &str = "INSERT INTO messages (message_id, conversation_id, from_party, \
         to_party, cpa_id, service, action, received_at, content_type, raw, ack_requested, \
         sync_reply, packaging, from_party_type, to_party_type) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
    let sql = if strict {
        INSERT.to_owned()
    } else {
        format!("{INSERT} ON CONFLICT (message_id) DO NOTHING RETURNING id")
    };
    let args = message_args(meta, Vec::new());
    if strict {
        Stmt::exec(sql, args)
    } else {
        Stmt::rows(sql, args, &[Ty::I64])
    }
}

/// The message's columns of its row in `messages`, up to the reply.
fn message_args(meta: &MessageMeta, raw: Vec<u8>) -> Vec<V> {
    args![
        &meta.message_id,
        &meta.conversation_id,
        &meta.from_party,
        &meta.to_party,
        &meta.cpa_id,
        &meta.service,
        &meta.action,
        micros(meta.received_at),
        &meta.content_type,
        raw,
        meta.ack_requested,
        meta.sync_reply,
        &meta.packaging,
        meta.from_party_type.as_deref(),
        meta.to_party_type.as_deref()
    ]
}

/// Processes one message inside the caller's transaction (§4): claims its `MessageId`, acts
/// on the document, renders and stores the reply and the outbox row.
///
/// The common case takes two round trips to the database: the claim together with the reads
/// the document needs first, then every write of the message with its reply. Statements that
/// depend on what an earlier one returned are joined by natural keys (request id, permit
/// number) rather than by generated ids read back in between. Where the connection draws
/// permit serials itself (the SQLite writer), a new permit request takes one round trip
/// ([`new_permit_request`]).
pub(crate) async fn process<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    doc: &InboundDocument,
    ctx: &Ctx,
) -> Result<Outcome, StoreError> {
    let ctx = &stored_time(ctx);
    if let InboundDocument::ImportPermitRequest(r) = doc {
        if let Some(out) = new_permit_request(c, meta, r, ctx).await? {
            return Ok(out);
        }
    }
    let mut first = vec![claim_stmt(meta, false)];
    let job = match doc {
        InboundDocument::ImportPermitRequest(r) => {
            let (plan, reads) = PermitPlan::new(c, r, ctx);
            first.extend(reads);
            Job::Permit(r, plan)
        }
        InboundDocument::DeclarationCheck(d) => {
            first.extend(declaration_reads(c, d));
            Job::Declaration(d)
        }
        InboundDocument::DeclarationAmendment(a) => Job::Amendment(a),
        InboundDocument::PermitStatusQuery(q) => Job::Status(q),
    };
    let mut done = c.script(first).await?.into_iter();
    let claimed = done.next().is_some_and(|d| !d.rows.is_empty());
    if !claimed {
        // Another copy committed first (PostgreSQL waited for it): replay its reply, to its
        // sender only (another party's reply may hold data it may not see).
        return match lookup_answered(c, &meta.message_id).await? {
            Some((from, reply)) if from == meta.from_party => Ok(Outcome::Duplicate(reply)),
            Some((from, _)) => Ok(Outcome::SentByAnother { first_sender: from }),
            None => Err(StoreError::Corrupt(format!(
                "message {} is recorded without a reply",
                meta.message_id
            ))),
        };
    }
    let (out, mut writes) = match job {
        Job::Permit(r, plan) => {
            let pre = plan.read(done, ctx)?;
            let (resp, writes) = permit_request(c, meta, r, ctx, pre).await?;
            (OutboundDocument::ImportPermitResponse(resp), writes)
        }
        Job::Declaration(d) => {
            let read = DeclarationRead::parse(done)?;
            let (resp, writes) = declaration_check(c, meta, d, ctx, read).await?;
            (OutboundDocument::DeclarationCheckResponse(resp), writes)
        }
        Job::Amendment(a) => (
            OutboundDocument::DeclarationAmendmentResponse(declaration_amendment(c, a, ctx).await?),
            Vec::new(),
        ),
        Job::Status(q) => (
            OutboundDocument::PermitStatusResponse(permit_status(c, q).await?),
            Vec::new(),
        ),
    };
    let reply = reply_writes(meta, ctx, &out, ReplyRow::Update, &mut writes);
    run_writes(c, writes).await?;
    Ok(Outcome::New(reply))
}

/// A document with what its first round trip reads for it (a permit request's plan; a
/// declaration's reads are parsed from the same round trip).
enum Job<'a> {
    Permit(&'a ImportPermitRequest, PermitPlan),
    Declaration(&'a DeclarationCheck),
    Amendment(&'a DeclarationAmendment),
    Status(&'a PermitStatusQuery),
}

/// How a reply reaches its message's row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReplyRow {
    /// Updates the row the claim inserted (with the message's bytes, written once).
    Update,
    /// Inserts the message's row with its reply: one statement, whose later parts cannot
    /// update a row an earlier part inserted. A copy stored first makes it fail with a unique
    /// violation.
    Insert,
}

/// `ctx` with its time as the database stores it (microseconds), so that the reply says what
/// a later rebuild of it reads back.
fn stored_time(ctx: &Ctx) -> Ctx {
    Ctx {
        now: micros(ctx.now),
        ..ctx.clone()
    }
}

/// The request a response is about: an ImportPermitResponse's RequestId (that of the request
/// whose decision it gives, whichever message it answers).
fn about_request(out: &OutboundDocument) -> Option<&str> {
    match out {
        OutboundDocument::ImportPermitResponse(r) => Some(r.request_id.as_str()),
        _ => None,
    }
}

/// Renders the reply to `out` and adds the writes that store it (and its outbox row).
fn reply_writes(
    meta: &MessageMeta,
    ctx: &Ctx,
    out: &OutboundDocument,
    row: ReplyRow,
    writes: &mut Vec<Write>,
) -> StoredReply {
    let rendered = ctx.renderer.render(meta, out);
    let reply = args![
        i64::from(rendered.http_status),
        &rendered.content_type,
        rendered.body.as_slice()
    ];
    writes.push(match row {
        ReplyRow::Update => {
            let mut args = reply;
            args.extend(args![&meta.message_id, meta.raw.as_slice()]);
            Write::one(
                "the reply",
                "UPDATE messages SET reply_status = $1, reply_content_type = $2, \
                 reply_body = $3, raw = $5 WHERE message_id = $4",
                args,
            )
        }
        ReplyRow::Insert => {
            let mut args = message_args(meta, meta.raw.clone());
            args.extend(reply);
            Write::values(
                "the message with its reply",
                "INSERT INTO messages (message_id, conversation_id, from_party, to_party, \
                 cpa_id, service, action, received_at, content_type, raw, ack_requested, \
                 sync_reply, packaging, from_party_type, to_party_type, reply_status, \
                 reply_content_type, reply_body) VALUES {rows}"
                    .to_owned(),
                args,
                1,
            )
        }
    });
    if let Some(ob) = &rendered.outbox {
        writes.push(Write::one(
            "the outbox row",
            "INSERT INTO outbox (message_id, conversation_id, conversation_seq, partner, \
             content_type, body, ack_requested, status, attempts, next_attempt_at, created_at, \
             about_request_id) \
             SELECT $1, $2, COALESCE(MAX(conversation_seq), 0) + 1, $3, $4, $5, $6, 'PENDING', \
             0, $7, $7, $8 FROM outbox WHERE conversation_id = $2",
            args![
                &ob.message_id,
                &ob.conversation_id,
                &ob.partner,
                &ob.content_type,
                ob.body.as_slice(),
                ob.ack_requested,
                ctx.now,
                about_request(out)
            ],
        ));
    }
    StoredReply {
        http_status: rendered.http_status,
        content_type: rendered.content_type,
        body: rendered.body,
    }
}

/// A new permit request (Function 9) whose decision needs nothing from the store, on a
/// connection that draws permit serials itself (SQLite's writer): decided, rendered and
/// written in one script, without reading first (PostgreSQL writes such requests in groups,
/// [`new_permit_requests`]). The writes' own
/// constraints stand in for the reads: the message's row fails on a `MessageId` stored
/// before, and the request row (version 1) on a reference the importer used before. Either
/// rolls the writes back, and `None` sends the message down the general path, which answers
/// those cases.
async fn new_permit_request<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
) -> Result<Option<Outcome>, StoreError> {
    let Some((resp, body, _)) = decided_without_reads(c, meta, req, ctx).await? else {
        return Ok(None);
    };
    // A script that meets a stored MessageId or reference is undone, and the message takes
    // the general path: back to the script's savepoint, or, where a failure sends the whole
    // transaction back to run again with savepoints, by failing. Without the savepoint a
    // claim that meets a stored MessageId (a retry) needs neither: it is the script's first
    // statement, so nothing of the message was written.
    let guarded = !c.runs_again_on_failure();
    let mut writes = Vec::with_capacity(body.len() + 5);
    if guarded {
        writes.push(Write::control("SAVEPOINT one_script"));
    }
    writes.push(Write {
        what: "the claim",
        stmt: claim_stmt(meta, true),
        rows: Some(1),
        source: None,
        merge: None,
    });
    writes.extend(body);
    let reply = reply_writes(meta, ctx, &resp, ReplyRow::Update, &mut writes);
    if guarded {
        writes.push(Write::control("RELEASE SAVEPOINT one_script"));
    }
    match run_writes(c, writes).await {
        Ok(()) => Ok(Some(Outcome::New(reply))),
        Err(StoreError::Conflict(e)) if guarded => {
            tracing::debug!(message_id = %meta.message_id, error = %e, "one-script path declined");
            c.exec("ROLLBACK TO SAVEPOINT one_script", Vec::new())
                .await?;
            c.exec("RELEASE SAVEPOINT one_script", Vec::new()).await?;
            Ok(None)
        }
        Err(StoreError::Conflict(e)) if c.done_before_error() == Some(0) => {
            tracing::debug!(message_id = %meta.message_id, error = %e, "one-script claim declined");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The response to a new permit request whose decision needs nothing from the store, and the
/// writes of its request (without the message's row), and the last licence status change the
/// decision's snapshot includes; `None` for any other message. Draws the permit serial, on a
/// connection that draws them itself, and reads nothing.
async fn decided_without_reads<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
) -> Result<Option<(OutboundDocument, Vec<Write>, super::StatusMark)>, StoreError> {
    if !c.local_serials() || req.function != Function::Original {
        return Ok(None);
    }
    let Some((decision, mark)) = decision_without_store(req, ctx) else {
        return Ok(None);
    };
    // Where the connection knows the last status change stored (SQLite's writer), a decision
    // behind it catches up and goes down the general path, which decides again; elsewhere
    // the group's statement checks the mark.
    if c.last_status_mark().await?.is_some_and(|last| last > mark) {
        (ctx.catch_up)(mark, &statuses_after(c, mark).await?);
        return Ok(None);
    }
    let serial = if decision.decision.issues_permit() {
        Some(c.next_serial().await?)
    } else {
        None
    };
    let pre = Prefetched {
        current: None,
        decision: Some(decision),
        serial,
    };
    let (resp, body) = permit_request(c, meta, req, ctx, pre).await?;
    Ok(Some((
        OutboundDocument::ImportPermitResponse(resp),
        body,
        mark,
    )))
}

/// One message of a group ([`new_permit_requests`]).
pub(crate) struct GroupMessage<'a> {
    pub meta: &'a MessageMeta,
    pub doc: &'a InboundDocument,
    pub ctx: &'a Ctx,
}

/// New permit requests written together, on a connection that writes a new permit request
/// in one statement ([`Conn::one_statement`], PostgreSQL): each is decided and rendered as
/// [`new_permit_request`] does it, then each table's rows of all of them go in one part of
/// one statement, which commits them together.
///
/// `None` for a message that is not such a request (the caller runs it alone). An error
/// (a `MessageId` or reference stored before, or used twice in the group, or a licence status
/// change stored after one that a decision's snapshot includes) means that nothing of the
/// group was stored: the caller runs each message alone, down the paths that answer those
/// cases.
pub(crate) async fn new_permit_requests<C: Conn>(
    c: &mut C,
    msgs: &[GroupMessage<'_>],
) -> Result<Vec<Option<Outcome>>, StoreError> {
    if !c.one_statement() {
        return Ok(msgs.iter().map(|_| None).collect());
    }
    let mut out = Vec::with_capacity(msgs.len());
    let mut merged: Vec<Vec<Write>> = Vec::with_capacity(msgs.len());
    let mut alone = Vec::new();
    let mut oldest = None;
    for m in msgs {
        let InboundDocument::ImportPermitRequest(req) = m.doc else {
            out.push(None);
            continue;
        };
        let ctx = &stored_time(m.ctx);
        let Some((resp, body, mark)) = decided_without_reads(c, m.meta, req, ctx).await? else {
            out.push(None);
            continue;
        };
        oldest = Some(oldest.map_or(mark, |o: super::StatusMark| o.min(mark)));
        let mut writes = Vec::with_capacity(body.len() + 2);
        let reply = reply_writes(m.meta, ctx, &resp, ReplyRow::Insert, &mut writes);
        // An outbox row (an asynchronous reply) is a part of its own.
        alone.extend(writes.drain(1..));
        writes.extend(body);
        merged.push(writes);
        out.push(Some(Outcome::New(reply)));
    }
    if !merged.is_empty() {
        let mut writes = merge_writes(merged)?;
        writes.append(&mut alone);
        one_statement(c, writes, oldest).await?;
    }
    Ok(out)
}

/// Joins the same writes of several messages: `per_message[i]` holds message `i`'s writes,
/// the same ones in the same order for every message.
fn merge_writes(per_message: Vec<Vec<Write>>) -> Result<Vec<Write>, StoreError> {
    let n = per_message.len();
    let mut columns: Vec<Vec<Write>> = Vec::new();
    for writes in per_message {
        if !columns.is_empty() && writes.len() != columns.len() {
            return Err(StoreError::Invalid(
                "the messages of a group have different writes".into(),
            ));
        }
        columns.resize_with(writes.len(), || Vec::with_capacity(n));
        for (k, w) in writes.into_iter().enumerate() {
            columns[k].push(w);
        }
    }
    columns.into_iter().map(merge_write).collect()
}

/// One statement for the same write of several messages ([`Merge`]).
fn merge_write(same: Vec<Write>) -> Result<Write, StoreError> {
    let first = same
        .first()
        .ok_or_else(|| StoreError::Invalid("a merged write of no message".into()))?;
    let (what, merge, source) = (first.what, first.merge.clone(), first.source);
    if let Some(w) = same.iter().find(|w| w.what != what || w.merge != merge) {
        return Err(StoreError::Invalid(format!(
            "{what} and {} cannot be merged",
            w.what
        )));
    }
    let rows = same.iter().try_fold(0, |acc, w| w.rows.map(|r| acc + r));
    let stmt = match merge {
        Some(Merge::Values { template, width }) => Stmt::exec(
            template.replace("{rows}", &values_rows(same.len(), width, 1)),
            same.into_iter().flat_map(|w| w.stmt.args).collect(),
        ),
        Some(Merge::Json) => {
            let arrays: Vec<&V> = same.iter().flat_map(|w| w.stmt.args.iter()).collect();
            Stmt::exec(
                first.stmt.sql.clone(),
                vec![V::Text(join_json_arrays(&arrays)?)],
            )
        }
        None => return Err(StoreError::Invalid(format!("{what} cannot be merged"))),
    };
    Ok(Write {
        what,
        stmt,
        rows,
        source,
        merge: None,
    })
}

/// `[a, b]`, `[]`, `[c]` → `[a, b, c]`.
fn join_json_arrays(arrays: &[&V]) -> Result<String, StoreError> {
    let mut out = String::from("[");
    for a in arrays {
        let inner = match a {
            V::Text(t) => t
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| {
                    StoreError::Invalid("a merged JSON parameter is not an array".into())
                })?,
            _ => {
                return Err(StoreError::Invalid(
                    "a merged JSON parameter is not text".into(),
                ))
            }
        };
        if inner.is_empty() {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(inner);
    }
    out.push(']');
    Ok(out)
}

/// A write of a message, run with the others of the message in one script, and the number of
/// rows it must touch (anything else means the rows it refers to are not there: the job fails
/// and its savepoint or transaction is rolled back).
pub(crate) struct Write {
    what: &'static str,
    stmt: Stmt,
    /// `None`: a statement that touches no rows (a savepoint).
    rows: Option<u64>,
    /// In one statement ([`one_statement`]): the name later writes read this one's rows by,
    /// and the columns they read.
    source: Option<(&'static str, &'static str)>,
    /// How the same write of several messages becomes one statement ([`merge_writes`]);
    /// `None` for a write that is not merged.
    merge: Option<Merge>,
}

/// How the same write of several new permit requests becomes one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Merge {
    /// The statement is `template` with `{rows}` replaced by a `VALUES` list: each message
    /// adds one row of its `width` parameters.
    Values { template: String, width: usize },
    /// The statement's one parameter is a JSON array of rows that name what they join to:
    /// the messages' arrays are joined into one.
    Json,
}

/// `($1, $2), ($3, $4)`: `n` rows of `width` parameters for a `VALUES` list, numbered from
/// `$first`.
fn values_rows(n: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(n * width * 5);
    for r in 0..n {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * width + c + first).to_string());
        }
        out.push(')');
    }
    out
}

impl Write {
    pub(super) fn new(
        what: &'static str,
        sql: impl Into<String>,
        args: Vec<V>,
        rows: u64,
    ) -> Write {
        Write {
            what,
            stmt: Stmt::exec(sql, args),
            rows: Some(rows),
            source: None,
            merge: None,
        }
    }

    /// One message's row of a `VALUES` list: `template` holds `{rows}` where the list goes.
    /// `rows`: 1, or 0 for a row that the statement filters out (a request without a permit).
    fn values(what: &'static str, template: String, row: Vec<V>, rows: u64) -> Write {
        let width = row.len();
        let mut w = Write::new(
            what,
            template.replace("{rows}", &values_rows(1, width, 1)),
            row,
            rows,
        );
        w.merge = Some(Merge::Values { template, width });
        w
    }

    /// A statement whose one parameter is a JSON array of `rows` rows (see [`Merge::Json`]).
    fn json(what: &'static str, sql: String, json: V, rows: u64) -> Write {
        let mut w = Write::new(what, sql, vec![json], rows);
        w.merge = Some(Merge::Json);
        w
    }

    /// A mergeable write that touches no rows for this message, or a write with no statement
    /// ([`rows_write`] of no rows): left out when the message is written alone.
    fn is_empty(&self) -> bool {
        (self.merge.is_some() || self.stmt.sql.is_empty()) && self.rows == Some(0)
    }

    /// This write's rows are read by later writes, as `name` with `columns` in one statement.
    fn source(mut self, name: &'static str, columns: &'static str) -> Write {
        self.source = Some((name, columns));
        self
    }

    fn one(what: &'static str, sql: impl Into<String>, args: Vec<V>) -> Write {
        Write::new(what, sql, args, 1)
    }

    fn control(sql: &'static str) -> Write {
        Write {
            what: sql,
            stmt: Stmt::exec(sql, Vec::new()),
            rows: None,
            source: None,
            merge: None,
        }
    }
}

/// Where the writes of a permit request read the rows written before them (the request, its
/// items, its permit): the tables, or in one statement the common table expressions that
/// insert those rows (a data-modifying expression's rows are not in its table for the rest
/// of the statement).
struct Sources {
    requests: &'static str,
    items: &'static str,
    permits: &'static str,
}

impl Sources {
    const TABLES: Sources = Sources {
        requests: "requests",
        items: "request_items",
        permits: "permits",
    };
    const ONE_STATEMENT: Sources = Sources {
        requests: "new_request",
        items: "new_items",
        permits: "new_permit",
    };

    fn of<C: Conn>(c: &C) -> &'static Sources {
        if c.one_statement() {
            &Sources::ONE_STATEMENT
        } else {
            &Sources::TABLES
        }
    }
}

/// Runs `writes` as one statement: each a data-modifying common table expression (named by
/// its source, if later ones read it), then one query that checks every row count
/// (`gateway_expect_rows`, which raises an error that rolls the whole statement back), and,
/// with `statuses`, that no licence status change was stored after that mark. On PostgreSQL
/// outside a transaction, so the statement commits on its own: one round trip.
pub(super) async fn one_statement<C: Conn>(
    c: &mut C,
    writes: Vec<Write>,
    statuses: Option<super::StatusMark>,
) -> Result<(), StoreError> {
    let mut sql = String::from("WITH ");
    let mut args = Vec::new();
    let mut checks = Vec::with_capacity(writes.len());
    for (i, w) in writes.into_iter().filter(|w| !w.is_empty()).enumerate() {
        let rows = w.rows.ok_or_else(|| {
            StoreError::Invalid(format!("{} cannot run in one statement", w.what))
        })?;
        let (name, columns) = match w.source {
            Some((name, columns)) => (name.to_owned(), columns),
            None => (format!("w{i}"), "1"),
        };
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&name);
        sql.push_str(" AS (");
        shift_params(&w.stmt.sql, args.len(), &mut sql);
        sql.push_str(" RETURNING ");
        sql.push_str(columns);
        sql.push(')');
        args.extend(w.stmt.args);
        checks.push(format!(
            "gateway_expect_rows((SELECT count(*) FROM {name}), {rows}, '{}')",
            w.what.replace('\'', "''")
        ));
    }
    if let Some(mark) = statuses {
        args.push(V::I64(mark.0));
        checks.push(format!(
            "gateway_expect_rows((SELECT count(*) FROM licence_status_audit WHERE id > ${}), 0, \
             'licence status changes after the decisions'' snapshot')",
            args.len()
        ));
    }
    sql.push_str(" SELECT CAST(count(*) AS BIGINT) FROM (VALUES (1)) AS one WHERE ");
    sql.push_str(&checks.join(" AND "));
    c.one_row(&sql, args, &[Ty::I64]).await?;
    Ok(())
}

async fn run_writes<C: Conn>(c: &mut C, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut expect = Vec::with_capacity(writes.len());
    let mut stmts = Vec::with_capacity(writes.len());
    for w in writes.into_iter().filter(|w| !w.is_empty()) {
        expect.push((w.what, w.rows));
        stmts.push(w.stmt);
    }
    let done = c.script(stmts).await?;
    for (d, (what, rows)) in done.iter().zip(expect) {
        if let Some(rows) = rows.filter(|r| d.affected != *r) {
            return Err(StoreError::Corrupt(format!(
                "storing {what} touched {} rows instead of {rows}",
                d.affected
            )));
        }
    }
    Ok(())
}

/// `FROM` item over the JSON array of arrays bound as parameter `$n`: one row per element,
/// whose fields are read with `j.value ->> i`.
///
/// On SQLite the element is taken out of `json_each` once per row: read straight from
/// `json_each`, every `j.value` would render the element as text again. The `OFFSET` keeps
/// the query planner from flattening the subquery back into the outer query. On PostgreSQL
/// the array is parsed once into `jsonb`: every `->>` of a `json` value would parse its
/// element's text again.
fn json_rows<C: Conn>(c: &C, n: usize) -> String {
    match c.dialect() {
        Dialect::Sqlite => format!("(SELECT value FROM json_each(${n}) LIMIT -1 OFFSET 0) AS j"),
        Dialect::Postgres => format!("jsonb_array_elements(CAST(${n} AS jsonb)) AS j(value)"),
    }
}

/// A JSON array (of rows) as a text parameter.
fn json_param<T: serde::Serialize>(rows: &T) -> V {
    V::Text(serde_json::to_string(rows).expect("rows serialise to JSON"))
}

/// Where a [`rows_write`] statement takes its rows from (its `FROM` item).
const ROWS: &str = "{rows}";

/// The size of the `VALUES` lists of one message's [`rows_write`]s on SQLite: the first of
/// [`ListSize::SIZES`] that holds the most rows any of them writes; `None` above, where they
/// are JSON arrays. A message's lists all have the same size, so that the texts of its script
/// are few (sqlx keeps a prepared script by its whole text): one per size and the writes that
/// have rows. The sizes grow by half, so that few of a list's rows are padding: every one of
/// them binds its fields as NULLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListSize(Option<usize>);

impl ListSize {
    const SIZES: [usize; 8] = [2, 4, 6, 8, 12, 16, 24, 32];

    fn holding(rows: usize) -> ListSize {
        ListSize(Self::SIZES.into_iter().find(|size| rows <= *size))
    }
}

/// A write of several rows of one message (a request's items, their reasons, a permit's
/// items, a declaration's lines…): `sql` reads each row's fields as `j.value ->> i` from the
/// `FROM` item [`ROWS`], and takes the parameters `before` as `$1`, `$2`…. The fields
/// `shared` are the same in every row and follow its own (`j.value ->> width`, …): the
/// request a row belongs to, for instance.
///
/// On PostgreSQL the rows are one JSON array parameter after them, so that the same write of a
/// group's requests joins into one statement ([`Merge::Json`], for a write without `before`).
/// On SQLite, which writes each message alone, they are a `VALUES` list of plain parameters
/// of the message's [`ListSize`], the rows after the message's own all NULL and left out, and
/// each `j.value ->> i` reads `j.column{i + 1}`: parsing the array and walking each element
/// for every field took a tenth of the gateway's instructions for a permit request. Every
/// row's first field is never NULL. There the `shared` fields are parameters of their own,
/// after `before`: a look-up by one of them (the request's id by its key) runs once per
/// statement instead of once per row.
fn rows_write<C: Conn>(
    c: &C,
    what: &'static str,
    sql: &str,
    before: Vec<V>,
    mut rows: Vec<Vec<V>>,
    shared: Vec<V>,
    size: ListSize,
) -> Result<Write, StoreError> {
    let n = rows.len() as u64;
    let width = rows.first().map_or(0, Vec::len);
    if let Some(row) = rows
        .iter()
        .find(|r| r.len() != width || matches!(r.first(), None | Some(V::Null(_))))
    {
        return Err(StoreError::Invalid(format!(
            "{what}: a row of {} fields among rows of {width}, or without its first field",
            row.len()
        )));
    }
    let list = match (c.dialect(), size.0) {
        (Dialect::Sqlite, Some(list)) if rows.len() <= list => list,
        _ => {
            for row in &mut rows {
                row.extend(shared.iter().cloned());
            }
            let sql = sql.replace(ROWS, &json_rows(c, before.len() + 1));
            let json = json_array(what, &rows)?;
            if before.is_empty() {
                return Ok(Write::json(what, sql, json, n));
            }
            let mut args = before;
            args.push(json);
            return Ok(Write::new(what, sql, args, n));
        }
    };
    if rows.is_empty() {
        // Nothing to write: left out (`Write::is_empty`).
        return Ok(Write::new(what, String::new(), Vec::new(), 0));
    }
    let shape = ValuesShape {
        rows: list,
        width,
        first: before.len() + shared.len() + 1,
        shared: shared.len(),
    };
    let mut args = before;
    args.reserve(shared.len() + list * width);
    args.extend(shared);
    args.extend(rows.into_iter().flatten());
    args.resize(shape.first - 1 + list * width, V::Null(Ty::Text));
    Ok(Write::new(what, values_sql(sql, shape), args, n))
}

/// Rows as a JSON array of arrays, as a text parameter.
fn json_array(what: &str, rows: &[Vec<V>]) -> Result<V, StoreError> {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows.len() * 160 + 2);
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "[" } else { ",[" });
        for (k, v) in row.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            match v {
                V::Null(_) => out.push_str("null"),
                V::I64(x) => write!(out, "{x}").expect("writes to a String"),
                V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                V::Text(t) => out.push_str(&serde_json::to_string(t).expect("strings serialise")),
                V::Date(d) => write!(out, "\"{d}\"").expect("writes to a String"),
                other => {
                    return Err(StoreError::Invalid(format!(
                        "{what}: {other:?} in a JSON row"
                    )))
                }
            }
        }
        out.push(']');
    }
    out.push(']');
    Ok(V::Text(out))
}

/// A `VALUES` list of `rows` rows of `width` fields, its parameters numbered from `$first`,
/// and the `shared` parameters that come right before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ValuesShape {
    rows: usize,
    width: usize,
    first: usize,
    shared: usize,
}

thread_local! {
    /// Statements with `VALUES` lists, by their template and then shape.
    static VALUES_SQL: std::cell::RefCell<Kept<ValuesShape, String, 1024>> =
        std::cell::RefCell::default();
}

/// `sql` reading the rows of a `VALUES` list of the given shape whose first field is not NULL:
/// [`ROWS`] replaced by the list, every `j.value ->> i` of a row's own field by the list's
/// column `i + 1`, and of a shared field by its parameter.
fn values_sql(sql: &str, shape: ValuesShape) -> String {
    VALUES_SQL.with(|kept| {
        let mut kept = kept.borrow_mut();
        let made = kept.get(sql, shape, || {
            let from = format!(
                "(SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL) AS j",
                values_rows(shape.rows, shape.width, shape.first)
            );
            value_columns(&sql.replace(ROWS, &from), shape)
        });
        made.clone()
    })
}

/// `sql` with every `j.value ->> i` read from the `VALUES` list's column `i + 1`, or from the
/// parameter of shared field `i - width`.
fn value_columns(sql: &str, shape: ValuesShape) -> String {
    const FIELD: &str = "j.value ->> ";
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(FIELD) {
        out.push_str(&rest[..at]);
        let after = &rest[at + FIELD.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(i) if (shape.width..shape.width + shape.shared).contains(&i) => {
                out.push('$');
                out.push_str(&(shape.first - shape.shared + i - shape.width).to_string());
            }
            Ok(i) => {
                out.push_str("j.column");
                out.push_str(&(i + 1).to_string());
            }
            Err(_) => out.push_str(FIELD),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Import permit requests
// ---------------------------------------------------------------------------------------------

const XP_REFERENCE: &str = "/ImportPermitRequest/DocumentControl/ReferenceNumber";
const XP_FUNCTION: &str = "/ImportPermitRequest/DocumentControl/Function";

/// A stored request (one row of `requests`).
struct ReqRow {
    pk: i64,
    version: Option<i64>,
    decision: RequestDecision,
    content_hash: String,
}

const REQ_COLS: &str = "id, version, decision, content_hash";
const REQ_TYS: &[Ty] = &[Ty::I64, Ty::I64, Ty::Text, Ty::Text];

fn req_row(r: &Row) -> Result<ReqRow, StoreError> {
    let d = r.text(2)?;
    Ok(ReqRow {
        pk: r.i64(0)?,
        version: r.opt_i64(1)?,
        decision: RequestDecision::from_code(&d).ok_or_else(|| bad("decision", &d))?,
        content_hash: r.text(3)?,
    })
}

/// The latest version of a reference.
fn current_version_stmt(tax: &str, branch: &str, reference: &str) -> Stmt {
    Stmt::rows(
        format!(
            "SELECT {REQ_COLS} FROM requests WHERE importer_tax_number = $1 \
             AND importer_branch = $2 AND reference = $3 AND version IS NOT NULL \
             ORDER BY version DESC LIMIT 1"
        ),
        args![tax, branch, reference],
        REQ_TYS,
    )
}

async fn current_version<C: Conn>(
    c: &mut C,
    tax: &str,
    branch: &str,
    reference: &str,
) -> Result<Option<ReqRow>, StoreError> {
    let done = c
        .script(vec![current_version_stmt(tax, branch, reference)])
        .await?;
    done.first()
        .and_then(|d| d.rows.first())
        .map(req_row)
        .transpose()
}

/// What a permit request reads before it writes, planned before the message is claimed so that
/// the reads share the claim's round trip: the reference's current version and, when the
/// decision can be taken without the store and issues a permit, the permit serial.
struct PermitPlan {
    /// The decision, when no item names a special-import purpose (only those depend on the
    /// importer's earlier requests), and the last licence status change its snapshot
    /// includes (the claim's round trip reads those stored after it).
    decision: Option<(Decision, super::StatusMark)>,
    serial: bool,
}

/// What the plan read.
struct Prefetched {
    current: Option<ReqRow>,
    decision: Option<Decision>,
    /// A permit serial drawn for this message (serials are never reused; one drawn for a
    /// message that ends up issuing no permit is a gap, as with a rolled-back sequence).
    serial: Option<u32>,
}

/// The decision of a request when it needs nothing from the store: when no item names a
/// special-import purpose (only those depend on the importer's earlier requests).
fn decision_without_store(
    req: &ImportPermitRequest,
    ctx: &Ctx,
) -> Option<(Decision, super::StatusMark)> {
    (!req.items.iter().any(|g| g.special_purpose.is_some())).then(|| {
        let usage = Usage::none(&req.importer.tax_number, req.importer.branch);
        (ctx.decide)(req, &usage)
    })
}

impl PermitPlan {
    fn new<C: Conn>(c: &C, req: &ImportPermitRequest, ctx: &Ctx) -> (PermitPlan, Vec<Stmt>) {
        let decision = decision_without_store(req, ctx);
        // A connection that draws serials itself draws one when the permit is stored.
        let serial = !c.local_serials()
            && req.function != Function::Cancellation
            && decision
                .as_ref()
                .is_some_and(|(d, _)| d.decision.issues_permit());
        let mut reads = vec![current_version_stmt(
            req.importer.tax_number.as_str(),
            &req.importer.branch.to_string(),
            req.reference.as_str(),
        )];
        if serial {
            reads.push(serial_stmt(c.dialect()));
        }
        if let Some((_, mark)) = &decision {
            reads.push(status_changes_stmt(*mark));
        }
        (PermitPlan { decision, serial }, reads)
    }

    fn read(
        self,
        mut done: impl Iterator<Item = Done>,
        ctx: &Ctx,
    ) -> Result<Prefetched, StoreError> {
        let mut next = || {
            done.next()
                .ok_or_else(|| StoreError::Corrupt("a read of the plan returned nothing".into()))
        };
        let current = next()?.rows.first().map(req_row).transpose()?;
        let serial = if self.serial {
            Some(parse_serial(next()?.rows.first())?)
        } else {
            None
        };
        let decision = match self.decision {
            Some((decision, mark)) => {
                let changes = next()?.rows;
                if !changes.is_empty() {
                    return Err(behind(ctx, mark, &stored_statuses(&changes)?));
                }
                Some(decision)
            }
            None => None,
        };
        Ok(Prefetched {
            current,
            decision,
            serial,
        })
    }
}

async fn original_version<C: Conn>(
    c: &mut C,
    tax: &str,
    branch: &str,
    reference: &str,
) -> Result<Option<ReqRow>, StoreError> {
    let sql = format!(
        "SELECT {REQ_COLS} FROM requests WHERE importer_tax_number = $1 AND importer_branch = $2 \
         AND reference = $3 AND version = 1"
    );
    c.opt_row(&sql, args![tax, branch, reference], REQ_TYS)
        .await?
        .map(|r| req_row(&r))
        .transpose()
}

pub(crate) fn for_update<C: Conn>(c: &C) -> &'static str {
    match c.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        // One writer at a time: the whole transaction is already exclusive.
        Dialect::Sqlite => "",
    }
}

/// The lock on a request's row of whoever changes its decision or its permit: one at a time,
/// but it lets through the key-share lock that a row referring to the request takes (a
/// declaration's history entry for its write-off, written while the declaration holds its
/// permits' locks), so that the two never wait for each other in opposite orders.
pub(crate) fn for_no_key_update<C: Conn>(c: &C) -> &'static str {
    match c.dialect() {
        Dialect::Postgres => " FOR NO KEY UPDATE",
        Dialect::Sqlite => "",
    }
}

/// A stored request, locked for the rest of the transaction, as it stands once the lock is
/// held. Whoever changes a request's decision or issues, cancels or replaces its permit locks
/// its row first (then its permit's: [`lock_permit_of`]), so that those changes come one after
/// the other.
async fn lock_request<C: Conn>(c: &mut C, pk: i64) -> Result<ReqRow, StoreError> {
    let sql = format!(
        "SELECT {REQ_COLS} FROM requests WHERE id = $1{}",
        for_no_key_update(c)
    );
    let row = c.one_row(&sql, args![pk], REQ_TYS).await?;
    req_row(&row)
}

/// The permit of a request, locked for the rest of the transaction: (pk, number, status).
pub(crate) async fn lock_permit_of<C: Conn>(
    c: &mut C,
    request_pk: i64,
) -> Result<Option<(i64, String, String)>, StoreError> {
    let sql = format!(
        "SELECT id, permit_number, status FROM permits WHERE request_pk = $1{}",
        for_update(c)
    );
    c.opt_row(&sql, args![request_pk], &[Ty::I64, Ty::Text, Ty::Text])
        .await?
        .map(|r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?)))
        .transpose()
}

pub(crate) async fn history<C: Conn>(
    c: &mut C,
    request_pk: i64,
    at: DateTime<Utc>,
    actor: &Actor,
    state: &str,
    th: &str,
    en: &str,
) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO history (request_pk, at, actor, state, reason_th, reason_en) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![request_pk, at, actor.code(), state, th, en],
    )
    .await?;
    Ok(())
}

/// A request's id: `REQ-` and a UUID of version 7, whose first bits are the time. Ids drawn one
/// after the other grow, so a new id goes to the end of the unique index on `request_id`
/// instead of to a random page of it.
fn new_request_id() -> String {
    format!("REQ-{}", uuid::Uuid::now_v7().simple())
}

/// A permit request's response, and the writes that store it.
type Stored<T> = (T, Vec<Write>);

async fn permit_request<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
    pre: Prefetched,
) -> Result<Stored<ImportPermitResponse>, StoreError> {
    let hash = content_hash(req);
    let tax = req.importer.tax_number.as_str();
    let branch = req.importer.branch.to_string();
    let reference = req.reference.as_str();
    let current = pre.current;
    let pre = (pre.decision, pre.serial);
    match req.function {
        Function::Original => {
            if current.is_some() {
                let original = original_version(c, tax, &branch, reference)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("reference {reference} has no version 1"))
                    })?;
                if original.content_hash == hash {
                    let resp = rebuild_permit_response(c, original.pk, req.function, ctx).await?;
                    return Ok((resp, Vec::new()));
                }
                let reason = Reason {
                    code: ReasonCode::DuplicateReference,
                    field: XP_REFERENCE.into(),
                    message_th: format!(
                        "เลขที่อ้างอิง {reference} ถูกใช้แล้วกับคำขอของผู้นำเข้ารายนี้ซึ่งมีเนื้อหาต่างกัน \
                         หากต้องการแก้ไขคำขอเดิม ให้ส่งคำขอแทนที่ (Function 5) หรือใช้เลขที่อ้างอิงใหม่"
                    ),
                    message_en: format!(
                        "Reference number {reference} was already used by this importer for a request \
                         with different content; to change that request send a replacement \
                         (Function 5), otherwise use a new reference number"
                    ),
                };
                return reject_all(c, meta, req, ctx, &hash, reason).await;
            }
            decide_and_store_as(c, meta, req, ctx, &hash, Some(1), new_request_id(), pre).await
        }
        Function::Replacement | Function::Cancellation => {
            let Some(cur) = current else {
                let reason = Reason {
                    code: ReasonCode::ReferenceNotFound,
                    field: XP_REFERENCE.into(),
                    message_th: format!(
                        "ไม่พบคำขอเดิมเลขที่อ้างอิง {reference} ของผู้นำเข้ารายนี้ (เลขประจำตัวผู้เสียภาษีและสาขา) \
                         จึงแทนที่หรือยกเลิกไม่ได้ ตรวจสอบเลขที่อ้างอิง หรือส่งเป็นคำขอใหม่ (Function 9)"
                    ),
                    message_en: format!(
                        "No earlier request with reference number {reference} exists for this importer \
                         (tax number and branch), so it cannot be replaced or cancelled; check the \
                         reference number, or send it as a new request (Function 9)"
                    ),
                };
                return reject_all(c, meta, req, ctx, &hash, reason).await;
            };
            // The version read with the claim, locked, then as it stands: an officer's
            // decision may have changed it (and issued its permit) meanwhile. Once it is
            // locked, what it refers to is read afresh: its permit and write-offs, and
            // whether it is still the current version (a replacement that got there first
            // added one: then the whole message runs again).
            let cur = lock_request(c, cur.pk).await?;
            let newest = current_version(c, tax, &branch, reference).await?;
            if newest.as_ref().map(|n| n.pk) != Some(cur.pk) {
                return Err(StoreError::Conflict(format!(
                    "reference {reference} got a new version while this message waited for it"
                )));
            }
            let permit = lock_permit_of(c, cur.pk).await?;
            if let Some((permit_pk, number, _)) = &permit {
                let used = c
                    .one_row(
                        "SELECT CAST(COALESCE(SUM(written_off_milli), 0) AS BIGINT) FROM permit_items \
                         WHERE permit_pk = $1",
                        args![*permit_pk],
                        &[Ty::I64],
                    )
                    .await?
                    .i64(0)?;
                if used > 0 {
                    let reason = Reason {
                        code: ReasonCode::PermitInUse,
                        field: XP_FUNCTION.into(),
                        message_th: format!(
                            "ใบอนุญาต {number} ถูกตัดบัญชีปริมาณกับใบขนสินค้าแล้ว จึงแทนที่หรือยกเลิกคำขอเลขที่อ้างอิง \
                             {reference} ไม่ได้ หากต้องการแก้ไขให้ยกเลิกใบขนสินค้าที่ใช้ใบอนุญาตนี้ก่อน"
                        ),
                        message_en: format!(
                            "Permit {number} already has quantities written off against customs \
                             declarations, so request {reference} can no longer be replaced or \
                             cancelled; cancel the declarations that used it first"
                        ),
                    };
                    return reject_all(c, meta, req, ctx, &hash, reason).await;
                }
            }
            if req.function == Function::Cancellation && cur.decision == RequestDecision::Cancelled
            {
                // Cancelled already: the same answer again.
                let resp = rebuild_permit_response(c, cur.pk, req.function, ctx).await?;
                return Ok((resp, Vec::new()));
            }
            let new_request_id = new_request_id();
            if cur.decision != RequestDecision::Cancelled {
                let (th, en) = match req.function {
                    Function::Cancellation => (
                        format!("ยกเลิกตามคำขอยกเลิกของผู้นำเข้า (ข้อความ {})", meta.message_id),
                        format!(
                            "Cancelled at the importer's request (message {})",
                            meta.message_id
                        ),
                    ),
                    _ => (
                        format!(
                            "ถูกแทนที่ด้วยคำขอ {new_request_id} (ข้อความ {})",
                            meta.message_id
                        ),
                        format!(
                            "Replaced by request {new_request_id} (message {})",
                            meta.message_id
                        ),
                    ),
                };
                c.exec(
                    "UPDATE requests SET decision = 'CANCELLED' WHERE id = $1",
                    args![cur.pk],
                )
                .await?;
                if let Some((permit_pk, _, _)) = &permit {
                    // A permit an officer's refusal cancelled already keeps the day it was.
                    c.exec(
                        "UPDATE permits SET status = 'CANCELLED', cancelled_at = $1 \
                         WHERE id = $2 AND status = 'ACTIVE'",
                        args![ctx.now, *permit_pk],
                    )
                    .await?;
                }
                history(c, cur.pk, ctx.now, &Actor::System, "CANCELLED", &th, &en).await?;
                // Its answers still waiting to be sent (an officer's decision, its own
                // asynchronous answer, that of a resend of its content) are outdated: the
                // partner hears the cancellation now, and must not hear them after it.
                super::outbox::withdraw_outdated(c, cur.pk, &en, ctx.now).await?;
            }
            if req.function == Function::Cancellation {
                let resp = rebuild_permit_response(c, cur.pk, req.function, ctx).await?;
                return Ok((resp, Vec::new()));
            }
            let version = cur.version.unwrap_or(1) + 1;
            decide_and_store_as(c, meta, req, ctx, &hash, Some(version), new_request_id, pre).await
        }
    }
}

/// The importer's special quantities, read once before deciding.
struct Usage {
    importer: (String, String),
    by: HashMap<(String, i32), Amount>,
}

impl Usage {
    /// No earlier special-import quantities.
    fn none(tax_number: &str, branch: Branch) -> Usage {
        Usage {
            importer: (tax_number.to_string(), branch.to_string()),
            by: HashMap::new(),
        }
    }
}

impl SpecialUsage for Usage {
    fn used(&self, importer: &PartyKey, purpose: &str, year: i32) -> Amount {
        if (importer.tax_number.to_string(), importer.branch.to_string()) != self.importer {
            return Amount::ZERO;
        }
        self.by
            .get(&(purpose.to_owned(), year))
            .copied()
            .unwrap_or(Amount::ZERO)
    }
}

/// An importer's earlier special-import quantities by purpose and year (rule 13): what was
/// or may still be permitted, the same quantities the engine counts for the request it
/// decides (`domain::engine`, rule 13: the controlled items of a SPECIAL request). That is
/// the items of SPECIAL requests whose decision stands (neither REJECTED, where no permit is
/// issued, nor CANCELLED, which a replaced version is too: only the current version of a
/// reference counts) and whose own status is APPROVED, HOLD_FOR_INSPECTION or UNDER_REVIEW
/// (not NOT_REQUIRED, an uncontrolled item; not REJECTED, also by an officer or after an
/// inspection). Requests that never became a version of their reference are all REJECTED.
///
/// Indexes cover both of its tables (`requests_by_importer`, `request_items_special`): it
/// reads no row of the importer's earlier requests, which lie all over the database.
pub(crate) const SPECIAL_USAGE: &str =
    "SELECT ri.special_purpose, r.usage_year, CAST(SUM(ri.quantity_milli) AS BIGINT) \
     FROM request_items ri JOIN requests r ON r.id = ri.request_pk \
     WHERE r.importer_tax_number = $1 AND r.importer_branch = $2 \
     AND r.request_type = 'SPECIAL' AND r.decision NOT IN ('REJECTED', 'CANCELLED') \
     AND ri.status IN ('APPROVED', 'HOLD_FOR_INSPECTION', 'UNDER_REVIEW') \
     AND ri.special_purpose IS NOT NULL \
     GROUP BY ri.special_purpose, r.usage_year";

/// Makes the importer's special-import decisions take turns, until the transaction ends: a
/// decision reads the quantities used so far and adds to them, and two at once would each
/// miss the other's. On SQLite the one writer does that already; on PostgreSQL a transaction
/// lock on a key of the importer (a key shared by two importers only makes them wait for
/// each other). Whatever else a request's transaction locks, it locks before this.
async fn lock_special_usage<C: Conn>(c: &mut C, tax: &str, branch: &str) -> Result<(), StoreError> {
    match c.dialect() {
        Dialect::Sqlite => Ok(()),
        Dialect::Postgres => {
            // 13: the rule's number, the first half of the two-part key.
            c.exec(
                "SELECT pg_advisory_xact_lock(13, hashtext($1 || '/' || $2))",
                args![tax, branch],
            )
            .await?;
            Ok(())
        }
    }
}

async fn special_usage<C: Conn>(c: &mut C, tax: &str, branch: &str) -> Result<Usage, StoreError> {
    lock_special_usage(c, tax, branch).await?;
    let rows = c
        .rows(
            SPECIAL_USAGE,
            args![tax, branch],
            &[Ty::Text, Ty::I64, Ty::I64],
        )
        .await?;
    let mut by: HashMap<(String, i32), Amount> = HashMap::new();
    for r in rows {
        let year = i32::try_from(r.i64(1)?).map_err(|_| bad("year", "?"))?;
        // The engine compares purposes trimmed; so are they summed.
        let e = by.entry((r.text(0)?.trim().to_owned(), year)).or_default();
        *e = e.checked_add(p_amount(r.i64(2)?)?).unwrap_or(Amount::MAX);
    }
    Ok(Usage {
        importer: (tax.to_owned(), branch.to_owned()),
        by,
    })
}

#[allow(clippy::too_many_arguments)]
async fn decide_and_store_as<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
    hash: &str,
    version: Option<i64>,
    request_id: String,
    (decision, serial): (Option<Decision>, Option<u32>),
) -> Result<Stored<ImportPermitResponse>, StoreError> {
    let decision = match decision {
        Some(d) => d,
        None => {
            // Earlier special-import quantities matter only to items under a special-import
            // purpose (rule 13); the query reads all of the importer's earlier requests, so
            // it runs only for such requests.
            let usage = special_usage(
                c,
                &req.importer.tax_number,
                &req.importer.branch.to_string(),
            )
            .await?;
            let (decision, mark) = (ctx.decide)(req, &usage);
            check_statuses(c, ctx, mark).await?;
            decision
        }
    };
    store_request(
        c, meta, req, ctx, hash, version, request_id, decision, serial,
    )
    .await
}

/// Rejects every item of a request with one reason (duplicate reference, unknown reference,
/// permit in use). The request is recorded, but does not become a version of its reference.
async fn reject_all<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
    hash: &str,
    reason: Reason,
) -> Result<Stored<ImportPermitResponse>, StoreError> {
    let items = req
        .items
        .iter()
        .map(|g| ItemResult {
            item_number: g.item_number,
            invoice_item_number: g.invoice_item_number,
            hs_code: g.hs_code.clone(),
            country_of_origin: g.country_of_origin,
            status: ItemStatus::Rejected,
            standard: g
                .standard
                .as_deref()
                .and_then(|s| StandardRef::parse(s).ok()),
            approved_quantity: None,
            reasons: vec![reason.clone()],
        })
        .collect();
    let decision = Decision {
        decision: RequestDecision::Rejected,
        items,
        permit_dates: None,
    };
    store_request(
        c,
        meta,
        req,
        ctx,
        hash,
        None,
        new_request_id(),
        decision,
        None,
    )
    .await
}

/// The id of a request's item, for a row of a JSON array that holds the request id at
/// `request` and the item number at `item`. Looked up per row (an index search) rather than
/// joined: PostgreSQL guesses a hundred rows for any JSON array, and would rather scan the
/// tables whole than search them that often. On SQLite the request id is a shared field of
/// the rows, a parameter ([`rows_write`]): the request is looked up once per statement.
fn item_pk(dialect: Dialect, src: &Sources, request: usize, item: usize) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "(SELECT ri.id FROM {} r JOIN {} ri ON ri.request_pk = r.id \
             WHERE r.request_id = j.value ->> {request} \
             AND ri.item_number = CAST(j.value ->> {item} AS BIGINT))",
            src.requests, src.items
        ),
        Dialect::Sqlite => format!(
            "(SELECT ri.id FROM {} ri \
             WHERE ri.request_pk = (SELECT r.id FROM {} r WHERE r.request_id = j.value ->> {request}) \
             AND ri.item_number = CAST(j.value ->> {item} AS BIGINT))",
            src.items, src.requests
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn store_request<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    req: &ImportPermitRequest,
    ctx: &Ctx,
    hash: &str,
    version: Option<i64>,
    request_id: String,
    decision: Decision,
    serial: Option<u32>,
) -> Result<Stored<ImportPermitResponse>, StoreError> {
    let by_number: HashMap<u16, &crate::domain::GoodsItem> =
        req.items.iter().map(|g| (g.item_number, g)).collect();
    if decision.items.len() != req.items.len()
        || decision
            .items
            .iter()
            .any(|i| !by_number.contains_key(&i.item_number))
    {
        return Err(StoreError::Invalid(format!(
            "the decision has {} item results for {} goods items, or results for items the request does not have",
            decision.items.len(),
            req.items.len()
        )));
    }
    let permit_dates = match (decision.decision.issues_permit(), decision.permit_dates) {
        (true, Some(d)) => Some(d),
        (true, None) => {
            return Err(StoreError::Invalid(format!(
                "decision {} issues a permit but carries no permit dates",
                decision.decision.code()
            )))
        }
        (false, _) => None,
    };
    let branch = req.importer.branch.to_string();
    let s = &req.shipment;
    let src = Sources::of(c);
    let mut writes = Vec::with_capacity(8);
    // Each write joins to the request by its request id, which every row carries: the same
    // statements write one message or several ([`merge_writes`]).
    writes.push(
        Write::values(
            "the request",
            "INSERT INTO requests (request_id, message_id, importer_tax_number, importer_branch, \
         importer_name, importer_name_en, agent_tax_number, agent_branch, agent_name, reference, \
         version, function, request_type, content_hash, arrival_date, transport_mode, load_port, \
         discharge_port, country_of_destination, invoice_number, invoice_date, usage_year, \
         decision, decided_at) VALUES {rows}"
                .to_owned(),
            args![
                &request_id,
                &meta.message_id,
                &req.importer.tax_number,
                &branch,
                &req.importer.name,
                req.importer.name_en.clone(),
                req.agent.as_ref().map(|a| a.tax_number.to_string()),
                req.agent.as_ref().map(|a| a.branch.to_string()),
                req.agent.as_ref().map(|a| a.name.clone()),
                req.reference.as_str(),
                version,
                req.function.code(),
                req.request_type.code(),
                hash,
                s.arrival_date,
                s.transport_mode.code(),
                s.load_port.as_str(),
                s.discharge_port.as_str(),
                s.country_of_destination.as_str(),
                &req.invoice.number,
                req.invoice.date,
                s.arrival_date.year(),
                decision.decision.code(),
                ctx.now
            ],
            1,
        )
        .source(src.requests, "id, request_id"),
    );

    // The items, their reasons and the permit's items each in one statement over their rows
    // (`rows_write`), in lists of one size. Items are inserted in the order of the decision.
    let items: Vec<Vec<V>> = decision
        .items
        .iter()
        .enumerate()
        .map(|(pos, item)| {
            let g = by_number[&item.item_number];
            args![
                pos as i64,
                item.item_number,
                item.invoice_item_number,
                item.hs_code.as_str(),
                item.country_of_origin.as_str(),
                &g.description,
                &g.brand,
                &g.model,
                milli(g.quantity.amount),
                g.quantity.unit.as_str(),
                g.special_purpose.as_deref(),
                item.status.code(),
                item.standard.as_ref().map(|s| s.canonical()),
                item.approved_quantity.as_ref().map(|q| milli(q.amount)),
                item.approved_quantity.as_ref().map(|q| q.unit.as_str()),
            ]
        })
        .collect();
    let reasons: Vec<Vec<V>> = decision
        .items
        .iter()
        .flat_map(|item| {
            item.reasons.iter().enumerate().map(|(seq, r)| {
                args![
                    item.item_number,
                    seq as i64,
                    r.code.code(),
                    r.field.as_str(),
                    r.message_th.as_str(),
                    r.message_en.as_str(),
                ]
            })
        })
        .collect();
    // A permit's items are some of the request's.
    let size = ListSize::holding(items.len().max(reasons.len()));
    writes.push(
        rows_write(
            c,
            "the request's items",
            &format!(
            "INSERT INTO request_items (request_pk, item_number, invoice_item_number, hs_code, \
             country_of_origin, description, brand, model, quantity_milli, unit, special_purpose, \
             status, standard, approved_milli, approved_unit) \
             SELECT (SELECT r.id FROM {} r WHERE r.request_id = j.value ->> 15), \
             CAST(j.value ->> 1 AS BIGINT), CAST(j.value ->> 2 AS BIGINT), \
             j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6, j.value ->> 7, \
             CAST(j.value ->> 8 AS BIGINT), j.value ->> 9, j.value ->> 10, j.value ->> 11, \
             j.value ->> 12, CAST(j.value ->> 13 AS BIGINT), j.value ->> 14 \
             FROM {ROWS} ORDER BY 1, CAST(j.value ->> 0 AS BIGINT)",
            src.requests,
        ),
            Vec::new(),
            items,
            args![request_id.as_str()],
            size,
        )?
        .source(src.items, "id, request_pk, item_number"),
    );
    writes.push(rows_write(
        c,
        "the items' reasons",
        &format!(
            "INSERT INTO item_reasons (item_pk, seq, code, field, message_th, message_en) \
             SELECT {}, CAST(j.value ->> 1 AS BIGINT), j.value ->> 2, j.value ->> 3, \
             j.value ->> 4, j.value ->> 5 FROM {ROWS}",
            item_pk(c.dialect(), src, 6, 0),
        ),
        Vec::new(),
        reasons,
        args![request_id.as_str()],
        size,
    )?);

    let permit = match permit_dates {
        None => None,
        Some(dates) => {
            let serial = match serial {
                Some(s) => s,
                None => c.next_serial().await?,
            };
            let number = PermitNumber::for_date(ctx.today, serial).map_err(|e| {
                StoreError::Invalid(format!("permit number for serial {serial}: {e}"))
            })?;
            Some(Permit {
                number,
                issue_date: ctx.today,
                effective_date: dates.effective,
                expiry_date: dates.expiry,
                arrival_date: s.arrival_date,
                invoice_number: req.invoice.number.clone(),
                invoice_date: req.invoice.date,
                load_port: s.load_port,
                discharge_port: s.discharge_port,
                country_of_destination: s.country_of_destination,
            })
        }
    };
    let number = permit.as_ref().map(|p| p.number.to_string());
    // A request without a permit has a row of NULLs that the statement leaves out, so that
    // every message has a row in a merged statement.
    let permit_row = match &permit {
        Some(p) => args![
            &request_id,
            number.as_deref(),
            &req.importer.tax_number,
            &branch,
            p.issue_date,
            p.effective_date,
            p.expiry_date,
            p.arrival_date,
            &p.invoice_number,
            p.invoice_date,
            p.load_port.as_str(),
            p.discharge_port.as_str(),
            p.country_of_destination.as_str()
        ],
        None => {
            // NULLs of the permit's columns: its number, the holder, then its dates and the
            // rest as a permit is read back.
            let mut row = args![&request_id, None::<String>, None::<String>, None::<String>];
            row.extend(PERMIT_TYS[1..].iter().map(|t| V::Null(*t)));
            row
        }
    };
    writes.push(
        Write::values(
            "the permit",
            format!(
                "INSERT INTO permits (permit_number, request_pk, status, holder_tax_number, \
                 holder_branch, issue_date, effective_date, expiry_date, arrival_date, \
                 invoice_number, invoice_date, load_port, discharge_port, \
                 country_of_destination) \
                 SELECT v.column2, r.id, 'ACTIVE', v.column3, v.column4, v.column5, v.column6, \
                 v.column7, v.column8, v.column9, v.column10, v.column11, v.column12, \
                 v.column13 FROM (VALUES {{rows}}) AS v JOIN {} r ON r.request_id = v.column1 \
                 WHERE v.column2 IS NOT NULL",
                src.requests
            ),
            permit_row,
            u64::from(permit.is_some()),
        )
        .source(src.permits, "id, request_pk, permit_number"),
    );
    // The items a permit carries: approved or held for inspection, with a quantity; in item
    // number order.
    let mut on_permit: Vec<_> = match &number {
        None => Vec::new(),
        Some(_) => decision
            .items
            .iter()
            .filter_map(|item| {
                let q = item.approved_quantity.as_ref().filter(|_| {
                    matches!(
                        item.status,
                        ItemStatus::Approved | ItemStatus::HoldForInspection
                    )
                })?;
                Some((
                    item.item_number,
                    item.invoice_item_number,
                    item.hs_code.as_str(),
                    item.country_of_origin.as_str(),
                    q.unit.as_str(),
                    item.status.code(),
                    milli(q.amount),
                ))
            })
            .collect(),
    };
    on_permit.sort_by_key(|row| row.0);
    let on_permit: Vec<Vec<V>> = on_permit
        .into_iter()
        .map(|(item, invoice_item, hs, country, unit, status, amount)| {
            args![item, invoice_item, hs, country, unit, status, amount]
        })
        .collect();
    writes.push(rows_write(
        c,
        "the permit's items",
        &format!(
            "INSERT INTO permit_items (permit_pk, item_pk, item_number, invoice_item_number, \
             hs_code, country_of_origin, unit, status, approved_milli, written_off_milli) \
             SELECT (SELECT p.id FROM {} p WHERE p.permit_number = j.value ->> 7), {}, \
             CAST(j.value ->> 0 AS BIGINT), CAST(j.value ->> 1 AS BIGINT), j.value ->> 2, \
             j.value ->> 3, j.value ->> 4, j.value ->> 5, CAST(j.value ->> 6 AS BIGINT), 0 \
             FROM {ROWS} ORDER BY 1, 3",
            src.permits,
            item_pk(c.dialect(), src, 8, 0),
        ),
        Vec::new(),
        on_permit,
        match &number {
            Some(number) => args![number.as_str(), request_id.as_str()],
            None => Vec::new(),
        },
        size,
    )?);

    let (th, en) = decision_summary(&decision, permit.as_ref());
    writes.push(Write::values(
        "the request's history",
        format!(
            "INSERT INTO history (request_pk, at, actor, state, reason_th, reason_en) \
             SELECT r.id, v.column2, v.column3, v.column4, v.column5, v.column6 \
             FROM (VALUES {{rows}}) AS v JOIN {} r ON r.request_id = v.column1",
            src.requests
        ),
        args![
            &request_id,
            ctx.now,
            Actor::System.code(),
            decision.decision.code(),
            th,
            en
        ],
        1,
    ));

    let resp = ImportPermitResponse {
        reference: req.reference.clone(),
        function: req.function,
        request_id,
        decided_at: fixed(ctx.now),
        issuing_authority_tax_number: ctx.authority_tax_number,
        issuing_authority_name: ctx.authority_name.clone(),
        importer_tax_number: req.importer.tax_number.clone(),
        importer_branch: req.importer.branch,
        decision: decision.decision,
        permit,
        items: decision.items,
    };
    Ok((resp, writes))
}

fn decision_summary(d: &Decision, permit: Option<&Permit>) -> (String, String) {
    let mut codes: Vec<&str> = d
        .items
        .iter()
        .flat_map(|i| i.reasons.iter().map(|r| r.code.code()))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let codes = if codes.is_empty() {
        "-".to_owned()
    } else {
        codes.join(", ")
    };
    let n = d.items.len();
    match permit {
        Some(p) => (
            format!(
                "ผลการพิจารณา {} ({n} รายการ) ออกใบอนุญาต {} เหตุผล: {codes}",
                d.decision.code(),
                p.number
            ),
            format!(
                "Decided {} ({n} items), permit {} issued; reasons: {codes}",
                d.decision.code(),
                p.number
            ),
        ),
        None => (
            format!(
                "ผลการพิจารณา {} ({n} รายการ) ไม่มีการออกใบอนุญาต เหตุผล: {codes}",
                d.decision.code()
            ),
            format!(
                "Decided {} ({n} items), no permit issued; reasons: {codes}",
                d.decision.code()
            ),
        ),
    }
}

/// Draws the next permit serial.
pub(crate) fn serial_stmt(dialect: Dialect) -> Stmt {
    let sql = match dialect {
        Dialect::Postgres => "SELECT nextval('permit_serial')",
        Dialect::Sqlite => {
            "UPDATE counters SET value = value + 1 WHERE name = 'permit_serial' RETURNING value"
        }
    };
    Stmt::rows(sql, args![], &[Ty::I64])
}

pub(crate) fn parse_serial(row: Option<&Row>) -> Result<u32, StoreError> {
    let v = row
        .ok_or_else(|| StoreError::Corrupt("no permit serial was drawn".into()))?
        .i64(0)?;
    u32::try_from(v)
        .ok()
        .filter(|s| *s <= PermitNumber::MAX_SERIAL)
        .ok_or_else(|| StoreError::Database(format!("permit serial {v} is out of range")))
}

fn permit_from_row(r: &Row, at: usize) -> Result<Permit, StoreError> {
    let number = r.text(at)?;
    Ok(Permit {
        number: PermitNumber::parse(&number).map_err(|_| bad("permit number", &number))?,
        issue_date: r.date(at + 1)?,
        effective_date: r.date(at + 2)?,
        expiry_date: r.date(at + 3)?,
        arrival_date: r.date(at + 4)?,
        invoice_number: r.text(at + 5)?,
        invoice_date: r.date(at + 6)?,
        load_port: p_port(&r.text(at + 7)?)?,
        discharge_port: p_port(&r.text(at + 8)?)?,
        country_of_destination: p_country(&r.text(at + 9)?)?,
    })
}

const PERMIT_COLS: &str = "permit_number, issue_date, effective_date, expiry_date, arrival_date, \
     invoice_number, invoice_date, load_port, discharge_port, country_of_destination";
const PERMIT_TYS: [Ty; 10] = [
    Ty::Text,
    Ty::Date,
    Ty::Date,
    Ty::Date,
    Ty::Date,
    Ty::Text,
    Ty::Date,
    Ty::Text,
    Ty::Text,
    Ty::Text,
];

pub(crate) async fn permit_of_request<C: Conn>(
    c: &mut C,
    request_pk: i64,
) -> Result<Option<Permit>, StoreError> {
    let sql = format!("SELECT {PERMIT_COLS} FROM permits WHERE request_pk = $1");
    c.opt_row(&sql, args![request_pk], &PERMIT_TYS)
        .await?
        .map(|r| permit_from_row(&r, 0))
        .transpose()
}

/// The reasons of a request's items: the item's pk, then code, field and the two messages.
pub(crate) const ITEM_REASONS: &str =
    "SELECT ir.item_pk, ir.code, ir.field, ir.message_th, ir.message_en FROM item_reasons ir \
     JOIN request_items ri ON ri.id = ir.item_pk WHERE ri.request_pk = $1 ORDER BY ir.item_pk, ir.seq";

/// The reasons of a declaration's lines, in the columns of [`ITEM_REASONS`].
const LINE_REASONS: &str =
    "SELECT lr.line_pk, lr.code, lr.field, lr.message_th, lr.message_en FROM line_reasons lr \
     JOIN declaration_lines dl ON dl.id = lr.line_pk WHERE dl.declaration_pk = $1 \
     ORDER BY lr.line_pk, lr.seq";

pub(crate) const REASON_TYS: &[Ty] = &[Ty::I64, Ty::Text, Ty::Text, Ty::Text, Ty::Text];

/// Rows whose first column is the pk of the item or line they belong to, read by `read` and
/// grouped by that pk, each group in the rows' order.
pub(crate) fn by_owner<T>(
    rows: &[Row],
    read: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<HashMap<i64, Vec<T>>, StoreError> {
    let mut groups: HashMap<i64, Vec<T>> = HashMap::new();
    for r in rows {
        groups.entry(r.i64(0)?).or_default().push(read(r)?);
    }
    Ok(groups)
}

fn reason_from_row(r: &Row, at: usize) -> Result<Reason, StoreError> {
    let code = r.text(at)?;
    Ok(Reason {
        code: ReasonCode::from_code(&code).ok_or_else(|| bad("reason code", &code))?,
        field: r.text(at + 1)?,
        message_th: r.text(at + 2)?,
        message_en: r.text(at + 3)?,
    })
}

/// The response for a stored request, rebuilt from its rows (an identical resend, a repeated
/// cancellation), with the decision as it stands now.
async fn rebuild_permit_response<C: Conn>(
    c: &mut C,
    request_pk: i64,
    function: Function,
    ctx: &Ctx,
) -> Result<ImportPermitResponse, StoreError> {
    rebuild_permit_response_as(
        c,
        request_pk,
        function,
        ctx.authority_tax_number,
        &ctx.authority_name,
    )
    .await
}

/// [`rebuild_permit_response`] with the issuing authority given directly.
pub(crate) async fn rebuild_permit_response_as<C: Conn>(
    c: &mut C,
    request_pk: i64,
    function: Function,
    authority_tax_number: TaxNumber,
    authority_name: &str,
) -> Result<ImportPermitResponse, StoreError> {
    let r = c
        .one_row(
            &format!(
                "SELECT r.reference, r.request_id, {}, r.importer_tax_number, r.importer_branch, \
                 r.decision FROM requests r WHERE r.id = $1",
                decided_at_of("r")
            ),
            args![request_pk],
            &[Ty::Text, Ty::Text, Ty::Time, Ty::Text, Ty::Text, Ty::Text],
        )
        .await?;
    let reference = r.text(0)?;
    let decision = r.text(5)?;
    let permit = permit_of_request(c, request_pk).await?;
    let rows = c
        .rows(
            "SELECT id, item_number, invoice_item_number, hs_code, country_of_origin, status, \
             standard, approved_milli, approved_unit FROM request_items WHERE request_pk = $1 ORDER BY id",
            args![request_pk],
            &[Ty::I64, Ty::I64, Ty::I64, Ty::Text, Ty::Text, Ty::Text, Ty::Text, Ty::I64, Ty::Text],
        )
        .await?;
    let mut reasons = by_owner(
        &c.rows(ITEM_REASONS, args![request_pk], REASON_TYS).await?,
        |r| reason_from_row(r, 1),
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for it in &rows {
        let status = it.text(5)?;
        let approved_quantity = match (it.opt_i64(7)?, it.opt_text(8)?) {
            (Some(m), Some(u)) => Some(Quantity {
                amount: p_amount(m)?,
                unit: p_unit(&u)?,
            }),
            _ => None,
        };
        items.push(ItemResult {
            item_number: p_u16(it.i64(1)?, "item number")?,
            invoice_item_number: p_u16(it.i64(2)?, "invoice item number")?,
            hs_code: p_hs(&it.text(3)?)?,
            country_of_origin: p_country(&it.text(4)?)?,
            status: ItemStatus::from_code(&status).ok_or_else(|| bad("item status", &status))?,
            standard: it.opt_text(6)?.map(|s| p_standard(&s)).transpose()?,
            approved_quantity,
            reasons: reasons.remove(&it.i64(0)?).unwrap_or_default(),
        });
    }
    Ok(ImportPermitResponse {
        reference: ReferenceNumber::parse(&reference).map_err(|_| bad("reference", &reference))?,
        function,
        request_id: r.text(1)?,
        decided_at: fixed(r.time(2)?),
        issuing_authority_tax_number: authority_tax_number,
        issuing_authority_name: authority_name.to_owned(),
        importer_tax_number: r.text(3)?,
        importer_branch: p_branch(&r.text(4)?)?,
        decision: RequestDecision::from_code(&decision)
            .ok_or_else(|| bad("decision", &decision))?,
        permit,
        items,
    })
}

// ---------------------------------------------------------------------------------------------
// Declarations
// ---------------------------------------------------------------------------------------------

/// A stored permit, locked for the transaction.
struct PermitRow {
    pk: i64,
    status: String,
    cancelled_at: Option<DateTime<Utc>>,
    holder: PartyKey,
    permit: Permit,
}

/// The columns of a [`PermitRow`].
const PERMIT_ROW_TYS: [Ty; 15] = [
    Ty::I64,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Time,
    PERMIT_TYS[0],
    PERMIT_TYS[1],
    PERMIT_TYS[2],
    PERMIT_TYS[3],
    PERMIT_TYS[4],
    PERMIT_TYS[5],
    PERMIT_TYS[6],
    PERMIT_TYS[7],
    PERMIT_TYS[8],
    PERMIT_TYS[9],
];

async fn lock_permit_by_number<C: Conn>(
    c: &mut C,
    number: &str,
) -> Result<Option<PermitRow>, StoreError> {
    let sql = format!(
        "SELECT id, status, holder_tax_number, holder_branch, cancelled_at, {PERMIT_COLS} \
         FROM permits WHERE permit_number = $1{}",
        for_update(c)
    );
    c.opt_row(&sql, args![number], &PERMIT_ROW_TYS)
        .await?
        .map(|r| permit_row(&r))
        .transpose()
}

struct PermitItemRow {
    pk: i64,
    permit_pk: i64,
    request_pk: i64,
    item_number: u16,
    invoice_item_number: u16,
    hs_code: HsCode,
    country_of_origin: Country,
    unit: UnitCode,
    status: ItemStatus,
    approved: Amount,
    written_off: Amount,
}

fn permit_row(r: &Row) -> Result<PermitRow, StoreError> {
    Ok(PermitRow {
        pk: r.i64(0)?,
        status: r.text(1)?,
        cancelled_at: r.opt_time(4)?,
        holder: PartyKey {
            tax_number: p_tax(&r.text(2)?)?,
            branch: p_branch(&r.text(3)?)?,
        },
        permit: permit_from_row(r, 5)?,
    })
}

fn permit_item_row(r: &Row) -> Result<PermitItemRow, StoreError> {
    let status = r.text(6)?;
    Ok(PermitItemRow {
        pk: r.i64(0)?,
        item_number: p_u16(r.i64(1)?, "item number")?,
        invoice_item_number: p_u16(r.i64(2)?, "invoice item number")?,
        hs_code: p_hs(&r.text(3)?)?,
        country_of_origin: p_country(&r.text(4)?)?,
        unit: p_unit(&r.text(5)?)?,
        status: ItemStatus::from_code(&status).ok_or_else(|| bad("item status", &status))?,
        approved: p_amount(r.i64(7)?)?,
        written_off: p_amount(r.i64(8)?)?,
        permit_pk: r.i64(9)?,
        request_pk: r.i64(10)?,
    })
}

/// What a declaration check reads before it writes, in the claim's round trip: whether its
/// number was checked before, the permits it names (locked, in permit-number order) and
/// their items.
fn declaration_reads<C: Conn>(c: &C, d: &DeclarationCheck) -> Vec<Stmt> {
    let numbers: BTreeSet<String> = d
        .lines
        .iter()
        .map(|l| l.permit_number.to_string())
        .collect();
    let numbers: Vec<(String,)> = numbers.into_iter().map(|n| (n,)).collect();
    let numbers = json_param(&numbers);
    vec![
        Stmt::rows(
            "SELECT id FROM declarations WHERE declaration_number = $1",
            args![&d.declaration_number],
            &[Ty::I64],
        ),
        Stmt::rows(
            format!(
                "SELECT id, status, holder_tax_number, holder_branch, cancelled_at, {PERMIT_COLS} \
                 FROM permits WHERE permit_number IN (SELECT j.value ->> 0 FROM {}) \
                 ORDER BY permit_number{}",
                json_rows(c, 1),
                for_update(c)
            ),
            vec![numbers.clone()],
            &PERMIT_ROW_TYS,
        ),
        Stmt::rows(
            format!(
                "SELECT pi.id, pi.item_number, pi.invoice_item_number, pi.hs_code, \
                 pi.country_of_origin, pi.unit, pi.status, pi.approved_milli, \
                 pi.written_off_milli, pi.permit_pk, ri.request_pk \
                 FROM permits p JOIN permit_items pi ON pi.permit_pk = p.id \
                 JOIN request_items ri ON ri.id = pi.item_pk \
                 WHERE p.permit_number IN (SELECT j.value ->> 0 FROM {}) \
                 ORDER BY pi.permit_pk, pi.invoice_item_number, pi.item_number",
                json_rows(c, 1)
            ),
            vec![numbers],
            &[
                Ty::I64,
                Ty::I64,
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::I64,
                Ty::I64,
                Ty::I64,
            ],
        ),
    ]
}

/// What [`declaration_reads`] read.
struct DeclarationRead {
    earlier: Option<i64>,
    /// By permit number.
    permits: HashMap<String, PermitRow>,
    items: Vec<PermitItemRow>,
}

impl DeclarationRead {
    fn parse(mut done: impl Iterator<Item = Done>) -> Result<DeclarationRead, StoreError> {
        let mut next = || {
            done.next().ok_or_else(|| {
                StoreError::Corrupt("a read of the declaration returned nothing".into())
            })
        };
        let earlier = next()?.rows.first().map(|r| r.i64(0)).transpose()?;
        let permits = next()?
            .rows
            .iter()
            .map(|r| {
                let p = permit_row(r)?;
                Ok((p.permit.number.to_string(), p))
            })
            .collect::<Result<_, StoreError>>()?;
        let items = next()?
            .rows
            .iter()
            .map(permit_item_row)
            .collect::<Result<_, _>>()?;
        Ok(DeclarationRead {
            earlier,
            permits,
            items,
        })
    }

    /// The permit item a line names: on its permit, with its invoice item number (a request
    /// may repeat one); among those, the ones whose HS code agrees with the line's (as
    /// matching compares them) first, and of those the first, by item number, that still has
    /// the line's quantity left after the declaration's earlier lines; else the lowest item
    /// number. So what a request approved under one invoice item number can all be written
    /// off, line by line.
    fn item_for(
        &self,
        permit_pk: i64,
        line: &crate::domain::DeclarationLine,
        claims: &Claims<i64>,
    ) -> Option<&PermitItemRow> {
        use crate::domain::matching::{hs_agree, quantity_left};
        let agrees = |i: &PermitItemRow| hs_agree(&i.hs_code, &line.hs_code);
        let mut on: Vec<&PermitItemRow> = self
            .items
            .iter()
            .filter(|i| {
                i.permit_pk == permit_pk && i.invoice_item_number == line.invoice_item_number
            })
            .collect();
        on.sort_by_key(|i| (!agrees(i), i.item_number));
        on.iter()
            .find(|i| {
                agrees(i)
                    && quantity_left(i.approved, i.written_off, claims.before(&i.pk))
                        >= line.quantity.amount
            })
            .or(on.first())
            .copied()
    }
}

fn line_xpath(pos: usize, field: &str) -> String {
    format!("/DeclarationCheck/Line[{pos}]/{field}")
}

async fn declaration_check<C: Conn>(
    c: &mut C,
    meta: &MessageMeta,
    d: &DeclarationCheck,
    ctx: &Ctx,
    read: DeclarationRead,
) -> Result<Stored<DeclarationCheckResponse>, StoreError> {
    if let Some(pk) = read.earlier {
        let resp = rebuild_declaration_response(c, pk, &d.declaration_number).await?;
        return Ok((resp, Vec::new()));
    }

    struct LineState<'r> {
        result: LineResult,
        reasons: Vec<Reason>,
        item: Option<&'r PermitItemRow>,
        /// The permit is ACTIVE: what remains of its items can still be written off.
        usable: bool,
    }
    let mut states = Vec::with_capacity(d.lines.len());
    // By permit item: a request may repeat an invoice item number.
    let mut claims = Claims::default();
    for (i, line) in d.lines.iter().enumerate() {
        let pos = i + 1;
        let number = line.permit_number.to_string();
        let Some(p) = read.permits.get(&number) else {
            states.push(LineState {
                result: LineResult::PermitNotFound,
                reasons: vec![Reason {
                    code: ReasonCode::PermitNotFound,
                    field: line_xpath(pos, "PermitNumber"),
                    message_th: format!(
                        "ไม่พบใบอนุญาตเลขที่ {number} ในระบบของ สมอ. ตรวจสอบเลขที่ใบอนุญาต"
                    ),
                    message_en: format!(
                        "Permit {number} was not issued by TISI; check the permit number"
                    ),
                }],
                item: None,
                usable: false,
            });
            continue;
        };
        let item = read.item_for(p.pk, line, &claims);
        let cancelled = p.status != "ACTIVE";
        let as_matched = |i: &PermitItemRow| PermitItem {
            invoice_item_number: i.invoice_item_number,
            hs_code: i.hs_code.clone(),
            country_of_origin: i.country_of_origin,
            unit: i.unit.clone(),
            approved: i.approved,
            written_off: i.written_off,
            status: i.status,
        };
        let items = match item {
            Some(i) => vec![as_matched(i)],
            None => read
                .items
                .iter()
                .filter(|i| i.permit_pk == p.pk)
                .map(as_matched)
                .collect(),
        };
        let record = PermitRecord {
            permit: p.permit.clone(),
            holder: p.holder,
            issuing_authority: ctx.authority_tax_number,
            decision: if cancelled {
                RequestDecision::Cancelled
            } else {
                RequestDecision::Approved
            },
            cancelled_on: p
                .cancelled_at
                .filter(|_| cancelled)
                .map(crate::domain::thai_date),
            items,
        };
        let claimed_before = item.map(|i| claims.before(&i.pk)).unwrap_or_default();
        let (result, reasons) = (ctx.match_line)(line, d, &record, claimed_before);
        if let Some(i) = item {
            claims.record(i.pk, result, line.quantity.amount);
        }
        states.push(LineState {
            result,
            reasons,
            item,
            usable: !cancelled,
        });
    }

    // All or nothing: write off only when every line matched, and the lines on one permit
    // item together stay within what remains of it.
    let mut deducted: BTreeMap<i64, Amount> = BTreeMap::new();
    let mut result = if states.iter().all(|s| s.result == LineResult::Matched) {
        DeclarationResult::Accepted
    } else if states
        .iter()
        .all(|s| matches!(s.result, LineResult::Matched | LineResult::Hold))
    {
        DeclarationResult::Hold
    } else {
        DeclarationResult::Refused
    };
    if result == DeclarationResult::Accepted {
        let mut want: BTreeMap<i64, Amount> = BTreeMap::new();
        for (s, line) in states.iter().zip(&d.lines) {
            let pk = s.item.map(|i| i.pk).expect("a matched line has its item");
            let e = want.entry(pk).or_default();
            *e = e.checked_add(line.quantity.amount).unwrap_or(Amount::MAX);
        }
        let exceeded: BTreeSet<i64> = states
            .iter()
            .filter_map(|s| s.item)
            .filter(|i| want[&i.pk] > i.approved.saturating_sub(i.written_off))
            .map(|i| i.pk)
            .collect();
        if exceeded.is_empty() {
            deducted = want;
        } else {
            result = DeclarationResult::Refused;
            for (i, (s, line)) in states.iter_mut().zip(&d.lines).enumerate() {
                let item = s.item.expect("a matched line has its item");
                if !exceeded.contains(&item.pk) {
                    continue;
                }
                let remaining = item.approved.saturating_sub(item.written_off);
                let total = want[&item.pk];
                s.result = LineResult::QuantityExceeded;
                s.reasons.push(Reason {
                    code: ReasonCode::QuantityExceeded,
                    field: line_xpath(i + 1, "Quantity"),
                    message_th: format!(
                        "ปริมาณที่สำแดงต่อรายการที่ {} ของใบอนุญาต {} รวม {total} {} เกินปริมาณคงเหลือ {remaining} {}",
                        item.item_number, line.permit_number, item.unit, item.unit
                    ),
                    message_en: format!(
                        "Declared quantity for item {} of permit {} totals {total} {}, more than the {remaining} {} that remain",
                        item.item_number, line.permit_number, item.unit, item.unit
                    ),
                });
            }
        }
    }

    let mut writes = Vec::new();
    // The write-offs first, each guarded by the quantity it must not exceed: the permits are
    // locked, so the guard holds unless the rows changed under the lock (then the message
    // fails and is rolled back rather than write off too much).
    for (pk, q) in &deducted {
        writes.push(Write::one(
            "a write-off",
            "UPDATE permit_items SET written_off_milli = written_off_milli + $1 \
             WHERE id = $2 AND written_off_milli + $1 <= approved_milli",
            args![milli(*q), *pk],
        ));
    }
    writes.push(Write::one(
        "the declaration",
        "INSERT INTO declarations (declaration_number, message_id, importer_tax_number, \
         importer_branch, declaration_date, arrival_date, result, checked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            &d.declaration_number,
            &meta.message_id,
            d.importer.tax_number.to_string(),
            d.importer.branch.to_string(),
            d.declaration_date,
            d.arrival_date,
            result.code(),
            ctx.now
        ],
    ));

    let mut lines = Vec::with_capacity(states.len());
    let mut line_rows: Vec<Vec<V>> = Vec::with_capacity(states.len());
    let mut reason_rows: Vec<Vec<V>> = Vec::new();
    for (pos, (s, line)) in states.into_iter().zip(&d.lines).enumerate() {
        // Nothing remains of an item of a cancelled permit, or of one without an approved
        // quantity (as the status query says).
        let remaining = s.item.map(|i| Quantity {
            amount: if s.usable && i.status.approves_quantity() {
                i.approved
                    .saturating_sub(i.written_off)
                    .saturating_sub(deducted.get(&i.pk).copied().unwrap_or_default())
            } else {
                Amount::ZERO
            },
            unit: i.unit.clone(),
        });
        line_rows.push(args![
            pos as i64,
            line.line_number,
            line.permit_number.to_string(),
            s.item.map(|i| i.pk),
            line.invoice_item_number,
            milli(line.quantity.amount),
            line.quantity.unit.to_string(),
            s.result.code(),
            remaining.as_ref().map(|q| milli(q.amount)),
            remaining.as_ref().map(|q| q.unit.to_string()),
        ]);
        for (seq, r) in s.reasons.iter().enumerate() {
            reason_rows.push(args![
                line.line_number,
                seq as i64,
                r.code.code(),
                &r.field,
                &r.message_th,
                &r.message_en,
            ]);
        }
        lines.push(DeclarationLineResult {
            line_number: line.line_number,
            result: s.result,
            remaining,
            reasons: s.reasons,
        });
    }
    let off_rows: Vec<Vec<V>> = deducted
        .iter()
        .map(|(pk, q)| args![*pk, milli(*q)])
        .collect();
    let size = ListSize::holding(line_rows.len().max(reason_rows.len()).max(off_rows.len()));
    writes.push(rows_write(
        c,
        "the declaration's lines",
        &format!(
            "INSERT INTO declaration_lines (declaration_pk, line_number, permit_number, \
             permit_item_pk, invoice_item_number, quantity_milli, unit, result, remaining_milli, \
             remaining_unit) \
             SELECT d.id, CAST(j.value ->> 1 AS BIGINT), j.value ->> 2, \
             CAST(j.value ->> 3 AS BIGINT), CAST(j.value ->> 4 AS BIGINT), \
             CAST(j.value ->> 5 AS BIGINT), j.value ->> 6, j.value ->> 7, \
             CAST(j.value ->> 8 AS BIGINT), j.value ->> 9 \
             FROM declarations d, {ROWS} WHERE d.declaration_number = $1 \
             ORDER BY CAST(j.value ->> 0 AS BIGINT)"
        ),
        args![&d.declaration_number],
        line_rows,
        Vec::new(),
        size,
    )?);
    if !reason_rows.is_empty() {
        writes.push(rows_write(
            c,
            "the lines' reasons",
            &format!(
                "INSERT INTO line_reasons (line_pk, seq, code, field, message_th, message_en) \
                 SELECT dl.id, CAST(j.value ->> 1 AS BIGINT), j.value ->> 2, j.value ->> 3, \
                 j.value ->> 4, j.value ->> 5 \
                 FROM declarations d JOIN declaration_lines dl ON dl.declaration_pk = d.id, {ROWS} \
                 WHERE d.declaration_number = $1 \
                 AND dl.line_number = CAST(j.value ->> 0 AS BIGINT)"
            ),
            args![&d.declaration_number],
            reason_rows,
            Vec::new(),
            size,
        )?);
    }
    if !deducted.is_empty() {
        writes.push(rows_write(
            c,
            "the write-off records",
            &format!(
                "INSERT INTO write_offs (declaration_pk, permit_item_pk, amount_milli) \
                 SELECT d.id, CAST(j.value ->> 0 AS BIGINT), CAST(j.value ->> 1 AS BIGINT) \
                 FROM declarations d, {ROWS} WHERE d.declaration_number = $1"
            ),
            args![&d.declaration_number],
            off_rows,
            Vec::new(),
            size,
        )?);
        let dn = &d.declaration_number;
        for (pk, q) in &deducted {
            let item = read
                .items
                .iter()
                .find(|i| i.pk == *pk)
                .expect("a deducted item was read");
            let (item_number, unit) = (item.item_number, &item.unit);
            let left = item
                .approved
                .saturating_sub(item.written_off)
                .saturating_sub(*q);
            writes.push(Write::one(
                "the write-off's history",
                "INSERT INTO history (request_pk, at, actor, state, reason_th, reason_en) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                args![
                    item.request_pk,
                    ctx.now,
                    Actor::Customs.code(),
                    "WRITTEN_OFF",
                    format!("ใบขนสินค้า {dn} ตัดบัญชีรายการที่ {item_number} จำนวน {q} {unit} คงเหลือ {left} {unit}"),
                    format!("Declaration {dn} wrote off {q} {unit} of item {item_number}; {left} {unit} remain")
                ],
            ));
        }
    }

    let resp = DeclarationCheckResponse {
        declaration_number: d.declaration_number.clone(),
        result,
        lines,
    };
    Ok((resp, writes))
}

async fn rebuild_declaration_response<C: Conn>(
    c: &mut C,
    decl_pk: i64,
    number: &str,
) -> Result<DeclarationCheckResponse, StoreError> {
    let result = c
        .one_row(
            "SELECT result FROM declarations WHERE id = $1",
            args![decl_pk],
            &[Ty::Text],
        )
        .await?
        .text(0)?;
    let rows = c
        .rows(
            "SELECT id, line_number, result, remaining_milli, remaining_unit FROM declaration_lines \
             WHERE declaration_pk = $1 ORDER BY id",
            args![decl_pk],
            &[Ty::I64, Ty::I64, Ty::Text, Ty::I64, Ty::Text],
        )
        .await?;
    let mut reasons = by_owner(
        &c.rows(LINE_REASONS, args![decl_pk], REASON_TYS).await?,
        |r| reason_from_row(r, 1),
    )?;
    let mut lines = Vec::with_capacity(rows.len());
    for r in &rows {
        let res = r.text(2)?;
        lines.push(DeclarationLineResult {
            line_number: p_u16(r.i64(1)?, "line number")?,
            result: LineResult::from_code(&res).ok_or_else(|| bad("line result", &res))?,
            remaining: match (r.opt_i64(3)?, r.opt_text(4)?) {
                (Some(m), Some(u)) => Some(Quantity {
                    amount: p_amount(m)?,
                    unit: p_unit(&u)?,
                }),
                _ => None,
            },
            reasons: reasons.remove(&r.i64(0)?).unwrap_or_default(),
        });
    }
    Ok(DeclarationCheckResponse {
        declaration_number: number.to_owned(),
        result: DeclarationResult::from_code(&result)
            .ok_or_else(|| bad("declaration result", &result))?,
        lines,
    })
}

async fn declaration_amendment<C: Conn>(
    c: &mut C,
    a: &DeclarationAmendment,
    ctx: &Ctx,
) -> Result<DeclarationAmendmentResponse, StoreError> {
    let number = &a.declaration_number;
    let Some(decl) = c
        .opt_row(
            "SELECT id FROM declarations WHERE declaration_number = $1",
            args![number],
            &[Ty::I64],
        )
        .await?
    else {
        return Ok(DeclarationAmendmentResponse {
            declaration_number: number.clone(),
            result: AmendmentResult::UnknownDeclaration,
        });
    };
    let decl_pk = decl.i64(0)?;
    // Lock the permits concerned in the same order as declarations do.
    let permit_numbers = c
        .rows(
            "SELECT DISTINCT p.permit_number FROM write_offs w JOIN permit_items pi ON pi.id = w.permit_item_pk \
             JOIN permits p ON p.id = pi.permit_pk WHERE w.declaration_pk = $1 ORDER BY p.permit_number",
            args![decl_pk],
            &[Ty::Text],
        )
        .await?;
    for r in &permit_numbers {
        lock_permit_by_number(c, &r.text(0)?).await?;
    }
    // Restore once: only the transaction that marks the declaration restores.
    let first = c
        .exec(
            "UPDATE declarations SET restored_at = $1 WHERE id = $2 AND restored_at IS NULL",
            args![ctx.now, decl_pk],
        )
        .await?;
    if first == 1 {
        let wos = c
            .rows(
                "SELECT w.permit_item_pk, w.amount_milli, ri.request_pk, pi.item_number, pi.unit \
                 FROM write_offs w JOIN permit_items pi ON pi.id = w.permit_item_pk \
                 JOIN request_items ri ON ri.id = pi.item_pk \
                 WHERE w.declaration_pk = $1 AND w.restored = $2 ORDER BY w.permit_item_pk",
                args![decl_pk, false],
                &[Ty::I64, Ty::I64, Ty::I64, Ty::I64, Ty::Text],
            )
            .await?;
        for w in &wos {
            c.exec(
                "UPDATE permit_items SET written_off_milli = written_off_milli - $1 WHERE id = $2",
                args![w.i64(1)?, w.i64(0)?],
            )
            .await?;
            let q = p_amount(w.i64(1)?)?;
            let item = w.i64(3)?;
            let unit = w.text(4)?;
            history(
                c,
                w.i64(2)?,
                ctx.now,
                &Actor::Customs,
                "RESTORED",
                &format!("ยกเลิกใบขนสินค้า {number} คืนปริมาณรายการที่ {item} จำนวน {q} {unit}"),
                &format!("Declaration {number} cancelled: {q} {unit} of item {item} restored"),
            )
            .await?;
        }
        c.exec(
            "UPDATE write_offs SET restored = $1 WHERE declaration_pk = $2",
            args![true, decl_pk],
        )
        .await?;
    }
    Ok(DeclarationAmendmentResponse {
        declaration_number: number.clone(),
        result: AmendmentResult::Restored,
    })
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

/// The tax number of a permit's holder; `None` when no such permit was issued.
pub(crate) async fn permit_holder<C: Conn>(
    c: &mut C,
    permit: &PermitNumber,
) -> Result<Option<PartyKey>, StoreError> {
    c.opt_row(
        "SELECT holder_tax_number, holder_branch FROM permits WHERE permit_number = $1",
        args![permit.to_string()],
        &[Ty::Text, Ty::Text],
    )
    .await?
    .map(|r| {
        Ok(PartyKey {
            tax_number: p_tax(&r.text(0)?)?,
            branch: p_branch(&r.text(1)?)?,
        })
    })
    .transpose()
}

/// SQL for when the current decision of request `r` (an alias of `requests`) was made: the
/// last history entry that set it (a cancellation, an officer's decision), else the first
/// decision. What a response's DecidedAt and the API's `decided_at` say.
pub(crate) fn decided_at_of(r: &str) -> String {
    format!(
        "COALESCE((SELECT h.at FROM history h WHERE h.request_pk = {r}.id \
         AND h.state = {r}.decision ORDER BY h.id DESC LIMIT 1), {r}.decided_at)"
    )
}

/// An item's approved and remaining quantities as a status shows them, from what its permit
/// item approved and wrote off (0 and 0 when it is not on a permit) and the permit's status
/// (`NONE` without a permit). An item approved and then refused at the port shows what was
/// written off as approved; nothing remains on a permit that is not ACTIVE, nor of a refused
/// item.
pub(crate) fn item_quantities(
    status: ItemStatus,
    on_permit: Amount,
    written_off: Amount,
    permit_status: &str,
) -> (Amount, Amount) {
    let approved = match status {
        ItemStatus::Rejected => written_off,
        _ => on_permit,
    };
    let remaining = if permit_status == "ACTIVE" {
        approved.saturating_sub(written_off)
    } else {
        Amount::ZERO
    };
    (approved, remaining)
}

/// The history of the reference of the request `request_pk`, oldest first: every state change
/// of the reference's versions (decisions, cancellations, replacements, officers' actions,
/// write-offs), as rows of (at, actor, state, reason_th, reason_en). An attempt refused
/// without becoming a version (a duplicate with other content, a replacement of a permit in
/// use) changed nothing of the reference, so its own row shows only when it is the request
/// shown (a reference that has nothing else).
pub(crate) async fn reference_history<C: Conn>(
    c: &mut C,
    request_pk: i64,
) -> Result<Vec<Row>, StoreError> {
    c.rows(
        "SELECT h.at, h.actor, h.state, h.reason_th, h.reason_en FROM requests s \
         JOIN requests r ON r.importer_tax_number = s.importer_tax_number \
         AND r.importer_branch = s.importer_branch AND r.reference = s.reference \
         AND (r.version IS NOT NULL OR r.id = s.id) \
         JOIN history h ON h.request_pk = r.id \
         WHERE s.id = $1 ORDER BY h.at, h.id",
        args![request_pk],
        &[Ty::Time, Ty::Text, Ty::Text, Ty::Text, Ty::Text],
    )
    .await
}

pub(crate) async fn permit_status<C: Conn>(
    c: &mut C,
    q: &PermitStatusQuery,
) -> Result<PermitStatusResponse, StoreError> {
    let request_pk = match q {
        PermitStatusQuery::ByPermit(n) => c
            .opt_row(
                "SELECT request_pk FROM permits WHERE permit_number = $1",
                args![n.to_string()],
                &[Ty::I64],
            )
            .await?
            .map(|r| r.i64(0))
            .transpose()?,
        PermitStatusQuery::ByReference {
            importer,
            reference,
        } => current_version(
            c,
            &importer.tax_number.to_string(),
            &importer.branch.to_string(),
            reference.as_str(),
        )
        .await?
        .map(|r| r.pk),
    };
    let Some(request_pk) = request_pk else {
        return Ok(PermitStatusResponse {
            result: StatusQueryResult::NotFound,
            reference: None,
            request_id: None,
            decision: None,
            permit: None,
            items: Vec::new(),
            history: Vec::new(),
        });
    };
    let r = c
        .one_row(
            "SELECT reference, request_id, decision, importer_tax_number, importer_branch \
             FROM requests WHERE id = $1",
            args![request_pk],
            &[Ty::Text, Ty::Text, Ty::Text, Ty::Text, Ty::Text],
        )
        .await?;
    let reference = r.text(0)?;
    let decision = r.text(2)?;
    let permit = permit_of_request(c, request_pk).await?;
    // Every goods item of the request, with what its permit (if any) approved and wrote off:
    // items that are not on the permit (not required, rejected) and items of a request without
    // a permit show 0 approved. What remains is what a declaration could still write off:
    // nothing on a cancelled permit or for an item rejected after inspection.
    let item_rows = c
        .rows(
            "SELECT ri.item_number, ri.invoice_item_number, COALESCE(pi.status, ri.status), ri.unit, \
             COALESCE(pi.approved_milli, 0), COALESCE(pi.written_off_milli, 0), \
             COALESCE(p.status, 'NONE') \
             FROM request_items ri LEFT JOIN permits p ON p.request_pk = ri.request_pk \
             LEFT JOIN permit_items pi ON pi.permit_pk = p.id AND pi.item_number = ri.item_number \
             WHERE ri.request_pk = $1 ORDER BY ri.item_number",
            args![request_pk],
            &[
                Ty::I64,
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::I64,
                Ty::Text,
            ],
        )
        .await?;
    let mut items = Vec::with_capacity(item_rows.len());
    for it in &item_rows {
        let status = it.text(2)?;
        let status = ItemStatus::from_code(&status).ok_or_else(|| bad("item status", &status))?;
        let written_off = p_amount(it.i64(5)?)?;
        let (approved, remaining) =
            item_quantities(status, p_amount(it.i64(4)?)?, written_off, &it.text(6)?);
        items.push(ItemQuantities {
            item_number: p_u16(it.i64(0)?, "item number")?,
            invoice_item_number: p_u16(it.i64(1)?, "invoice item number")?,
            status,
            unit: p_unit(&it.text(3)?)?,
            approved,
            written_off,
            remaining,
        });
    }
    let hist = reference_history(c, request_pk).await?;
    let mut history = Vec::with_capacity(hist.len());
    for h in &hist {
        let actor = h.text(1)?;
        history.push(HistoryEntry {
            at: fixed(h.time(0)?),
            actor: Actor::parse(&actor).ok_or_else(|| bad("actor", &actor))?,
            state: h.text(2)?,
            reason_th: h.text(3)?,
            reason_en: h.text(4)?,
        });
    }
    Ok(PermitStatusResponse {
        result: StatusQueryResult::Found,
        reference: Some(
            ReferenceNumber::parse(&reference).map_err(|_| bad("reference", &reference))?,
        ),
        request_id: Some(r.text(1)?),
        decision: Some(
            RequestDecision::from_code(&decision).ok_or_else(|| bad("decision", &decision))?,
        ),
        permit,
        items,
        history,
    })
}

// ---------------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------------

/// Licence rows per `UNNEST` statement on PostgreSQL (arrays are one parameter each, so the
/// parameter limit does not apply).
const PG_ROWS_PER_UNNEST: usize = 20_000;

/// Rows per multi-row INSERT on SQLite: binding cost grows with the statement, so many
/// medium statements (prepared once, cached) beat a few huge ones.
const SQLITE_ROWS_PER_INSERT: usize = 50;

async fn insert_chunked<C: Conn, T>(
    c: &mut C,
    table_and_cols: &str,
    ncols: usize,
    rows: &[T],
    to_args: impl Fn(&T) -> Vec<super::sql::V>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(SQLITE_ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO {table_and_cols} VALUES {}",
            values_rows(chunk.len(), ncols, 1)
        );
        let mut args = Vec::with_capacity(chunk.len() * ncols);
        for row in chunk {
            let a = to_args(row);
            debug_assert_eq!(a.len(), ncols);
            args.extend(a);
        }
        c.exec(&sql, args).await?;
    }
    Ok(())
}

const LICENCE_COLS: &str = "licences (number, licence_type, holder_tax_number, holder_branch, \
     holder_name, standard, brands, models, manufacturer, manufacturer_country, issued_on, \
     expires_on, status, status_since)";

/// Licences are the one large table (a national register): on PostgreSQL they go in as
/// column arrays, tens of thousands of rows per statement.
async fn insert_licences_unnest<C: Conn>(
    c: &mut C,
    licences: &[Licence],
) -> Result<(), StoreError> {
    use super::sql::V;
    for chunk in licences.chunks(PG_ROWS_PER_UNNEST) {
        let mut text: Vec<Vec<String>> = std::iter::repeat_with(|| Vec::with_capacity(chunk.len()))
            .take(11)
            .collect();
        let mut dates: Vec<Vec<chrono::NaiveDate>> =
            std::iter::repeat_with(|| Vec::with_capacity(chunk.len()))
                .take(3)
                .collect();
        for l in chunk {
            let t = [
                l.number.clone(),
                l.licence_type.code().to_owned(),
                l.holder.tax_number.to_string(),
                l.holder.branch.to_string(),
                l.holder_name.clone(),
                l.standard.canonical(),
                list(&l.brands),
                list(&l.models),
                l.manufacturer.clone(),
                l.manufacturer_country.as_str().to_owned(),
                l.status.code().to_owned(),
            ];
            for (col, v) in text.iter_mut().zip(t) {
                col.push(v);
            }
            for (col, v) in dates
                .iter_mut()
                .zip([l.issued_on, l.expires_on, l.status_since])
            {
                col.push(v);
            }
        }
        let mut text = text.into_iter().map(V::TextArray);
        let mut dates = dates.into_iter().map(V::DateArray);
        let mut next_text = || text.next().expect("11 text columns");
        let mut args = Vec::with_capacity(14);
        for _ in 0..10 {
            args.push(next_text());
        }
        args.extend(dates.by_ref().take(2));
        args.push(next_text());
        args.extend(dates.by_ref().take(1));
        let sql = format!(
            "INSERT INTO {LICENCE_COLS} SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
             $11::date[], $12::date[], $13::text[], $14::date[])"
        );
        c.exec(&sql, args).await?;
    }
    Ok(())
}

pub(crate) async fn replace_refdata<C: Conn>(
    c: &mut C,
    data: &RefData,
    now: DateTime<Utc>,
) -> Result<super::Replaced, StoreError> {
    lock_status_changes(c).await?;
    let generation = refdata_version(c).await?.map_or(1, |v| v + 1);
    for t in [
        "standards",
        "licences",
        "labs",
        "special_purposes",
        "refdata_loads",
    ] {
        c.exec(&format!("DELETE FROM {t}"), args![]).await?;
    }
    insert_chunked(
        c,
        "standards (reference, title_th, title_en, compulsory, in_force_from, in_force_until, \
         hs_prefixes, inspection_rate, test_report_required)",
        9,
        &data.standards,
        |s: &Standard| {
            args![
                s.reference.canonical(),
                &s.title_th,
                &s.title_en,
                s.compulsory,
                s.in_force_from,
                s.in_force_until,
                list(&s.hs_prefixes),
                s.inspection_rate,
                s.test_report_required
            ]
        },
    )
    .await?;
    match c.dialect() {
        Dialect::Postgres => insert_licences_unnest(c, &data.licences).await?,
        Dialect::Sqlite => {
            insert_chunked(c, LICENCE_COLS, 14, &data.licences, |l: &Licence| {
                args![
                    &l.number,
                    l.licence_type.code(),
                    l.holder.tax_number.to_string(),
                    l.holder.branch.to_string(),
                    &l.holder_name,
                    l.standard.canonical(),
                    list(&l.brands),
                    list(&l.models),
                    &l.manufacturer,
                    l.manufacturer_country.as_str(),
                    l.issued_on,
                    l.expires_on,
                    l.status.code(),
                    l.status_since
                ]
            })
            .await?
        }
    }
    insert_chunked(
        c,
        "labs (id, name, standards, accredited_from, accredited_until, status)",
        6,
        &data.labs,
        |l: &Lab| {
            let standards: Vec<String> = l.standards.iter().map(|s| s.canonical()).collect();
            args![
                &l.id,
                &l.name,
                list(&standards),
                l.accredited_from,
                l.accredited_until,
                l.status.code()
            ]
        },
    )
    .await?;
    insert_chunked(
        c,
        "special_purposes (code, description_th, description_en, valid_from, valid_until, \
         max_quantity_milli, officer_review, test_report_required)",
        8,
        &data.purposes,
        |p: &SpecialPurpose| {
            args![
                &p.code,
                &p.description_th,
                &p.description_en,
                p.valid_from,
                p.valid_until,
                p.max_quantity_per_year.map(milli),
                p.officer_review,
                p.test_report_required
            ]
        },
    )
    .await?;
    c.exec(
        "INSERT INTO refdata_loads (id, loaded_at, generation) VALUES (1, $1, $2)",
        args![now, generation],
    )
    .await?;
    let kept = keep_newer_statuses(c).await?;
    Ok(super::Replaced {
        kept,
        mark: last_status_mark(c).await?,
    })
}

/// Makes licence status changes, and loads of the reference data, take turns until the
/// transaction ends, so that the changes' marks grow in the order they commit: a reader that
/// has seen mark `n` has seen every change before it. SQLite's one writer does that already.
async fn lock_status_changes<C: Conn>(c: &mut C) -> Result<(), StoreError> {
    if c.dialect() == Dialect::Postgres {
        c.exec(
            "LOCK TABLE licence_status_audit IN SHARE ROW EXCLUSIVE MODE",
            args![],
        )
        .await?;
    }
    Ok(())
}

/// The last licence status change stored.
async fn last_status_mark<C: Conn>(c: &mut C) -> Result<super::StatusMark, StoreError> {
    Ok(super::StatusMark(
        c.one_row(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM licence_status_audit",
            args![],
            &[Ty::I64],
        )
        .await?
        .i64(0)?,
    ))
}

/// The licence status changes stored after `after`, in the order they were stored.
fn status_changes_stmt(after: super::StatusMark) -> Stmt {
    Stmt {
        sql: "SELECT id, number, new_status, since FROM licence_status_audit WHERE id > $1 \
              ORDER BY id"
            .into(),
        args: args![after.0],
        cols: &[Ty::I64, Ty::Text, Ty::Text, Ty::Date],
    }
}

fn stored_statuses(rows: &[Row]) -> Result<Vec<super::StoredStatus>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(super::StoredStatus {
                mark: super::StatusMark(r.i64(0)?),
                number: r.text(1)?,
                status: p_licence_status(&r.text(2)?)?,
                since: r.date(3)?,
            })
        })
        .collect()
}

/// A permit request whose decision used a snapshot (of mark `mark`) behind the stored licence
/// statuses: the snapshot catches up, and the message runs again (nothing of it is stored).
fn behind(ctx: &Ctx, mark: super::StatusMark, changes: &[super::StoredStatus]) -> StoreError {
    (ctx.catch_up)(mark, changes);
    StoreError::Conflict(format!(
        "{} licence status change(s) stored after the snapshot the decision used",
        changes.len()
    ))
}

/// Fails with [`behind`] when licence status changes were stored after `mark` (checked by a
/// decision taken inside the transaction).
async fn check_statuses<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    mark: super::StatusMark,
) -> Result<(), StoreError> {
    let changes = statuses_after(c, mark).await?;
    if changes.is_empty() {
        return Ok(());
    }
    Err(behind(ctx, mark, &changes))
}

/// The licence status changes stored after `mark`, in the order they were stored.
async fn statuses_after<C: Conn>(
    c: &mut C,
    mark: super::StatusMark,
) -> Result<Vec<super::StoredStatus>, StoreError> {
    let st = status_changes_stmt(mark);
    stored_statuses(&c.rows(&st.sql, st.args, st.cols).await?)
}

/// After a load: each licence's latest status change made through the admin API stays when it
/// took effect after the loaded record's status (the export predates it); the loaded record
/// wins when its status is as recent or more.
async fn keep_newer_statuses<C: Conn>(c: &mut C) -> Result<Vec<super::KeptStatus>, StoreError> {
    let latest = c
        .rows(
            "SELECT a.number, a.new_status, a.since FROM licence_status_audit a \
             WHERE a.id IN (SELECT MAX(id) FROM licence_status_audit GROUP BY number) \
             ORDER BY a.number",
            args![],
            &[Ty::Text, Ty::Text, Ty::Date],
        )
        .await?;
    let mut kept = Vec::new();
    for r in &latest {
        let (number, code, since) = (r.text(0)?, r.text(1)?, r.date(2)?);
        let n = c
            .exec(
                "UPDATE licences SET status = $1, status_since = $2 \
                 WHERE number = $3 AND status_since < $2",
                args![&code, since, &number],
            )
            .await?;
        if n > 0 {
            kept.push(super::KeptStatus {
                number,
                status: p_licence_status(&code)?,
                since,
            });
        }
    }
    Ok(kept)
}

const STANDARDS_SQL: &str = "SELECT reference, title_th, title_en, compulsory, in_force_from, \
     in_force_until, hs_prefixes, inspection_rate, test_report_required FROM standards \
     ORDER BY reference";
const STANDARD_ROW: &[Ty] = &[
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bool,
    Ty::Date,
    Ty::Date,
    Ty::Text,
    Ty::I64,
    Ty::Bool,
];

fn standard_from_row(r: &Row) -> Result<Standard, StoreError> {
    Ok(Standard {
        reference: p_standard(&r.text(0)?)?,
        title_th: r.text(1)?,
        title_en: r.text(2)?,
        compulsory: r.bool(3)?,
        in_force_from: r.date(4)?,
        in_force_until: r.opt_date(5)?,
        hs_prefixes: p_list(&r.text(6)?)?,
        inspection_rate: u8::try_from(r.i64(7)?).map_err(|_| bad("inspection rate", "?"))?,
        test_report_required: r.bool(8)?,
    })
}

/// The columns of a licence row ([`LICENCE_ROW`]) from `licences`.
macro_rules! licences_select {
    () => {
        "SELECT number, licence_type, holder_tax_number, holder_branch, holder_name, standard, \
         brands, models, manufacturer, manufacturer_country, issued_on, expires_on, status, \
         status_since FROM licences"
    };
}
const LICENCES_SQL: &str = concat!(licences_select!(), " ORDER BY number");
/// The licences after a number, in order.
const LICENCES_AFTER_SQL: &str = concat!(licences_select!(), " WHERE number > $1 ORDER BY number");
/// The first `$2` licences after a number, in order.
const LICENCES_PART_SQL: &str = concat!(
    licences_select!(),
    " WHERE number > $1 ORDER BY number LIMIT $2"
);
const LICENCE_ROW: &[Ty] = &[
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Date,
    Ty::Date,
    Ty::Text,
    Ty::Date,
];

fn licence_from_row(r: &Row) -> Result<Licence, StoreError> {
    let lt = r.text(1)?;
    let st = r.text(12)?;
    Ok(Licence {
        number: r.text(0)?,
        licence_type: LicenceType::from_code(&lt).ok_or_else(|| bad("licence type", &lt))?,
        holder: PartyKey {
            tax_number: p_tax(&r.text(2)?)?,
            branch: p_branch(&r.text(3)?)?,
        },
        holder_name: r.text(4)?,
        standard: p_standard(&r.text(5)?)?,
        brands: p_list(&r.text(6)?)?,
        models: p_list(&r.text(7)?)?,
        manufacturer: r.text(8)?,
        manufacturer_country: p_country(&r.text(9)?)?,
        issued_on: r.date(10)?,
        expires_on: r.date(11)?,
        status: p_licence_status(&st)?,
        status_since: r.date(13)?,
    })
}

async fn refdata_loaded<C: Conn>(c: &mut C) -> Result<bool, StoreError> {
    Ok(refdata_version(c).await?.is_some())
}

/// Which load of the reference data is stored (they are counted from 1); `None` when none
/// ever was.
async fn refdata_version<C: Conn>(c: &mut C) -> Result<Option<i64>, StoreError> {
    c.opt_row(
        "SELECT CAST(generation AS BIGINT) FROM refdata_loads",
        args![],
        &[Ty::I64],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
}

async fn load_standards<C: Conn>(c: &mut C) -> Result<Vec<Standard>, StoreError> {
    let mut out = Vec::new();
    c.each_row(STANDARDS_SQL, args![], STANDARD_ROW, |r| {
        out.push(standard_from_row(&r)?);
        Ok(())
    })
    .await?;
    Ok(out)
}

async fn load_labs<C: Conn>(c: &mut C) -> Result<Vec<Lab>, StoreError> {
    let mut out = Vec::new();
    c.each_row(
        "SELECT id, name, standards, accredited_from, accredited_until, status FROM labs ORDER BY id",
        args![],
        &[Ty::Text, Ty::Text, Ty::Text, Ty::Date, Ty::Date, Ty::Text],
        |r| {
            let st = r.text(5)?;
            out.push(Lab {
                id: r.text(0)?,
                name: r.text(1)?,
                standards: p_list(&r.text(2)?)?
                    .iter()
                    .map(|s| p_standard(s))
                    .collect::<Result<_, _>>()?,
                accredited_from: r.date(3)?,
                accredited_until: r.opt_date(4)?,
                status: LabStatus::from_code(&st).ok_or_else(|| bad("lab status", &st))?,
            });
            Ok(())
        },
    )
    .await?;
    Ok(out)
}

async fn load_purposes<C: Conn>(c: &mut C) -> Result<Vec<SpecialPurpose>, StoreError> {
    let mut out = Vec::new();
    c.each_row(
        "SELECT code, description_th, description_en, valid_from, valid_until, max_quantity_milli, \
         officer_review, test_report_required FROM special_purposes ORDER BY code",
        args![],
        &[Ty::Text, Ty::Text, Ty::Text, Ty::Date, Ty::Date, Ty::I64, Ty::Bool, Ty::Bool],
        |r| {
            out.push(SpecialPurpose {
                code: r.text(0)?,
                description_th: r.text(1)?,
                description_en: r.text(2)?,
                valid_from: r.date(3)?,
                valid_until: r.opt_date(4)?,
                max_quantity_per_year: r.opt_i64(5)?.map(p_amount).transpose()?,
                officer_review: r.bool(6)?,
                test_report_required: r.bool(7)?,
            });
            Ok(())
        },
    )
    .await?;
    Ok(out)
}

/// The stored reference data as owned records; `None` when none was ever loaded. Rows are
/// converted as they arrive, never collected first.
pub(crate) async fn load_refdata<C: Conn>(c: &mut C) -> Result<Option<RefData>, StoreError> {
    if !refdata_loaded(c).await? {
        return Ok(None);
    }
    let standards = load_standards(c).await?;
    let mut licences = Vec::new();
    c.each_row(LICENCES_SQL, args![], LICENCE_ROW, |r| {
        licences.push(licence_from_row(&r)?);
        Ok(())
    })
    .await?;
    Ok(Some(RefData {
        standards,
        licences,
        labs: load_labs(c).await?,
        purposes: load_purposes(c).await?,
    }))
}

/// The snapshot of the stored reference data, built while the licence rows stream in: one
/// licence at a time is held as an owned record, never the whole set, and the last licence
/// status change it includes. `None` when no reference data was ever loaded; the inner error
/// lists every inconsistency. Everything in one transaction: see [`SnapshotRead`] for a read
/// in several.
pub(crate) async fn load_snapshot<C: Conn>(
    c: &mut C,
) -> Result<Option<(super::LoadedSnapshot, super::StatusMark)>, StoreError> {
    let Some(mut read) = SnapshotRead::begin(c).await? else {
        return Ok(None);
    };
    while read.licences(c, None).await? {}
    Ok(Some(read.finish()))
}

/// A snapshot of the stored reference data read in parts, each of which may be a transaction
/// of its own, so that no read holds one version of the database for long (on SQLite, a
/// reader keeps the WAL from starting over). The first part reads the licence status mark
/// (before anything else), the reference data's version (which load it is), the standards,
/// laboratories and special purposes; the licences follow in order of their numbers. The
/// parts make one snapshot when the version is the same after the last one
/// ([`SnapshotRead::still_current`]): a reference-data load replaces every table at once, and
/// status changes stored meanwhile, which a part may or may not have read, come after the
/// mark, so the snapshot in use applies them again (each sets a licence's status outright).
pub(crate) struct SnapshotRead {
    builder: crate::domain::snapshot::SnapshotBuilder,
    version: i64,
    mark: super::StatusMark,
    labs: Vec<Lab>,
    purposes: Vec<SpecialPurpose>,
    /// The number of the last licence read.
    last: Option<String>,
}

impl SnapshotRead {
    /// The first part; `None` when no reference data was ever loaded.
    pub(crate) async fn begin<C: Conn>(c: &mut C) -> Result<Option<SnapshotRead>, StoreError> {
        let mark = last_status_mark(c).await?;
        let Some(version) = refdata_version(c).await? else {
            return Ok(None);
        };
        let mut builder = crate::domain::snapshot::SnapshotBuilder::new(load_standards(c).await?);
        let count = c
            .one_row("SELECT COUNT(*) FROM licences", args![], &[Ty::I64])
            .await?
            .i64(0)?;
        builder.reserve_licences(usize::try_from(count).unwrap_or(0));
        Ok(Some(SnapshotRead {
            builder,
            version,
            mark,
            labs: load_labs(c).await?,
            purposes: load_purposes(c).await?,
            last: None,
        }))
    }

    /// Reads the next licences, at most `limit` (all without one); whether there may be more.
    pub(crate) async fn licences<C: Conn>(
        &mut self,
        c: &mut C,
        limit: Option<u32>,
    ) -> Result<bool, StoreError> {
        let after = self.last.as_deref().unwrap_or("");
        let (sql, args) = match limit {
            Some(n) => (LICENCES_PART_SQL, args![after, i64::from(n)]),
            None => (LICENCES_AFTER_SQL, args![after]),
        };
        let mut read = 0;
        let mut last = None;
        let builder = &mut self.builder;
        c.each_row(sql, args, LICENCE_ROW, |r| {
            let licence = licence_from_row(&r)?;
            builder.add_licence(&licence);
            last = Some(licence.number);
            read += 1;
            Ok(())
        })
        .await?;
        if last.is_some() {
            self.last = last;
        }
        Ok(limit.is_some_and(|n| read == u64::from(n)))
    }

    /// Whether the reference data read in the first part is still the stored one.
    pub(crate) async fn still_current<C: Conn>(&self, c: &mut C) -> Result<bool, StoreError> {
        Ok(refdata_version(c).await? == Some(self.version))
    }

    pub(crate) fn finish(self) -> (super::LoadedSnapshot, super::StatusMark) {
        (self.builder.finish(self.labs, self.purposes), self.mark)
    }
}

pub(crate) async fn licence_status<C: Conn>(
    c: &mut C,
    number: &str,
) -> Result<Option<super::LicenceStatusRecord>, StoreError> {
    let Some(r) = c
        .opt_row(
            "SELECT status, status_since FROM licences WHERE number = $1",
            args![number],
            &[Ty::Text, Ty::Date],
        )
        .await?
    else {
        return Ok(None);
    };
    let rows = c
        .rows(
            "SELECT old_status, new_status, since, actor, reason, at FROM licence_status_audit \
             WHERE number = $1 ORDER BY id",
            args![number],
            &[Ty::Text, Ty::Text, Ty::Date, Ty::Text, Ty::Text, Ty::Time],
        )
        .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for a in &rows {
        changes.push((
            LicenceStatusChange {
                number: number.to_string(),
                status: p_licence_status(&a.text(1)?)?,
                since: a.date(2)?,
                actor: a.text(3)?,
                reason: a.text(4)?,
                at: a.time(5)?,
            },
            p_licence_status(&a.text(0)?)?,
        ));
    }
    Ok(Some(super::LicenceStatusRecord {
        number: number.to_string(),
        status: p_licence_status(&r.text(0)?)?,
        since: r.date(1)?,
        changes,
    }))
}

pub(crate) async fn set_licence_status<C: Conn>(
    c: &mut C,
    ch: &LicenceStatusChange,
    after: super::StatusMark,
) -> Result<Option<Vec<super::StoredStatus>>, StoreError> {
    lock_status_changes(c).await?;
    let sql = format!(
        "SELECT status FROM licences WHERE number = $1{}",
        for_update(c)
    );
    let Some(old) = c.opt_row(&sql, args![&ch.number], &[Ty::Text]).await? else {
        return Ok(None);
    };
    c.exec(
        "UPDATE licences SET status = $1, status_since = $2 WHERE number = $3",
        args![ch.status.code(), ch.since, &ch.number],
    )
    .await?;
    c.exec(
        "INSERT INTO licence_status_audit (number, old_status, new_status, since, actor, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            &ch.number,
            old.text(0)?,
            ch.status.code(),
            ch.since,
            &ch.actor,
            &ch.reason,
            micros(ch.at)
        ],
    )
    .await?;
    statuses_after(c, after).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::{new_request_id, value_columns, values_sql, ListSize, ValuesShape};

    /// A list of `rows` rows of `width` fields from `$first`, after `shared` parameters.
    fn shape(rows: usize, width: usize, first: usize, shared: usize) -> ValuesShape {
        ValuesShape {
            rows,
            width,
            first,
            shared,
        }
    }

    fn check(sql: &str, expected: &str) {
        check_shared(sql, 0, expected);
    }

    /// Rows of 2 fields from `$5`, after `shared` parameters.
    fn check_shared(sql: &str, shared: usize, expected: &str) {
        assert_eq!(
            value_columns(sql, shape(1, 2, 5, shared)),
            expected,
            "{sql}"
        );
    }

    #[test]
    fn fields_of_json_rows_read_columns_of_a_values_list() {
        check("SELECT j.value ->> 0", "SELECT j.column1");
        check("SELECT j.value ->> 15, x", "SELECT j.column16, x");
        check(
            "CAST(j.value ->> 1 AS BIGINT), j.value ->> 2",
            "CAST(j.column2 AS BIGINT), j.column3",
        );
        check("SELECT j.value ->> x", "SELECT j.value ->> x");
        check("SELECT j.value ->> ", "SELECT j.value ->> ");
        check("SELECT k.value ->> 1", "SELECT k.value ->> 1");
        check("", "");
    }

    #[test]
    fn shared_fields_read_their_parameters() {
        check_shared("SELECT j.value ->> 2", 1, "SELECT $4");
        check_shared(
            "SELECT j.value ->> 1, j.value ->> 2",
            2,
            "SELECT j.column2, $3",
        );
        check_shared("SELECT j.value ->> 3, j.value ->> 2", 2, "SELECT $4, $3");
        check_shared("SELECT j.value ->> 3", 1, "SELECT j.column4");
        check_shared(
            "SELECT j.value ->> 0 = j.value ->> 2",
            1,
            "SELECT j.column1 = $4",
        );
    }

    #[test]
    fn a_values_statement_is_made_for_its_size() {
        let sql = "INSERT INTO t (a, b) SELECT j.value ->> 1, j.value ->> 0 FROM {rows}";
        for _ in 0..2 {
            assert_eq!(
                values_sql(sql, shape(2, 2, 1, 0)),
                "INSERT INTO t (a, b) SELECT j.column2, j.column1 FROM (SELECT * FROM \
                 (VALUES ($1, $2), ($3, $4)) WHERE column1 IS NOT NULL) AS j"
            );
            assert_eq!(
                values_sql(sql, shape(1, 2, 1, 0)),
                "INSERT INTO t (a, b) SELECT j.column2, j.column1 FROM (SELECT * FROM \
                 (VALUES ($1, $2)) WHERE column1 IS NOT NULL) AS j"
            );
            assert_eq!(
                values_sql(
                    "SELECT j.value ->> 0 FROM t, {rows} WHERE t.x = $1",
                    shape(2, 1, 2, 0)
                ),
                "SELECT j.column1 FROM t, (SELECT * FROM (VALUES ($2), ($3)) \
                 WHERE column1 IS NOT NULL) AS j WHERE t.x = $1"
            );
            assert_eq!(
                values_sql(
                    "SELECT j.value ->> 0, (SELECT id FROM t WHERE k = j.value ->> 1) \
                     FROM {rows} WHERE $1",
                    shape(2, 1, 3, 1)
                ),
                "SELECT j.column1, (SELECT id FROM t WHERE k = $2) FROM (SELECT * FROM \
                 (VALUES ($3), ($4)) WHERE column1 IS NOT NULL) AS j WHERE $1"
            );
        }
    }

    #[test]
    fn lists_have_a_few_sizes() {
        let sizes: Vec<(usize, Option<usize>)> = [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 25, 32, 33, 1000,
        ]
        .into_iter()
        .map(|n| (n, ListSize::holding(n).0))
        .collect();
        assert_eq!(
            sizes,
            [
                (0, Some(2)),
                (1, Some(2)),
                (2, Some(2)),
                (3, Some(4)),
                (4, Some(4)),
                (5, Some(6)),
                (6, Some(6)),
                (7, Some(8)),
                (8, Some(8)),
                (9, Some(12)),
                (12, Some(12)),
                (13, Some(16)),
                (16, Some(16)),
                (17, Some(24)),
                (24, Some(24)),
                (25, Some(32)),
                (32, Some(32)),
                (33, None),
                (1000, None)
            ]
        );
    }

    #[test]
    fn request_ids_grow_in_the_order_they_are_drawn() {
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 36, "{id}");
            assert!(id.starts_with("REQ-"), "{id}");
        }
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
    }
}

//! `POST /ebms`: the message service handler endpoint. Thin: read the body within its limit,
//! let the wire layer take the message in, check it against the configured partners, apply
//! the partner's rate limit, then answer Ping, hand Acknowledgments of delivered messages to
//! the outbox, log the partner's error messages (never answered with an error), and hand
//! business documents to the store (which decides, renders and commits
//! before anything is answered).
//!
//! Status codes (spec §1.2): 400 + SOAP Fault (not SOAP at all), 400 + `eb:ErrorList` (an
//! ebMS message that cannot be accepted, including `TimeToLiveExpired`), 403 + `eb:ErrorList`
//! with only `SecurityFailure` (the TLS client certificate is not the one bound to
//! `From/PartyId`: an authentication failure, so 403 and no further detail; or, from a partner
//! limited to some importers, a status query or permit request about another importer, or a
//! declaration, spec §3.4), 413, 429, 503.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::protect::{read_limited, Recording};
use super::render::ReplyRenderer;
use super::tls::PeerIdentity;
use super::{context, AppState, Error, Outcome};
use crate::domain::{InboundDocument, PermitStatusQuery, TaxNumber};
use crate::store::{AckOutcome, MessageMeta, RefusalOutcome, StoreError, StoredReply};
use crate::wire::envelope::{Aliases, MessageHeader, XPATH_HEADER};
use crate::wire::intake::{self, Inbound, InboundBody, Limits, Packaging, Rejection};
use crate::wire::payload;
use crate::wire::reply::{self, Built};
use crate::wire::{EbmsError, ErrorCode, Severity};

pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let mut action = None;
    let mut response = match process(&state, req, &mut action).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let fallback = response_status_label(&response);
    let outcome = response
        .extensions_mut()
        .get_or_insert_with(|| Outcome::decision(fallback));
    outcome.action = action;
    response
}

fn response_status_label(r: &Response) -> &'static str {
    if r.status().is_success() {
        "ok"
    } else {
        "error"
    }
}

async fn process(
    state: &AppState,
    req: Request,
    action: &mut Option<String>,
) -> Result<Response, Error> {
    let settings = &state.settings;
    let peer = req.extensions().get::<PeerIdentity>().cloned();
    if peer.is_none() && settings.mutual_tls() {
        return Err(Error::NoClientCertificate);
    }
    let recording = req.extensions().get::<Recording>().cloned();
    let (parts, body) = read_limited(req, settings.server.max_body_bytes).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limits = Limits {
        max_body_bytes: settings.server.max_body_bytes,
        ..Limits::default()
    };
    let mut inbound = match intake::intake(content_type.as_deref(), &body, &limits) {
        Ok(m) => m,
        Err(rejection) => return Err(rejected(state, rejection, peer.as_ref())),
    };
    known_names(settings, &mut inbound.header, &inbound.aliases);
    let h = &inbound.header;
    super::record_header(&tracing::Span::current(), h);
    *action = Some(h.action.clone());

    // A retry that arrives after its TimeToLive, of a business message answered in time, gets
    // the reply it got then (spec §4: nothing is decided again), not an error that would tell
    // the sender it was refused.
    let expired = intake::ttl_expired(h, Utc::now().fixed_offset());
    let answered_in_time = match (&inbound.body, &expired) {
        (InboundBody::Document(_), Some(_)) => state
            .store
            .lookup_reply(&h.message_id, &h.from.id)
            .await
            .map_err(|e| store_error(state, e))?,
        _ => None,
    };
    let expired = expired.filter(|_| answered_in_time.is_none());
    let mut errors = party_errors(state, h, peer.as_ref())?;
    errors.extend(expired);
    if !errors.is_empty() {
        return Err(error_list(state, Some(h), errors, StatusCode::BAD_REQUEST));
    }
    state
        .rate_limits
        .check(&h.from.id)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    if let Some(stored) = answered_in_time {
        return Ok(stored_response(stored, "duplicate"));
    }

    match &inbound.body {
        InboundBody::Ping => {
            let built =
                reply::build_pong(h, inbound.ack_requested, new_message_id(state), Utc::now());
            Ok(built_response(StatusCode::OK, built, "Pong"))
        }
        InboundBody::Acknowledgment { ref_to_message_id } => {
            take_acknowledgment(state, &h.from.id, ref_to_message_id).await?;
            Ok(empty(StatusCode::OK, "Acknowledgment"))
        }
        InboundBody::MessageError {
            ref_to_message_id,
            errors,
        } => {
            take_message_error(state, &h.from.id, ref_to_message_id.as_deref(), errors).await?;
            // An error is never answered with an error.
            Ok(empty(StatusCode::OK, "MessageError"))
        }
        InboundBody::Document(_) => {
            if let Some(ref_to_message_id) = &inbound.acknowledgment {
                // Taken first: a 503 after it leaves the partner to resend the whole message,
                // and taking an acknowledgment again changes nothing.
                take_acknowledgment(state, &h.from.id, ref_to_message_id).await?;
            }
            business(state, inbound, content_type, body.to_vec(), recording).await
        }
    }
}

/// An Acknowledgment from the partner, as a message of its own (answered with an empty 200,
/// also when there is no such row or it was done already) or riding on a business message,
/// for a message the gateway delivered (spec §5): the outbox row sent to that partner with
/// that MessageId is done.
async fn take_acknowledgment(
    state: &AppState,
    partner: &str,
    ref_to_message_id: &str,
) -> Result<(), Error> {
    let outcome = state
        .store
        .outbox_acknowledge(ref_to_message_id, partner, Utc::now())
        .await
        .map_err(|e| store_error(state, e))?;
    match outcome {
        AckOutcome::Completed { id, was } => tracing::info!(
            ref_to_message_id,
            outbox_id = id,
            was = was.code(),
            "acknowledgment received: delivery done"
        ),
        AckOutcome::AlreadyDone { id } => tracing::info!(
            ref_to_message_id,
            outbox_id = id,
            "acknowledgment received for a delivery already done"
        ),
        AckOutcome::Unknown => tracing::warn!(
            ref_to_message_id,
            "acknowledgment received for no message delivered to this partner"
        ),
    }
    Ok(())
}

/// The partner's errors about a message the gateway sent: logged for the operator; when it
/// refused the message (severity Error), resending the same bytes would not help, so the
/// delivery becomes a dead letter with the partner's reasons.
async fn take_message_error(
    state: &AppState,
    partner: &str,
    ref_to_message_id: Option<&str>,
    errors: &[EbmsError],
) -> Result<(), Error> {
    let reported: Vec<String> = errors
        .iter()
        .map(|e| format!("{} at {}: {}", e.code.as_str(), e.location, e.description))
        .collect();
    tracing::warn!(
        ref_to_message_id = ref_to_message_id.unwrap_or(""),
        errors = ?reported,
        "the partner reported errors about a message the gateway sent"
    );
    let refused = errors.iter().any(|e| e.severity == Severity::Error);
    if let (true, Some(id)) = (refused, ref_to_message_id) {
        let outcome = state
            .store
            .outbox_refused(id, partner, &reported.join("; "))
            .await
            .map_err(|e| store_error(state, e))?;
        if let RefusalOutcome::DeadLettered { id: outbox_id } = outcome {
            tracing::warn!(ref_to_message_id = %id, outbox_id, "delivery refused by the partner: dead letter");
        }
    }
    Ok(())
}

/// A party may give several `eb:PartyId`s, all naming it (ebMS 2.0): when the first of
/// `eb:From` is not a configured partner but another is, or the first of `eb:To` is not this
/// gateway but another is, the message is taken as from and to those.
fn known_names(settings: &crate::config::Settings, h: &mut MessageHeader, aliases: &Aliases) {
    if settings.partner(&h.from.id).is_none() {
        if let Some(p) = aliases
            .from
            .iter()
            .find(|p| settings.partner(&p.id).is_some())
        {
            h.from = p.clone();
        }
    }
    if h.to.id != settings.gateway.party_id {
        if let Some(p) = aliases
            .to
            .iter()
            .find(|p| p.id == settings.gateway.party_id)
        {
            h.to = p.clone();
        }
    }
}

/// The configured-partner checks of spec §1.1: the errors they find (To, From, CPAId), or, when
/// the sender is not the party bound to the connection's certificate, the refusal
/// (`SecurityFailure`, 403), answered alone, before anything else about the message is told.
fn party_errors(
    state: &AppState,
    h: &MessageHeader,
    peer: Option<&PeerIdentity>,
) -> Result<Vec<EbmsError>, Error> {
    let settings = &state.settings;
    let partner = settings.partner(&h.from.id);
    if settings.mutual_tls() {
        let bound = match (partner, peer) {
            (Some(p), Some(id)) => id.matches(&p.cert),
            _ => false,
        };
        if !bound {
            tracing::warn!(
                from = %h.from.id,
                peer_sha256 = peer.map(|p| p.fingerprint_hex()).unwrap_or_default(),
                peer_cn = peer.and_then(|p| p.subject_cn.clone()).unwrap_or_default(),
                "client certificate not bound to the sending party"
            );
            return Err(not_bound(state, Some(h)));
        }
    }
    let mut errors = Vec::new();
    if h.to.id != settings.gateway.party_id {
        errors.push(EbmsError::new(
            ErrorCode::ValueNotRecognized,
            format!("{XPATH_HEADER}/eb:To/eb:PartyId"),
            format!(
                "eb:To/eb:PartyId '{}' is not this gateway; address messages to '{}'",
                h.to.id, settings.gateway.party_id
            ),
        ));
    }
    match partner {
        None => errors.push(EbmsError::new(
            ErrorCode::ValueNotRecognized,
            format!("{XPATH_HEADER}/eb:From/eb:PartyId"),
            format!(
                "eb:From/eb:PartyId '{}' is not a partner of this gateway",
                h.from.id
            ),
        )),
        Some(p) if p.cpa_id != h.cpa_id => errors.push(EbmsError::new(
            ErrorCode::ValueNotRecognized,
            format!("{XPATH_HEADER}/eb:CPAId"),
            format!(
                "eb:CPAId '{}' is not the collaboration agreement of partner '{}'",
                h.cpa_id, p.party_id
            ),
        )),
        Some(_) => {}
    }
    Ok(errors)
}

async fn business(
    state: &AppState,
    inbound: Inbound,
    content_type: Option<String>,
    raw: Vec<u8>,
    recording: Option<Recording>,
) -> Result<Response, Error> {
    let h = &inbound.header;
    // A retry of a message already answered is found by `process`, which claims the MessageId
    // first and replays the stored reply (no separate look-up: it would cost every new
    // message a round trip to the database).
    let InboundBody::Document(doc) = inbound.body else {
        return Err(Error::Internal(anyhow::anyhow!(
            "business() called without a document"
        )));
    };
    check_access(state, h, &doc).await?;
    // Only import permit requests are decided against reference data.
    if matches!(doc, crate::domain::InboundDocument::ImportPermitRequest(_))
        && !state.reference.is_loaded()
    {
        return Err(Error::Unavailable {
            retry_after: state.settings.server.retry_after,
            source: anyhow::anyhow!("no reference data loaded"),
        });
    }
    let now = Utc::now();
    let renderer = Arc::new(ReplyRenderer::new(
        h.clone(),
        inbound.packaging,
        inbound.ack_requested,
        inbound.sync_reply,
        || new_message_id(state),
        now,
    ));
    let ctx = context::build(
        &state.settings.gateway,
        state.reference.clone(),
        renderer.clone(),
        now,
    );
    let meta = MessageMeta {
        message_id: h.message_id.clone(),
        conversation_id: h.conversation_id.clone(),
        from_party: h.from.id.clone(),
        from_party_type: h.from.kind.clone(),
        to_party: h.to.id.clone(),
        to_party_type: h.to.kind.clone(),
        cpa_id: h.cpa_id.clone(),
        service: h.service.value.clone(),
        action: h.action.clone(),
        received_at: now,
        content_type: content_type.unwrap_or_default(),
        raw,
        ack_requested: inbound.ack_requested.is_some(),
        sync_reply: inbound.sync_reply,
        packaging: packaging_label(inbound.packaging).to_string(),
    };
    if let Some(r) = recording {
        r.start();
    }
    let outcome = state
        .store
        .process(meta, doc, ctx)
        .await
        .map_err(|e| store_error(state, e))?;
    let label = if outcome.is_duplicate() {
        "duplicate"
    } else {
        renderer.decision().unwrap_or("unknown")
    };
    let stored = match outcome {
        crate::store::Outcome::New(r) | crate::store::Outcome::Duplicate(r) => r,
        crate::store::Outcome::SentByAnother { first_sender } => {
            tracing::warn!(first_sender = %first_sender, "a MessageId another party sent first");
            let e = EbmsError::new(
                ErrorCode::SecurityFailure,
                format!("{XPATH_HEADER}/eb:MessageData/eb:MessageId"),
                format!(
                    "eb:MessageId '{}' was first sent by another party; a MessageId must be globally unique",
                    h.message_id
                ),
            );
            return Err(error_list(state, Some(h), vec![e], StatusCode::FORBIDDEN));
        }
    };
    Ok(stored_response(stored, label))
}

/// A partner limited to some importers acts for those only (spec §3.4 for status queries):
/// its status queries and permit requests about any other importer, and its declarations
/// (which are Customs's, through a partner that acts for every importer), are refused (403,
/// `SecurityFailure`) before anything is stored. A query for a permit that was never issued
/// goes on, and is answered `NOT_FOUND`.
async fn check_access(
    state: &AppState,
    h: &MessageHeader,
    doc: &InboundDocument,
) -> Result<(), Error> {
    let Some(partner) = state
        .settings
        .partner(&h.from.id)
        .filter(|p| p.importers.is_some())
    else {
        return Ok(());
    };
    let party = &h.from.id;
    let refused = match doc {
        InboundDocument::PermitStatusQuery(PermitStatusQuery::ByReference { importer, .. }) => {
            let t = importer.tax_number;
            (!partner.may_see(&t))
                .then(|| format!("partner '{party}' may not see the data of importer {t}"))
        }
        // The holder is not named: a partner learns nothing of another importer's permit.
        InboundDocument::PermitStatusQuery(PermitStatusQuery::ByPermit(p)) => state
            .store
            .permit_holder(p)
            .await
            .map_err(|e| store_error(state, e))?
            .filter(|holder| !partner.may_see(&holder.tax_number))
            .map(|_| {
                format!(
                    "partner '{party}' may not see permit {p}: it is not held by an importer \
                     the partner acts for"
                )
            }),
        InboundDocument::ImportPermitRequest(r) => {
            let t = &r.importer.tax_number;
            let allowed = TaxNumber::parse(t).is_ok_and(|t| partner.may_see(&t));
            (!allowed).then(|| format!("partner '{party}' may not act for importer {t}"))
        }
        InboundDocument::DeclarationCheck(_) | InboundDocument::DeclarationAmendment(_) => {
            Some(format!(
                "partner '{party}' acts for some importers only; declarations come from Customs \
                 through a partner that acts for every importer"
            ))
        }
    };
    match refused {
        Some(description) => {
            tracing::warn!(from = %party, action = %h.action, reason = %description, "message refused: outside the partner's importers");
            let e = EbmsError::new(
                ErrorCode::SecurityFailure,
                payload::access_subject(doc),
                description,
            );
            Err(error_list(state, Some(h), vec![e], StatusCode::FORBIDDEN))
        }
        None => Ok(()),
    }
}

fn packaging_label(p: Packaging) -> &'static str {
    match p {
        Packaging::Multipart => "multipart",
        Packaging::Inline => "inline",
    }
}

fn store_error(state: &AppState, e: StoreError) -> Error {
    map_store_error(state.settings.server.retry_after, e)
}

/// Nothing recorded and worth retrying → 503 + `Retry-After`; anything else → 500.
fn map_store_error(retry_after: std::time::Duration, e: StoreError) -> Error {
    if e.is_transient() {
        Error::Unavailable {
            retry_after,
            source: e.into(),
        }
    } else {
        Error::Internal(e.into())
    }
}

/// A new ebMS MessageId (`uuid@host` form).
pub fn new_message_id(state: &AppState) -> String {
    format!(
        "{}@{}",
        uuid::Uuid::new_v4(),
        state.settings.gateway.party_id.to_ascii_lowercase()
    )
}

/// The refusal of a message whose sender is not the party bound to the connection's client
/// certificate (spec §1): `SecurityFailure`, 403, nothing else about the message.
fn not_bound(state: &AppState, h: Option<&MessageHeader>) -> Error {
    let e = EbmsError::new(
        ErrorCode::SecurityFailure,
        format!("{XPATH_HEADER}/eb:From/eb:PartyId"),
        "the client certificate is not the one bound to eb:From/eb:PartyId",
    );
    error_list(state, h, vec![e], StatusCode::FORBIDDEN)
}

/// Under mutual TLS, whether the connection's certificate is bound to no partner at all.
fn stranger(state: &AppState, peer: Option<&PeerIdentity>) -> bool {
    let settings = &state.settings;
    settings.mutual_tls()
        && !peer.is_some_and(|id| settings.partners.iter().any(|p| id.matches(&p.cert)))
}

/// The answer to a message that intake refused. When its header could be read, the partner
/// checks come first: a sender that is not the party bound to the certificate learns nothing
/// about the rest of its message, and any other sender gets the partner checks' errors with
/// intake's (one per location: a header element intake could not read is not named twice).
/// A message whose header cannot be read, from a certificate bound to no partner, is refused
/// the same way.
fn rejected(state: &AppState, rejection: Rejection, peer: Option<&PeerIdentity>) -> Error {
    match rejection {
        Rejection::TooLarge { limit, .. } => Error::PayloadTooLarge { limit },
        Rejection::Fault { .. } | Rejection::Errors { header: None, .. }
            if stranger(state, peer) =>
        {
            not_bound(state, None)
        }
        Rejection::Fault { description } => {
            let built = reply::build_fault(&description);
            ebms_error(StatusCode::BAD_REQUEST, "Fault", built)
        }
        Rejection::Errors {
            header: Some(mut h),
            aliases,
            mut errors,
        } => {
            known_names(&state.settings, &mut h, &aliases);
            match party_errors(state, &h, peer) {
                Err(refused) => refused,
                Ok(party) => {
                    let fresh: Vec<EbmsError> = party
                        .into_iter()
                        .filter(|p| errors.iter().all(|e| e.location != p.location))
                        .collect();
                    errors.splice(0..0, fresh);
                    error_list(state, Some(&h), errors, StatusCode::BAD_REQUEST)
                }
            }
        }
        Rejection::Errors {
            header: None,
            errors,
            ..
        } => error_list(state, None, errors, StatusCode::BAD_REQUEST),
    }
}

fn error_list(
    state: &AppState,
    request: Option<&MessageHeader>,
    errors: Vec<EbmsError>,
    status: StatusCode,
) -> Error {
    let kind = errors.first().map(|e| e.code.as_str()).unwrap_or("Unknown");
    let built = reply::build_error_list(
        request,
        &errors,
        new_message_id(state),
        Utc::now(),
        &state.settings.gateway.party_id,
    );
    ebms_error(status, kind, built)
}

fn ebms_error(status: StatusCode, kind: &'static str, built: Built) -> Error {
    Error::Ebms {
        status,
        kind,
        content_type: HeaderValue::from_str(&built.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("text/xml; charset=UTF-8")),
        body: built.body.into(),
    }
}

fn built_response(status: StatusCode, built: Built, decision: &str) -> Response {
    let mut r = Response::new(Body::from(built.body));
    *r.status_mut() = status;
    if let Ok(ct) = HeaderValue::from_str(&built.content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    r.extensions_mut().insert(Outcome::decision(decision));
    r
}

fn empty(status: StatusCode, decision: &str) -> Response {
    let mut r = status.into_response();
    r.extensions_mut().insert(Outcome::decision(decision));
    r
}

fn stored_response(stored: StoredReply, decision: &str) -> Response {
    let status = StatusCode::from_u16(stored.http_status).unwrap_or(StatusCode::OK);
    if stored.body.is_empty() {
        return empty(status, decision);
    }
    built_response(
        status,
        Built {
            content_type: stored.content_type,
            body: stored.body,
        },
        decision,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(e: StoreError, status: u16) {
        let r = map_store_error(Duration::from_secs(2), e).into_response();
        assert_eq!(r.status().as_u16(), status);
        if status == 503 {
            assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        }
    }

    #[test]
    fn store_failures_map_to_503_when_retrying_helps() {
        check(StoreError::Unavailable("connection refused".into()), 503);
        check(StoreError::Conflict("serialization failure".into()), 503);
        check(StoreError::Database("syntax error".into()), 500);
        check(StoreError::Corrupt("bad row".into()), 500);
    }
}

//! The replies to business messages, built with the wire reply builders and handed to the
//! store, which commits them with the message (spec §1.2, §4, §5).

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::OutboundDocument;
use crate::store::{MessageMeta, OutboundMessage, Rendered, Renderer};
use crate::wire::envelope::{AckActor, MessageHeader, SERVICE_PERMIT};
use crate::wire::intake::Packaging;
use crate::wire::payload::root_name_outbound;
use crate::wire::reply;

/// Renders the reply to one request: with `SyncReply` the response document itself (200),
/// without it an Acknowledgment or nothing (202) and the response as an outbox message.
pub struct ReplyRenderer {
    request: MessageHeader,
    packaging: Packaging,
    /// `eb:AckRequested` of the request: the actor it names.
    ack_requested: Option<AckActor>,
    sync_reply: bool,
    /// MessageId of the message carrying the response document.
    response_id: String,
    /// MessageId of the acknowledgment-only reply (asynchronous mode).
    ack_id: String,
    now: DateTime<Utc>,
    decision: Mutex<Option<&'static str>>,
}

impl ReplyRenderer {
    pub fn new(
        request: MessageHeader,
        packaging: Packaging,
        ack_requested: Option<AckActor>,
        sync_reply: bool,
        new_id: impl Fn() -> String,
        now: DateTime<Utc>,
    ) -> ReplyRenderer {
        ReplyRenderer {
            request,
            packaging,
            ack_requested,
            sync_reply,
            response_id: new_id(),
            ack_id: new_id(),
            now,
            decision: Mutex::new(None),
        }
    }

    /// The decision (or result) of the last rendered document, for metrics.
    pub fn decision(&self) -> Option<&'static str> {
        *self.decision.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The label of a response document's outcome.
pub fn decision_label(doc: &OutboundDocument) -> &'static str {
    match doc {
        OutboundDocument::ImportPermitResponse(r) => r.decision.code(),
        OutboundDocument::DeclarationCheckResponse(r) => r.result.code(),
        OutboundDocument::DeclarationAmendmentResponse(r) => r.result.code(),
        OutboundDocument::PermitStatusResponse(r) => match r.result {
            crate::domain::StatusQueryResult::Found => "FOUND",
            crate::domain::StatusQueryResult::NotFound => "NOT_FOUND",
        },
    }
}

impl Renderer for ReplyRenderer {
    fn render(&self, meta: &MessageMeta, doc: &OutboundDocument) -> Rendered {
        *self.decision.lock().unwrap_or_else(|p| p.into_inner()) = Some(decision_label(doc));
        let header = reply::reply_header(
            &self.request,
            root_name_outbound(doc),
            SERVICE_PERMIT,
            self.response_id.clone(),
            self.now,
        );
        if self.sync_reply {
            let ack_for = self.ack_requested.map(|actor| (&self.request, actor));
            let built = reply::build_business(&header, ack_for, doc, self.packaging);
            return Rendered {
                http_status: 200,
                content_type: built.content_type,
                body: built.body,
                outbox: None,
            };
        }
        let ack_requested = self.ack_requested.is_some();
        let delivery = reply::build_delivery(&header, doc, self.packaging, ack_requested);
        let (content_type, body) = if let Some(actor) = self.ack_requested {
            let ack = reply::build_ack_only(&self.request, actor, self.ack_id.clone(), self.now);
            (ack.content_type, ack.body)
        } else {
            (String::new(), Vec::new())
        };
        Rendered {
            http_status: 202,
            content_type,
            body,
            outbox: Some(OutboundMessage {
                message_id: header.message_id.clone(),
                conversation_id: header.conversation_id.clone(),
                partner: meta.from_party.clone(),
                content_type: delivery.content_type,
                body: delivery.body,
                ack_requested,
            }),
        }
    }
}

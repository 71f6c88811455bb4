//! The NSW side of the ebMS exchange, over the gateway's own wire module: request messages as
//! the NSW sends them, and the gateway's answers read back and classified.

use chrono::{DateTime, Utc};
use nsw_gateway::domain::{InboundDocument, OutboundDocument};
use nsw_gateway::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_EBMS, SERVICE_PERMIT};
use nsw_gateway::wire::intake::{
    Packaging, Rejection, ACTION_ACKNOWLEDGMENT, ACTION_PING, ACTION_PONG,
};
use nsw_gateway::wire::reply::{build_ping, build_request, parse_reply, RequestOptions};

/// Who talks to whom: the NSW's party id, the gateway's, and their collaboration agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    pub nsw: String,
    pub gateway: String,
    pub cpa_id: String,
}

impl Default for Parties {
    fn default() -> Self {
        Self {
            nsw: "NSW".into(),
            gateway: "TISI".into(),
            cpa_id: "NSW-TISI-PERMIT".into(),
        }
    }
}

/// A new message id in the `uuid@host` form. Ids come from the operating system's randomness,
/// never from a seed: they must be unique across runs (a repeated id is a retry to the gateway).
pub fn message_id() -> String {
    format!("{}@mock-nsw.nsw.go.th", uuid::Uuid::new_v4())
}

/// A new conversation id (unique across runs, like message ids).
pub fn conversation_id() -> String {
    format!("conv-{}", uuid::Uuid::new_v4())
}

/// A short tag that differs from run to run (base 36 of the current time in milliseconds), for
/// the references and declaration numbers a run makes up: the gateway remembers them across
/// runs.
pub fn run_tag() -> String {
    let mut n = chrono::Utc::now().timestamp_millis().unsigned_abs();
    let mut out = Vec::new();
    while n > 0 {
        let d = (n % 36) as u8;
        out.push(if d < 10 { b'0' + d } else { b'A' + d - 10 });
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// The `Action` of a business document (its root element name).
pub fn action_of(doc: &InboundDocument) -> &'static str {
    match doc {
        InboundDocument::ImportPermitRequest(_) => "ImportPermitRequest",
        InboundDocument::DeclarationCheck(_) => "DeclarationCheck",
        InboundDocument::DeclarationAmendment(_) => "DeclarationAmendment",
        InboundDocument::PermitStatusQuery(_) => "PermitStatusQuery",
    }
}

/// The header of a request from the NSW to the gateway.
pub fn header(
    p: &Parties,
    service: &str,
    action: &str,
    message_id: &str,
    conversation_id: &str,
    now: DateTime<Utc>,
) -> MessageHeader {
    MessageHeader {
        from: PartyId::new(p.nsw.clone()),
        to: PartyId::new(p.gateway.clone()),
        cpa_id: p.cpa_id.clone(),
        conversation_id: conversation_id.to_owned(),
        service: Service::new(service),
        action: action.to_owned(),
        message_id: message_id.to_owned(),
        timestamp: now.fixed_offset(),
        ref_to_message_id: None,
        time_to_live: None,
        duplicate_elimination: true,
    }
}

/// How a business request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// Packaging B (payload inline in the SOAP body) rather than A (MIME part).
    pub inline: bool,
    /// Encode in TIS-620 rather than UTF-8.
    pub tis620: bool,
    /// Ask for the answer on the same connection (`eb:SyncReply`).
    pub sync_reply: bool,
    /// Ask for an `eb:Acknowledgment`.
    pub ack_requested: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            inline: false,
            tis620: false,
            sync_reply: true,
            ack_requested: true,
        }
    }
}

/// A message ready to post: content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A business request message carrying `doc`.
pub fn business(
    p: &Parties,
    doc: &InboundDocument,
    message_id: &str,
    conversation_id: &str,
    now: DateTime<Utc>,
    o: SendOptions,
) -> Message {
    let h = header(
        p,
        SERVICE_PERMIT,
        action_of(doc),
        message_id,
        conversation_id,
        now,
    );
    let packaging = if o.inline {
        Packaging::Inline
    } else {
        Packaging::Multipart
    };
    let b = build_request(
        &h,
        doc,
        packaging,
        RequestOptions {
            ack_requested: o.ack_requested,
            sync_reply: o.sync_reply,
            tis620: o.tis620,
        },
    );
    Message {
        content_type: b.content_type,
        body: b.body,
    }
}

/// A Ping (answered synchronously with a Pong).
pub fn ping(p: &Parties, message_id: &str, conversation_id: &str, now: DateTime<Utc>) -> Message {
    let mut h = header(
        p,
        SERVICE_EBMS,
        ACTION_PING,
        message_id,
        conversation_id,
        now,
    );
    h.duplicate_elimination = false;
    let b = build_ping(&h, true);
    Message {
        content_type: b.content_type,
        body: b.body,
    }
}

/// What an answer of the gateway turned out to be.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A business response document (with the payload as sent, for byte comparisons).
    Document {
        header: Box<MessageHeader>,
        doc: Box<OutboundDocument>,
        payload_xml: String,
        acknowledged: bool,
    },
    Pong {
        header: Box<MessageHeader>,
    },
    /// An `eb:Acknowledgment` without a payload (the answer to an asynchronous request).
    AckOnly {
        ref_to: String,
    },
    /// An empty body.
    Empty,
    /// An ebMS error message: each error as `code at location: description`.
    EbmsErrors(Vec<String>),
    /// A SOAP Fault.
    Fault(String),
    /// Something mock-nsw could not read as an ebMS message.
    Unreadable(String),
}

impl Answer {
    pub fn describe(&self) -> String {
        match self {
            Answer::Document { header, doc, .. } => format!("{} ({})", header.action, summary(doc)),
            Answer::Pong { .. } => "Pong".into(),
            Answer::AckOnly { ref_to } => format!("Acknowledgment of {ref_to}"),
            Answer::Empty => "an empty body".into(),
            Answer::EbmsErrors(e) => format!("ebMS errors: {}", e.join("; ")),
            Answer::Fault(f) => format!("SOAP Fault: {f}"),
            Answer::Unreadable(w) => format!("unreadable answer: {w}"),
        }
    }
}

/// A one-line summary of a response document.
pub fn summary(doc: &OutboundDocument) -> String {
    match doc {
        OutboundDocument::ImportPermitResponse(r) => {
            let reasons: Vec<String> = r
                .items
                .iter()
                .flat_map(|i| {
                    i.reasons
                        .iter()
                        .map(move |x| format!("{}:{}", i.item_number, x.code.code()))
                })
                .collect();
            format!(
                "decision {}{}{}",
                r.decision.code(),
                r.permit
                    .as_ref()
                    .map(|p| format!(", permit {}", p.number))
                    .unwrap_or_default(),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(", reasons {}", reasons.join(" "))
                }
            )
        }
        OutboundDocument::DeclarationCheckResponse(r) => {
            let lines: Vec<String> = r
                .lines
                .iter()
                .map(|l| format!("{}:{}", l.line_number, l.result.code()))
                .collect();
            format!("result {}, lines {}", r.result.code(), lines.join(" "))
        }
        OutboundDocument::DeclarationAmendmentResponse(r) => format!("result {}", r.result.code()),
        OutboundDocument::PermitStatusResponse(r) => format!(
            "{:?}, decision {}",
            r.result,
            r.decision.map(|d| d.code()).unwrap_or("-")
        ),
    }
}

/// Reads an answer body of the gateway.
pub fn read_answer(content_type: Option<&str>, body: &[u8]) -> Answer {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Answer::Empty;
    }
    if let Some(ct) = content_type {
        let l = ct.to_ascii_lowercase();
        if !l.contains("xml") && !l.contains("multipart") {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            return Answer::Unreadable(format!("a {ct} body: {}", text.trim()));
        }
    }
    match parse_reply(content_type, body) {
        Ok(r) => {
            if let Some(el) = r.error_list {
                return Answer::EbmsErrors(
                    el.errors
                        .iter()
                        .map(|e| {
                            format!("{} at {}: {}", e.code.as_str(), e.location, e.description)
                        })
                        .collect(),
                );
            }
            match (r.payload, r.payload_xml) {
                (Some(doc), Some(xml)) => Answer::Document {
                    header: Box::new(r.header),
                    doc: Box::new(doc),
                    payload_xml: xml,
                    acknowledged: r.acknowledgment.is_some(),
                },
                _ if r.header.action == ACTION_PONG => Answer::Pong {
                    header: Box::new(r.header),
                },
                _ if r.header.action == ACTION_ACKNOWLEDGMENT || r.acknowledgment.is_some() => {
                    Answer::AckOnly {
                        ref_to: r
                            .acknowledgment
                            .map(|a| a.ref_to_message_id)
                            .or(r.header.ref_to_message_id)
                            .unwrap_or_default(),
                    }
                }
                _ => Answer::Unreadable(format!("a {} message without a payload", r.header.action)),
            }
        }
        Err(Rejection::Fault { description }) => Answer::Fault(description),
        Err(Rejection::Errors { errors, .. }) => Answer::Unreadable(
            errors
                .iter()
                .map(|e| format!("{} at {}: {}", e.code.as_str(), e.location, e.description))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(Rejection::TooLarge { size, limit }) => {
            Answer::Unreadable(format!("{size} bytes, above {limit}"))
        }
    }
}

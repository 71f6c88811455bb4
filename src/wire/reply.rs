//! Message builders (strict: every envelope validates against the OASIS ebMS 2.0 / SOAP 1.1
//! schemas) and the reader of replies the gateway sent (for the NSW simulator and tests).

use chrono::{DateTime, FixedOffset, Utc};

use super::encoding::encode_thai;
use super::envelope::{
    strip_xml_declaration, write_envelope, Acknowledgment, EnvelopeOut, ErrorList, MessageHeader,
    PartyId, Service, SERVICE_EBMS,
};
use super::error::EbmsError;
use super::intake::{
    read_message, Limits, Packaging, Rejection, ACTION_ACKNOWLEDGMENT, ACTION_MESSAGE_ERROR,
    ACTION_PONG,
};
use super::packaging::{build_multipart, content_ids};

/// A message ready to send: its `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub content_type: String,
    pub body: Vec<u8>,
}

const CT_INLINE_UTF8: &str = "text/xml; charset=UTF-8";

fn inline(xml: String) -> Built {
    Built {
        content_type: CT_INLINE_UTF8.to_owned(),
        body: xml.into_bytes(),
    }
}

fn to_fixed(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    now.fixed_offset()
}

/// Header of a reply: From/To swapped, same CPAId and ConversationId, `RefToMessageId` = the
/// request's MessageId, the given Action and Service, a new MessageId and timestamp.
pub fn reply_header(
    request: &MessageHeader,
    action: &str,
    service: &str,
    message_id: String,
    now: DateTime<Utc>,
) -> MessageHeader {
    MessageHeader {
        from: request.to.clone(),
        to: request.from.clone(),
        cpa_id: request.cpa_id.clone(),
        conversation_id: request.conversation_id.clone(),
        service: Service::new(service),
        action: action.to_owned(),
        message_id,
        timestamp: to_fixed(now),
        ref_to_message_id: Some(request.message_id.clone()),
        time_to_live: None,
        duplicate_elimination: false,
    }
}

/// The `eb:Acknowledgment` a message with header `own` gives for `request`.
fn ack_of(own: &MessageHeader, request: &MessageHeader) -> Acknowledgment {
    Acknowledgment {
        timestamp: own.timestamp,
        ref_to_message_id: request.message_id.clone(),
        from: Some(own.from.clone()),
    }
}

/// A message with a business payload, in packaging A or B. `extra` adds header blocks.
fn with_payload(
    header: &MessageHeader,
    extra: EnvelopeOut<'_>,
    payload_xml: &str,
    packaging: Packaging,
    thai: bool,
) -> Built {
    let enc = if thai { "TIS-620" } else { "UTF-8" };
    match packaging {
        Packaging::Inline => {
            let xml = write_envelope(&EnvelopeOut {
                header: Some(header),
                inline_payload: Some(payload_xml),
                encoding: Some(enc),
                ..extra
            });
            if thai {
                Built {
                    content_type: "text/xml; charset=TIS-620".into(),
                    body: encode_thai(&xml),
                }
            } else {
                inline(xml)
            }
        }
        Packaging::Multipart => {
            let (_, pay_id) = content_ids(&header.message_id);
            let href = format!("cid:{pay_id}");
            let soap = write_envelope(&EnvelopeOut {
                header: Some(header),
                manifest_href: Some(&href),
                ..extra
            });
            let body = strip_xml_declaration(payload_xml);
            let payload = format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>\n{body}");
            let payload = if thai {
                encode_thai(&payload)
            } else {
                payload.into_bytes()
            };
            let (content_type, body) =
                build_multipart(&header.message_id, soap.as_bytes(), &payload, "UTF-8", enc);
            Built { content_type, body }
        }
    }
}

/// A business message from the gateway (a synchronous reply or an asynchronous delivery),
/// with an `eb:Acknowledgment` of `ack_for` when given. The payload is the encoded response
/// document (an XML declaration at its start is handled).
pub fn build_business_xml(
    header: &MessageHeader,
    ack_for: Option<&MessageHeader>,
    payload_xml: &str,
    packaging: Packaging,
) -> Built {
    let ack = ack_for.map(|r| ack_of(header, r));
    let extra = EnvelopeOut {
        acknowledgment: ack.as_ref(),
        ..EnvelopeOut::default()
    };
    with_payload(header, extra, payload_xml, packaging, false)
}

/// An acknowledgment-only message for a request (never with `DuplicateElimination`).
pub fn build_ack_only(header_of_request: &MessageHeader, message_id: String, now: DateTime<Utc>) -> Built {
    let h = reply_header(header_of_request, ACTION_ACKNOWLEDGMENT, SERVICE_EBMS, message_id, now);
    let ack = ack_of(&h, header_of_request);
    inline(write_envelope(&EnvelopeOut {
        header: Some(&h),
        acknowledgment: Some(&ack),
        ..EnvelopeOut::default()
    }))
}

/// The answer to a Ping.
pub fn build_pong(request: &MessageHeader, message_id: String, now: DateTime<Utc>) -> Built {
    let h = reply_header(request, ACTION_PONG, SERVICE_EBMS, message_id, now);
    inline(write_envelope(&EnvelopeOut {
        header: Some(&h),
        ..EnvelopeOut::default()
    }))
}

/// An ebMS error message (`eb:ErrorList`, `highestSeverity="Error"`). Without a readable
/// request header it is addressed from `own_party` to `unknown`, with the new message id as
/// conversation id.
pub fn build_error_list(
    request: Option<&MessageHeader>,
    errors: &[EbmsError],
    message_id: String,
    now: DateTime<Utc>,
    own_party: &str,
) -> Built {
    let h = match request {
        Some(r) => reply_header(r, ACTION_MESSAGE_ERROR, SERVICE_EBMS, message_id, now),
        None => MessageHeader {
            from: PartyId::new(own_party),
            to: PartyId::new("unknown"),
            cpa_id: "unknown".into(),
            conversation_id: message_id.clone(),
            service: Service::new(SERVICE_EBMS),
            action: ACTION_MESSAGE_ERROR.into(),
            message_id,
            timestamp: to_fixed(now),
            ref_to_message_id: None,
            time_to_live: None,
            duplicate_elimination: false,
        },
    };
    inline(write_envelope(&EnvelopeOut {
        header: Some(&h),
        error_list: Some(errors),
        ..EnvelopeOut::default()
    }))
}

/// A SOAP 1.1 Fault (`faultcode` `SOAP:Client`).
pub fn build_fault(description: &str) -> Built {
    inline(write_envelope(&EnvelopeOut {
        fault: Some(description),
        ..EnvelopeOut::default()
    }))
}

/// Options of a request message (NSW side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub ack_requested: bool,
    pub sync_reply: bool,
    /// Encode the payload (packaging A) or the whole message (packaging B) in TIS-620.
    pub tis620: bool,
}

/// A business request message as the NSW sends it.
pub fn build_request_xml(
    header: &MessageHeader,
    payload_xml: &str,
    packaging: Packaging,
    opts: RequestOptions,
) -> Built {
    let extra = EnvelopeOut {
        ack_requested: opts.ack_requested.then_some(false),
        sync_reply: opts.sync_reply,
        ..EnvelopeOut::default()
    };
    with_payload(header, extra, payload_xml, packaging, opts.tis620)
}

/// A Ping message (Service `urn:oasis:names:tc:ebxml-msg:service` is the caller's to set).
pub fn build_ping(header: &MessageHeader, sync_reply: bool) -> Built {
    inline(write_envelope(&EnvelopeOut {
        header: Some(header),
        sync_reply,
        ..EnvelopeOut::default()
    }))
}

/// A message the gateway sent, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<D> {
    pub packaging: Packaging,
    pub header: MessageHeader,
    pub acknowledgment: Option<Acknowledgment>,
    pub error_list: Option<ErrorList>,
    /// The payload as UTF-8, when there is one.
    pub payload_xml: Option<String>,
    /// The decoded payload.
    pub payload: Option<D>,
}

/// Reads a reply with the payload decoder given. A SOAP Fault comes back as
/// `Rejection::Fault`; a header that cannot be read or a payload that does not decode as
/// `Rejection::Errors`.
pub fn parse_reply_with<D>(
    content_type: Option<&str>,
    body: &[u8],
    decode: impl Fn(&str) -> Result<D, Vec<EbmsError>>,
) -> Result<Reply<D>, Rejection> {
    let limits = Limits {
        max_body_bytes: usize::MAX,
        ..Limits::default()
    };
    let raw = read_message(content_type, body, &limits)?;
    let env = raw.envelope;
    if let Some(f) = env.fault {
        return Err(Rejection::Fault { description: f });
    }
    let mut errors = env.header_errors;
    errors.extend(raw.errors);
    let mut payload = None;
    if let Some((xml, _)) = &raw.payload {
        match decode(xml) {
            Ok(d) => payload = Some(d),
            Err(es) => errors.extend(es),
        }
    }
    match env.header {
        Some(header) if errors.is_empty() => Ok(Reply {
            packaging: raw.packaging,
            header,
            acknowledgment: env.acknowledgment,
            error_list: env.error_list,
            payload_xml: raw.payload.map(|p| p.0),
            payload,
        }),
        header => Err(Rejection::Errors { header, errors }),
    }
}

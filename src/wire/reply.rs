//! Message builders (strict: every envelope validates against the OASIS ebMS 2.0 / SOAP 1.1
//! schemas) and the reader of replies the gateway sent (for the NSW simulator and tests).

use chrono::{DateTime, FixedOffset, Utc};

use super::encoding::encode_thai;
use super::envelope::{
    strip_xml_declaration, write_envelope, AckActor, Acknowledgment, EnvelopeOut, ErrorList,
    MessageHeader, PartyId, Service, SERVICE_EBMS,
};
use super::error::EbmsError;
use super::intake::{
    read_message, Limits, Packaging, Rejection, ACTION_ACKNOWLEDGMENT, ACTION_MESSAGE_ERROR,
    ACTION_PONG,
};
use super::packaging::{build_multipart, content_ids};
use super::payload::{decode_outbound, encode_inbound, encode_outbound};
use crate::domain::documents::{InboundDocument, OutboundDocument};

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

/// The `eb:Acknowledgment` a message with header `own` gives for `request`, whose
/// `eb:AckRequested` named `actor`.
fn ack_of(own: &MessageHeader, request: &MessageHeader, actor: AckActor) -> Acknowledgment {
    Acknowledgment {
        timestamp: own.timestamp,
        ref_to_message_id: request.message_id.clone(),
        from: Some(own.from.clone()),
        actor,
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
/// with an `eb:Acknowledgment` of `ack_for` when given: the request's header and the actor
/// its `eb:AckRequested` named. The payload is the encoded response document (an XML
/// declaration at its start is handled).
pub fn build_business_xml(
    header: &MessageHeader,
    ack_for: Option<(&MessageHeader, AckActor)>,
    payload_xml: &str,
    packaging: Packaging,
) -> Built {
    let ack = ack_for.map(|(r, actor)| ack_of(header, r, actor));
    let extra = EnvelopeOut {
        acknowledgment: ack.as_ref(),
        ..EnvelopeOut::default()
    };
    with_payload(header, extra, payload_xml, packaging, false)
}

/// A business message from the gateway carrying `doc` (see [`build_business_xml`]).
pub fn build_business(
    header: &MessageHeader,
    ack_for: Option<(&MessageHeader, AckActor)>,
    doc: &OutboundDocument,
    packaging: Packaging,
) -> Built {
    build_business_xml(header, ack_for, &encode_outbound(doc), packaging)
}

/// An asynchronous delivery of a business document (spec §5): like [`build_business`], with
/// `eb:AckRequested` when the partner must acknowledge it, and always with
///
/// - `eb:SyncReply`: the partner answers (its Acknowledgment, or an error) on the same HTTP
///   connection, where the delivery worker looks for it, rather than in a message of its own;
/// - `eb:DuplicateElimination`: a delivery is retried with the same MessageId until it is
///   acknowledged, so the partner must recognise a copy it already has.
pub fn build_delivery(
    header: &MessageHeader,
    doc: &OutboundDocument,
    packaging: Packaging,
    ack_requested: bool,
) -> Built {
    let header = MessageHeader {
        duplicate_elimination: true,
        ..header.clone()
    };
    let extra = EnvelopeOut {
        ack_requested: ack_requested.then_some(false),
        sync_reply: true,
        ..EnvelopeOut::default()
    };
    with_payload(&header, extra, &encode_outbound(doc), packaging, false)
}

/// An acknowledgment-only message for a request whose `eb:AckRequested` named `actor` (never
/// with `DuplicateElimination`).
pub fn build_ack_only(
    header_of_request: &MessageHeader,
    actor: AckActor,
    message_id: String,
    now: DateTime<Utc>,
) -> Built {
    let h = reply_header(
        header_of_request,
        ACTION_ACKNOWLEDGMENT,
        SERVICE_EBMS,
        message_id,
        now,
    );
    let ack = ack_of(&h, header_of_request, actor);
    inline(write_envelope(&EnvelopeOut {
        header: Some(&h),
        acknowledgment: Some(&ack),
        ..EnvelopeOut::default()
    }))
}

/// The answer to a Ping, with an `eb:Acknowledgment` of it when it asked for one (`ack_requested`:
/// the actor its `eb:AckRequested` named).
pub fn build_pong(
    request: &MessageHeader,
    ack_requested: Option<AckActor>,
    message_id: String,
    now: DateTime<Utc>,
) -> Built {
    let h = reply_header(request, ACTION_PONG, SERVICE_EBMS, message_id, now);
    let ack = ack_requested.map(|actor| ack_of(&h, request, actor));
    inline(write_envelope(&EnvelopeOut {
        header: Some(&h),
        acknowledgment: ack.as_ref(),
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
        Some(r) => {
            let mut h = reply_header(r, ACTION_MESSAGE_ERROR, SERVICE_EBMS, message_id, now);
            // The request may have named another party, or none, as its eb:To.
            if h.from.id != own_party {
                h.from = PartyId::new(own_party);
            }
            h
        }
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

/// A business request message carrying `doc` (see [`build_request_xml`]).
pub fn build_request(
    header: &MessageHeader,
    doc: &InboundDocument,
    packaging: Packaging,
    opts: RequestOptions,
) -> Built {
    build_request_xml(header, &encode_inbound(doc), packaging, opts)
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
    /// The sender asks for an `eb:Acknowledgment`, for this actor.
    pub ack_requested: Option<AckActor>,
    pub acknowledgment: Option<Acknowledgment>,
    pub error_list: Option<ErrorList>,
    /// The payload as UTF-8, when there is one.
    pub payload_xml: Option<String>,
    /// The decoded payload.
    pub payload: Option<D>,
}

/// Reads a message the gateway sent (a reply or an asynchronous delivery): header,
/// acknowledgment, error list and decoded response document. A message with a business
/// document that is read as it is takes the one-pass fast path of `wire::fast`, which answers
/// as [`parse_reply_with`] and [`decode_outbound`] do.
pub fn parse_reply(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply<OutboundDocument>, Rejection> {
    if let Some(reply) = super::fast::reply_fast(content_type, body, &reply_limits()) {
        return Ok(reply);
    }
    parse_reply_with(content_type, body, decode_outbound)
}

/// A reply's limits: those of the intake, but for its size.
fn reply_limits() -> Limits {
    Limits {
        max_body_bytes: usize::MAX,
        ..Limits::default()
    }
}

/// Reads a reply with the payload decoder given. A SOAP Fault comes back as
/// `Rejection::Fault`; a header that cannot be read or a payload that does not decode as
/// `Rejection::Errors`.
pub fn parse_reply_with<D>(
    content_type: Option<&str>,
    body: &[u8],
    decode: impl Fn(&str) -> Result<D, Vec<EbmsError>>,
) -> Result<Reply<D>, Rejection> {
    let raw = read_message(content_type, body, &reply_limits())?;
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
            ack_requested: env.ack_requested.map(|a| a.actor),
            acknowledgment: env.acknowledgment,
            error_list: env.error_list,
            payload_xml: raw.payload.map(|p| p.0),
            payload,
        }),
        header => Err(Rejection::Errors {
            header: header.map(Box::new),
            aliases: env.aliases,
            errors,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;
    use crate::wire::envelope::{parse_envelope, SERVICE_PERMIT};
    use crate::wire::error::{ErrorCode, Severity};
    use crate::wire::intake::test_support::{amendment, decode, header, ts};
    use crate::wire::packaging::{parse_multipart, ContentType};

    fn now() -> DateTime<Utc> {
        ts("2026-11-26T01:00:05Z").with_timezone(&Utc)
    }

    /// The official OASIS ebMS 2.0 schemas: `$OASIS_SCHEMA_DIR`, else `../shared/spec/oasis`
    /// beside the repository, where the interface specification is kept.
    fn schema_dir() -> PathBuf {
        std::env::var_os("OASIS_SCHEMA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/oasis")
            })
    }

    /// The SOAP envelope of a built message (the first part of a multipart body).
    fn soap_of(b: &Built) -> String {
        let ct = ContentType::parse(&b.content_type).unwrap();
        if ct.is_multipart() {
            let m = parse_multipart(&ct, &b.body).unwrap();
            String::from_utf8(m.envelope.body).unwrap()
        } else {
            String::from_utf8(b.body.clone()).unwrap()
        }
    }

    fn xmllint(xml: &str, schema: &str) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.xml");
        std::fs::write(&file, xml).unwrap();
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema_dir().join(schema))
            .arg(&file)
            .output()
            .expect("xmllint must be installed (Debian package libxml2-utils)");
        assert!(
            out.status.success(),
            "{schema} rejects:\n{xml}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn request() -> MessageHeader {
        header("DeclarationAmendment")
    }

    fn business_reply(ack: bool, packaging: Packaging) -> Built {
        let req = request();
        let mut h = reply_header(
            &req,
            "DeclarationAmendmentResponse",
            SERVICE_PERMIT,
            "r1@tisi.go.th".into(),
            now(),
        );
        h.duplicate_elimination = true;
        let payload = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeclarationAmendmentResponse xmlns=\"urn:th:tisi:nsw:permit:1_00\"><DeclarationNumber>A1</DeclarationNumber><Result>RESTORED</Result></DeclarationAmendmentResponse>";
        build_business_xml(
            &h,
            ack.then_some((&req, AckActor::ToPartyMsh)),
            payload,
            packaging,
        )
    }

    fn amendment_response() -> OutboundDocument {
        OutboundDocument::DeclarationAmendmentResponse(
            crate::domain::documents::DeclarationAmendmentResponse {
                declaration_number: "A0011691200001".into(),
                result: crate::domain::documents::AmendmentResult::Restored,
            },
        )
    }

    fn errors() -> Vec<EbmsError> {
        vec![
            EbmsError::new(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Header/eb:MessageHeader/eb:CPAId",
                "eb:CPAId is missing; it is required",
            ),
            EbmsError::new(
                ErrorCode::ValueNotRecognized,
                "/DeclarationAmendment/Action",
                "Action 'X' & <y> is not \"CANCEL\"",
            ),
        ]
    }

    #[test]
    fn every_built_envelope_is_schema_valid() {
        let req = request();
        let mut ping = header("Ping");
        ping.service = Service::new(SERVICE_EBMS);
        let cases: Vec<(&str, Built)> = vec![
            (
                "business inline with ack",
                business_reply(true, Packaging::Inline),
            ),
            ("business inline", business_reply(false, Packaging::Inline)),
            (
                "business multipart with ack",
                business_reply(true, Packaging::Multipart),
            ),
            (
                "business multipart",
                business_reply(false, Packaging::Multipart),
            ),
            (
                "ack only",
                build_ack_only(&req, AckActor::ToPartyMsh, "a1@tisi.go.th".into(), now()),
            ),
            (
                "pong",
                build_pong(&ping, None, "p1@tisi.go.th".into(), now()),
            ),
            (
                "pong with ack",
                build_pong(
                    &ping,
                    Some(AckActor::ToPartyMsh),
                    "p2@tisi.go.th".into(),
                    now(),
                ),
            ),
            (
                "error list",
                build_error_list(Some(&req), &errors(), "e1@tisi.go.th".into(), now(), "TISI"),
            ),
            (
                "error list, no header",
                build_error_list(None, &errors(), "e2@tisi.go.th".into(), now(), "TISI"),
            ),
            (
                "error list, empty",
                build_error_list(None, &[], "e3@tisi.go.th".into(), now(), "TISI"),
            ),
            ("ping", build_ping(&ping, true)),
            (
                "delivery",
                build_delivery(
                    &reply_header(
                        &req,
                        "DeclarationAmendmentResponse",
                        SERVICE_PERMIT,
                        "d1@tisi.go.th".into(),
                        now(),
                    ),
                    &amendment_response(),
                    Packaging::Multipart,
                    true,
                ),
            ),
            (
                "delivery inline, no acknowledgment",
                build_delivery(
                    &reply_header(
                        &req,
                        "DeclarationAmendmentResponse",
                        SERVICE_PERMIT,
                        "d2@tisi.go.th".into(),
                        now(),
                    ),
                    &amendment_response(),
                    Packaging::Inline,
                    false,
                ),
            ),
            (
                "request inline",
                build_request_xml(
                    &req,
                    &amendment("A1"),
                    Packaging::Inline,
                    RequestOptions {
                        ack_requested: true,
                        sync_reply: true,
                        tis620: false,
                    },
                ),
            ),
            (
                "request multipart",
                build_request_xml(
                    &req,
                    &amendment("A1"),
                    Packaging::Multipart,
                    RequestOptions {
                        ack_requested: true,
                        sync_reply: false,
                        tis620: false,
                    },
                ),
            ),
        ];
        for (name, b) in &cases {
            let soap = soap_of(b);
            assert!(!soap.is_empty(), "{name}");
            xmllint(&soap, "ebms2.xsd");
        }
        xmllint(
            &String::from_utf8(build_fault("no <Envelope> & more").body).unwrap(),
            "envelope.xsd",
        );
    }

    #[test]
    fn reply_headers_swap_and_refer() {
        let req = request();
        let h = reply_header(&req, "Pong", SERVICE_EBMS, "m2".into(), now());
        assert_eq!(
            (h.from.clone(), h.to.clone()),
            (req.to.clone(), req.from.clone())
        );
        assert_eq!(h.cpa_id, req.cpa_id);
        assert_eq!(h.conversation_id, req.conversation_id);
        assert_eq!(
            h.ref_to_message_id.as_deref(),
            Some(req.message_id.as_str())
        );
        assert_eq!(
            (
                h.action.as_str(),
                h.service.value.as_str(),
                h.message_id.as_str()
            ),
            ("Pong", SERVICE_EBMS, "m2")
        );
        assert_eq!(h.timestamp, ts("2026-11-26T01:00:05Z"));
        assert!(!h.duplicate_elimination && h.time_to_live.is_none());
    }

    #[test]
    fn replies_read_back() {
        let req = request();
        for packaging in [Packaging::Inline, Packaging::Multipart] {
            let b = business_reply(true, packaging);
            let r = parse_reply_with(Some(&b.content_type), &b.body, |x| {
                Ok::<_, Vec<EbmsError>>(x.to_owned())
            })
            .unwrap();
            assert_eq!(r.packaging, packaging);
            assert_eq!(r.header.action, "DeclarationAmendmentResponse");
            assert!(r.header.duplicate_elimination);
            let ack = r.acknowledgment.unwrap();
            assert_eq!(ack.ref_to_message_id, req.message_id);
            assert_eq!(ack.from, Some(req.to.clone()));
            assert!(r.payload.unwrap().contains("<Result>RESTORED</Result>"));
        }
        let h = reply_header(
            &req,
            "DeclarationAmendmentResponse",
            SERVICE_PERMIT,
            "d1@tisi.go.th".into(),
            now(),
        );
        for packaging in [Packaging::Inline, Packaging::Multipart] {
            let b = build_delivery(&h, &amendment_response(), packaging, true);
            let r = parse_reply(Some(&b.content_type), &b.body).unwrap();
            assert!(r.ack_requested.is_some() && r.acknowledgment.is_none());
            assert_eq!(r.payload, Some(amendment_response()));
            assert_eq!(
                r.header,
                MessageHeader {
                    duplicate_elimination: true,
                    ..h.clone()
                }
            );
        }
        let b = build_ack_only(&req, AckActor::ToPartyMsh, "a1@tisi.go.th".into(), now());
        let r = parse_reply_with(Some(&b.content_type), &b.body, decode).unwrap();
        assert_eq!(r.header.action, "Acknowledgment");
        assert!(
            !r.header.duplicate_elimination,
            "an Acknowledgment never carries DuplicateElimination"
        );
        assert_eq!(r.acknowledgment.unwrap().ref_to_message_id, req.message_id);
        assert_eq!(r.payload, None);

        let b = build_error_list(Some(&req), &errors(), "e1@tisi.go.th".into(), now(), "TISI");
        let r = parse_reply_with(Some(&b.content_type), &b.body, decode).unwrap();
        let l = r.error_list.unwrap();
        assert_eq!(l.highest_severity, Severity::Error);
        assert_eq!(l.errors, errors());
        assert_eq!(
            r.header.ref_to_message_id.as_deref(),
            Some(req.message_id.as_str())
        );
        let xml = String::from_utf8(b.body).unwrap();
        assert!(
            xml.contains("eb:highestSeverity=\"Error\"")
                && xml.contains("<eb:Description xml:lang=\"en\">"),
            "{xml}"
        );

        let b = build_error_list(None, &errors(), "e2@tisi.go.th".into(), now(), "TISI");
        let r = parse_reply_with(Some(&b.content_type), &b.body, decode).unwrap();
        assert_eq!(r.header.from.id, "TISI");

        let b = build_fault("the message is not well-formed XML");
        assert_eq!(
            parse_reply_with(Some(&b.content_type), &b.body, decode),
            Err(Rejection::Fault {
                description: "the message is not well-formed XML".into()
            })
        );
    }

    /// A delivery asks for the partner's answer on the same connection (where the worker
    /// reads the Acknowledgment) and for duplicate elimination (its retries reuse the
    /// MessageId); the Acknowledgment a partner gives carries no DuplicateElimination.
    #[test]
    fn deliveries_ask_for_a_synchronous_answer_and_duplicate_elimination() {
        let req = request();
        let h = reply_header(
            &req,
            "DeclarationAmendmentResponse",
            SERVICE_PERMIT,
            "d1@tisi.go.th".into(),
            now(),
        );
        for packaging in [Packaging::Inline, Packaging::Multipart] {
            for ack in [true, false] {
                let b = build_delivery(&h, &amendment_response(), packaging, ack);
                let env = parse_envelope(&soap_of(&b)).unwrap();
                assert!(env.sync_reply, "{packaging:?}, ack {ack}");
                assert_eq!(env.ack_requested.is_some(), ack);
                let header = env.header.unwrap();
                assert!(header.duplicate_elimination, "{packaging:?}, ack {ack}");
                let soap = soap_of(&b);
                assert!(
                    soap.contains(
                        "<eb:SyncReply SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" \
                         SOAP:actor=\"http://schemas.xmlsoap.org/soap/actor/next\"/>"
                    ),
                    "{soap}"
                );
                let ack_msg = build_ack_only(&header, AckActor::ToPartyMsh, "a1@nsw".into(), now());
                let ack_env = parse_envelope(&soap_of(&ack_msg)).unwrap();
                assert!(!ack_env.header.unwrap().duplicate_elimination);
            }
        }
    }

    #[test]
    fn written_header_reads_back_identically() {
        let h = request();
        let xml = write_envelope(&EnvelopeOut {
            header: Some(&h),
            ..EnvelopeOut::default()
        });
        assert_eq!(parse_envelope(&xml).unwrap().header, Some(h));
    }
}

//! The one way in: from (Content-Type, bytes) to a checked, decoded message or a rejection
//! (spec §1). Pure: no clock, no configuration; the caller checks parties, CPA and
//! `TimeToLive` (see [`ttl_expired`]).
//!
//! Order of work, all in memory: size limit → packaging (A or B) → character encoding →
//! a quick-xml scan that refuses DOCTYPE/entity declarations, processing instructions, too
//! deep nesting and too many goods items → namespace-aware envelope parse → header checks →
//! payload decoding. It never panics, whatever the bytes.
//!
//! A business message that is accepted as it is, inline or multipart, takes the one-pass fast
//! path of `wire::fast` first, which answers exactly as this order of work does
//! ([`intake_full`]).

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};
use quick_xml::events::Event;
use quick_xml::{NsReader, Reader};

use super::encoding::{decode_xml, EncodingError};
use super::envelope::Checks;
use super::envelope::{
    parse_envelope, parse_envelope_checked, AckActor, Aliases, Envelope, MessageHeader,
    SERVICE_EBMS, SERVICE_PERMIT, XPATH_HEADER,
};
use super::error::{EbmsError, ErrorCode};
use super::packaging::{cid_of_href, parse_multipart, ContentType};
use super::payload::{walk_embedded, Embedded};
use crate::domain::documents::InboundDocument;

/// Limits applied before and while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Deepest accepted element nesting of a business document, counted from its root
    /// (default 32), in either packaging: the SOAP `Envelope` and `Body` around an inline
    /// payload do not count ([`Limits::around_payload`]).
    pub max_depth: usize,
    /// Most goods items (or declaration lines) in one document (default 999).
    pub max_items: usize,
    /// Levels of the document read that lie outside the business document (0 for a payload
    /// part, 2 for an envelope: `Envelope`, `Body`).
    pub outer_levels: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_depth: 32,
            max_items: 999,
            outer_levels: 0,
        }
    }
}

impl Limits {
    /// The limits for reading a SOAP envelope, whose `Envelope` and `Body` hold an inline
    /// payload two levels down: the payload may nest as deep as in a MIME part of its own.
    pub fn around_payload(&self) -> Limits {
        Limits {
            outer_levels: 2,
            ..*self
        }
    }

    /// Whether an element with `open` elements around it is nested too deep.
    pub(crate) fn too_deep(&self, open: usize) -> bool {
        open + 1 > self.max_depth + self.outer_levels
    }
}

/// How a message was packaged (spec §1). Replies use the packaging of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Packaging {
    /// A: `multipart/related`, payload in its own MIME part.
    Multipart,
    /// B: `text/xml`, payload inside `SOAP:Body`.
    Inline,
}

/// The business actions (each is also the payload's root element name).
pub const BUSINESS_ACTIONS: [&str; 4] = [
    "ImportPermitRequest",
    "DeclarationCheck",
    "DeclarationAmendment",
    "PermitStatusQuery",
];
pub const ACTION_PING: &str = "Ping";
pub const ACTION_PONG: &str = "Pong";
pub const ACTION_ACKNOWLEDGMENT: &str = "Acknowledgment";
pub const ACTION_MESSAGE_ERROR: &str = "MessageError";

/// An accepted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub header: MessageHeader,
    /// `eb:AckRequested`: the actor it names, which the Acknowledgment names too.
    pub ack_requested: Option<AckActor>,
    pub sync_reply: bool,
    pub packaging: Packaging,
    pub body: InboundBody,
    /// The business payload as UTF-8 (for storage), when there is one.
    pub payload_xml: Option<String>,
    /// A business message that also carries an `eb:Acknowledgment` (ebMS 2.0 lets it ride
    /// along): the MessageId it acknowledges.
    pub acknowledgment: Option<String>,
    /// The further `eb:PartyId`s of `eb:From` and of `eb:To` (the header has the first of each):
    /// other names of the same party, which the partner checks may match instead.
    pub aliases: Aliases,
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per message; boxing would only add an allocation
pub enum InboundBody {
    Ping,
    Document(InboundDocument),
    /// A standalone `eb:Acknowledgment` (Action `Acknowledgment`) for a message the gateway sent.
    Acknowledgment {
        ref_to_message_id: String,
    },
    /// An ebMS error message (Action `MessageError`, an `eb:ErrorList`) about a message the
    /// gateway sent: taken note of, never answered with an error of its own.
    MessageError {
        ref_to_message_id: Option<String>,
        errors: Vec<EbmsError>,
    },
}

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Larger than `Limits::max_body_bytes` (HTTP 413; nothing was parsed).
    TooLarge { size: usize, limit: usize },
    /// Not well-formed XML or not a SOAP 1.1 envelope (HTTP 400, SOAP Fault).
    Fault { description: String },
    /// An ebMS message that cannot be accepted (HTTP 400, `eb:ErrorList`). `header` is the
    /// request header, to address the error reply: complete when it could be read whole;
    /// else, when at least From, To and MessageId could be read, with `unknown` (and the
    /// epoch for a bad Timestamp) in place of the elements the errors name.
    /// `aliases`: the further PartyIds of From and To, as in [`Inbound::aliases`].
    Errors {
        header: Option<Box<MessageHeader>>,
        aliases: Aliases,
        errors: Vec<EbmsError>,
    },
}

impl Rejection {
    fn fault(d: impl Into<String>) -> Self {
        Rejection::Fault {
            description: d.into(),
        }
    }
    fn error(code: ErrorCode, location: &str, d: impl Into<String>) -> Self {
        Rejection::Errors {
            header: None,
            aliases: Aliases::default(),
            errors: vec![EbmsError::new(code, location, d)],
        }
    }
}

/// `TimeToLiveExpired` when the message's `TimeToLive` lies before `now`.
pub fn ttl_expired(header: &MessageHeader, now: DateTime<FixedOffset>) -> Option<EbmsError> {
    let ttl = header.time_to_live?;
    (ttl < now).then(|| {
        EbmsError::new(
            ErrorCode::TimeToLiveExpired,
            format!("{XPATH_HEADER}/eb:MessageData/eb:TimeToLive"),
            format!(
                "the message arrived at {} but its TimeToLive was {}",
                super::envelope::format_date_time(&now),
                super::envelope::format_date_time(&ttl)
            ),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The scan
// ---------------------------------------------------------------------------------------------

/// What [`scan`] refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// A DOCTYPE (`SecurityFailure`): nothing more of the document is read.
    Doctype(String),
    /// A processing instruction or a misplaced XML declaration (`SecurityFailure`).
    Forbidden(String),
    /// Too deep or too many items (`OtherXml`): location, description.
    Limit(String, String),
    /// Not well-formed XML.
    NotWellFormed(String),
}

/// What the scan learnt: the root element's local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub root_local: String,
}

/// One pass with a plain quick-xml reader: refuses DOCTYPE (hence entity declarations),
/// processing instructions other than a leading XML declaration, nesting deeper than
/// `max_depth` and more than `max_items` `GoodsItem`/`Line` elements; checks the document is
/// one well-formed element tree.
pub fn scan(xml: &str, limits: &Limits) -> Result<Scanned, ScanError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Cow<'_, [u8]>> = Vec::with_capacity(16);
    let mut items = 0usize;
    let mut first = true;
    let mut root_local: Option<String> = None;
    let path = |stack: &[Cow<'_, [u8]>], last: &[u8], idx: Option<usize>| {
        let mut p = String::new();
        for n in stack
            .iter()
            .map(|c| c.as_ref())
            .chain(std::iter::once(last))
        {
            p.push('/');
            p.push_str(&String::from_utf8_lossy(n));
        }
        if let Some(i) = idx {
            p.push_str(&format!("[{i}]"));
        }
        p
    };
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| ScanError::NotWellFormed(format!("the XML is not well-formed: {e}")))?;
        let was_first = first;
        first = matches!(&ev, Event::Text(t) if t.iter().all(u8::is_ascii_whitespace)) && first;
        match ev {
            Event::DocType(_) => {
                return Err(ScanError::Doctype(
                    "the document contains a DOCTYPE declaration; DTDs and entity declarations are not allowed".into(),
                ))
            }
            Event::PI(p) => {
                let target = String::from_utf8_lossy(p.target()).into_owned();
                return Err(ScanError::Forbidden(format!(
                    "the document contains the processing instruction <?{target}?>; processing instructions are not allowed"
                )));
            }
            Event::Decl(_) if !was_first => {
                return Err(ScanError::Forbidden(
                    "the document contains an XML declaration that is not at its start".into(),
                ))
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(ev, Event::Start(_));
                let name = e.name();
                let name_len = name.as_ref().len();
                let local_len = e.local_name().as_ref().len();
                let bytes = xml.as_bytes();
                let at = before + 1;
                let qname: Cow<'_, [u8]> = match bytes.get(at..at + name_len) {
                    Some(b) if b == name.as_ref() => Cow::Borrowed(b),
                    _ => Cow::Owned(name.as_ref().to_vec()),
                };
                let local = &qname[name_len.saturating_sub(local_len)..];
                if stack.is_empty() {
                    if root_local.is_some() {
                        return Err(ScanError::NotWellFormed(
                            "the XML is not well-formed: more than one root element".into(),
                        ));
                    }
                    root_local = Some(String::from_utf8_lossy(local).into_owned());
                }
                if limits.too_deep(stack.len()) {
                    return Err(ScanError::Limit(
                        path(&stack, &qname, None),
                        format!(
                            "elements are nested more than {} levels deep in the business \
                             document; that is not allowed",
                            limits.max_depth
                        ),
                    ));
                }
                if local == b"GoodsItem" || local == b"Line" {
                    items += 1;
                    if items > limits.max_items {
                        return Err(ScanError::Limit(
                            path(&stack, &qname, Some(items)),
                            format!(
                                "the document has more than {} {} elements; at most {} are allowed",
                                limits.max_items,
                                String::from_utf8_lossy(local),
                                limits.max_items
                            ),
                        ));
                    }
                }
                if is_start {
                    stack.push(qname);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) if stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(ScanError::NotWellFormed(
                    "the XML is not well-formed: text outside the root element".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ScanError::NotWellFormed(
            "the XML is not well-formed: the document ends inside an element".into(),
        ));
    }
    match root_local {
        Some(root_local) => Ok(Scanned { root_local }),
        None => Err(ScanError::NotWellFormed(
            "the XML is not well-formed: there is no root element".into(),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a message (shared with reply parsing)
// ---------------------------------------------------------------------------------------------

/// A message read as far as the envelope, with its payload text found but not decoded.
#[derive(Debug, Clone)]
pub(crate) struct RawMessage {
    pub packaging: Packaging,
    pub envelope: Envelope,
    /// The business payload as UTF-8 and its root element's local name.
    pub payload: Option<(String, String)>,
    /// Problems with the packaging or the payload part (the header was readable).
    pub errors: Vec<EbmsError>,
    /// The inline payload as the envelope pass read it, when it can be decoded from that.
    pub embedded: Option<Embedded>,
}

const XPATH_REFERENCE: &str = "/SOAP:Envelope/SOAP:Body/eb:Manifest/eb:Reference/@xlink:href";

fn scan_rejection(e: ScanError) -> Rejection {
    match e {
        ScanError::Doctype(d) | ScanError::Forbidden(d) => {
            Rejection::error(ErrorCode::SecurityFailure, "/", d)
        }
        ScanError::Limit(loc, d) => Rejection::error(ErrorCode::OtherXml, &loc, d),
        ScanError::NotWellFormed(d) => Rejection::fault(d),
    }
}

/// [`scan`], then [`parse_envelope`]: in one pass when both accept the envelope, else one
/// after the other to say what is wrong.
fn scan_and_parse_envelope(
    soap: &str,
    limits: &Limits,
) -> Result<(Envelope, Option<Embedded>), Rejection> {
    let limits = &limits.around_payload();
    if let Some(read) = parse_envelope_checked(soap, limits) {
        return Ok(read);
    }
    if let Err(e) = scan(soap, limits) {
        // A limit or a forbidden construct in a well-formed envelope (a payload too large or
        // deep, a processing instruction): the error list still refers to the message when
        // its header can be read. Not past a DOCTYPE, nor in XML that is not well-formed.
        let read = match &e {
            ScanError::Limit(..) | ScanError::Forbidden(_) => parse_envelope(soap).ok(),
            ScanError::Doctype(_) | ScanError::NotWellFormed(_) => None,
        };
        let mut rejection = scan_rejection(e);
        if let (
            Rejection::Errors {
                header, aliases, ..
            },
            Some(env),
        ) = (&mut rejection, read)
        {
            *header = env.header.or(env.partial_header).map(Box::new);
            *aliases = env.aliases;
        }
        return Err(rejection);
    }
    let envelope = parse_envelope(soap).map_err(|d| Rejection::Fault { description: d })?;
    Ok((envelope, None))
}

/// [`scan`] of a payload part and the payload's structure pass in one read: `Some` exactly
/// when [`scan`] accepts `xml`, with the root's local name as [`scan`] gives it and, when the
/// payload is a structurally clean inbound document, what the payload decoder needs to decode
/// it without reading it again. `None`: run [`scan`] to say what is wrong.
fn scan_payload_checked(xml: &str, limits: &Limits) -> Option<(String, Option<Embedded>)> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut checks = Checks::new(limits);
    let mut clean = true;
    let mut root = None;
    loop {
        let ev = reader.read_event().ok()?;
        if !checks.pass(&ev, 0) {
            return None;
        }
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return None;
                }
                let empty = matches!(ev, Event::Empty(_));
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let embedded = walk_embedded(&mut reader, xml, e, empty, 0, |ev, open| {
                    checks.pass(ev, open)
                })
                .ok()?;
                root = Some((local, embedded));
            }
            Event::Eof => break,
            Event::Text(ref t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Comment(_) => {}
            Event::Decl(_) if root.is_none() => {}
            _ => clean = false,
        }
    }
    let (local, embedded) = root?;
    Some((local, embedded.filter(|_| clean)))
}

fn looks_multipart(body: &[u8]) -> bool {
    let t = body.trim_ascii_start();
    t.starts_with(b"--") || body.starts_with(b"\r\n--")
}

/// The boundary of a multipart body without a Content-Type: its first `--` line.
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let t = body.trim_ascii_start();
    let line = t.strip_prefix(b"--")?;
    let end = line.iter().position(|c| *c == b'\r' || *c == b'\n')?;
    let b = std::str::from_utf8(&line[..end]).ok()?.trim();
    (!b.is_empty()).then(|| b.to_owned())
}

pub(crate) fn read_message(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<RawMessage, Rejection> {
    if body.len() > limits.max_body_bytes {
        return Err(Rejection::TooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let ct = match content_type.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(ContentType::parse(s).ok_or_else(|| {
            Rejection::fault(format!("the Content-Type '{s}' is not a MIME type"))
        })?),
        None => None,
    };
    let ct = match ct {
        Some(ct) if ct.is_multipart() => ct,
        Some(ct) if ct.is_xml() || ct.mime == "text/plain" => {
            return read_inline(body, ct.param("charset"), limits)
        }
        Some(ct) => {
            return Err(Rejection::fault(format!(
                "the Content-Type '{}' is not accepted; send multipart/related (SOAP with attachments) or text/xml",
                ct.mime
            )))
        }
        None if looks_multipart(body) => ContentType {
            mime: "multipart/related".into(),
            params: sniff_boundary(body)
                .map(|b| vec![("boundary".to_owned(), b)])
                .unwrap_or_default(),
        },
        None => return read_inline(body, None, limits),
    };
    let mp = parse_multipart(&ct, body).map_err(|e| Rejection::fault(e.0))?;
    let soap = text_of(
        &mp.envelope.body,
        mp.envelope.charset().or(ct.param("charset")),
        "/",
    )?;
    let (envelope, _) = scan_and_parse_envelope(&soap, limits)?;
    let mut errors = Vec::new();
    let refs: &[String] = envelope
        .manifest
        .as_ref()
        .map(|m| m.references.as_slice())
        .unwrap_or(&[]);
    let part = match refs {
        [] if mp.attachments.len() <= 1 => mp.attachments.first().map(|p| (p, "cid:".to_owned())),
        [] => {
            errors.push(EbmsError::new(
                ErrorCode::Inconsistent,
                "/SOAP:Envelope/SOAP:Body",
                format!(
                    "the message has {} attachments but no eb:Manifest saying which one is the payload",
                    mp.attachments.len()
                ),
            ));
            None
        }
        [href] => match cid_of_href(href) {
            None => {
                errors.push(EbmsError::new(
                    ErrorCode::NotSupported,
                    XPATH_REFERENCE,
                    format!("the payload reference '{href}' is not a cid: URL; only payloads carried in the message are supported"),
                ));
                None
            }
            Some(_) => match mp.by_cid(href) {
                Some(p) => Some((p, href.clone())),
                None => {
                    errors.push(EbmsError::new(
                        ErrorCode::ValueNotRecognized,
                        XPATH_REFERENCE,
                        format!("the eb:Manifest references '{href}' but no MIME part has that Content-ID"),
                    ));
                    None
                }
            },
        },
        _ => {
            errors.push(EbmsError::new(
                ErrorCode::Inconsistent,
                "/SOAP:Envelope/SOAP:Body/eb:Manifest",
                format!(
                    "the eb:Manifest references {} payloads; exactly one business payload is allowed",
                    refs.len()
                ),
            ));
            None
        }
    };
    if part.is_some() && envelope.payload_count > 0 {
        errors.push(EbmsError::new(
            ErrorCode::Inconsistent,
            "/SOAP:Envelope/SOAP:Body",
            "SOAP:Body holds a payload element besides the MIME part the eb:Manifest references; exactly one business payload is allowed",
        ));
    }
    let mut payload = None;
    let mut embedded = None;
    if let Some((p, href)) = part {
        let loc = if href == "cid:" { "/" } else { href.as_str() };
        match decode_xml(&p.body, p.charset()) {
            Err(EncodingError::Unsupported(d)) => {
                errors.push(EbmsError::new(ErrorCode::NotSupported, loc, d))
            }
            Err(EncodingError::Invalid(d)) => {
                errors.push(EbmsError::new(ErrorCode::OtherXml, loc, d))
            }
            Ok(text) => match scan_payload_checked(&text, limits)
                .map(Ok)
                .unwrap_or_else(|| scan(&text, limits).map(|s| (s.root_local, None)))
            {
                Ok((root_local, e)) => {
                    embedded = e;
                    payload = Some((text.into_owned(), root_local));
                }
                Err(ScanError::Doctype(d) | ScanError::Forbidden(d)) => {
                    errors.push(EbmsError::new(ErrorCode::SecurityFailure, loc, d))
                }
                Err(ScanError::Limit(l, d)) => {
                    errors.push(EbmsError::new(ErrorCode::OtherXml, &l, d))
                }
                Err(ScanError::NotWellFormed(d)) => errors.push(EbmsError::new(
                    ErrorCode::OtherXml,
                    loc,
                    format!("the payload part: {d}"),
                )),
            },
        }
    } else if let Some(bp) = &envelope.payload {
        // Packaged as multipart but with the payload inline: accept it.
        payload = Some((bp.xml.clone(), bp.local_name.clone()));
    }
    Ok(RawMessage {
        packaging: Packaging::Multipart,
        envelope,
        payload,
        errors,
        embedded,
    })
}

fn text_of<'a>(
    bytes: &'a [u8],
    charset: Option<&str>,
    loc: &str,
) -> Result<Cow<'a, str>, Rejection> {
    decode_xml(bytes, charset).map_err(|e| match e {
        EncodingError::Unsupported(d) => Rejection::error(ErrorCode::NotSupported, loc, d),
        EncodingError::Invalid(d) => Rejection::fault(d),
    })
}

fn read_inline(
    body: &[u8],
    charset: Option<&str>,
    limits: &Limits,
) -> Result<RawMessage, Rejection> {
    let soap = text_of(body, charset, "/")?;
    let (mut envelope, embedded) = scan_and_parse_envelope(&soap, limits)?;
    let mut errors = Vec::new();
    if envelope.payload_count > 1 {
        errors.push(EbmsError::new(
            ErrorCode::Inconsistent,
            "/SOAP:Envelope/SOAP:Body",
            format!(
                "SOAP:Body holds {} payload elements; exactly one business payload is allowed",
                envelope.payload_count
            ),
        ));
    }
    let payload = envelope.payload.take().map(|p| (p.xml, p.local_name));
    Ok(RawMessage {
        packaging: Packaging::Inline,
        envelope,
        payload,
        errors,
        embedded,
    })
}

/// THE intake: from the HTTP `Content-Type` and body to an accepted message or a rejection.
/// Business payloads are decoded with [`super::payload::decode_inbound`].
///
/// A business message that is accepted as it is (inline, or multipart with its payload part
/// referenced by `cid:`) takes the one-pass fast path of `wire::fast`; everything else (and
/// anything the fast path does not model) is read by the full path, which gives the same
/// answer for what the fast path accepts and says what is wrong otherwise.
pub fn intake(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Inbound, Rejection> {
    if let Some(inbound) = super::fast::intake_fast(content_type, body, limits) {
        return Ok(inbound);
    }
    intake_full(content_type, body, limits)
}

/// [`intake`] without its fast path: every message read by the full path (the reference the
/// fast path is checked against in the tests, and measured against in the benchmarks).
pub fn intake_full(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Inbound, Rejection> {
    intake_impl(
        content_type,
        body,
        limits,
        &super::payload::decode_inbound,
        true,
    )
}

/// [`intake`] with the payload decoder given: the payload's UTF-8 text in, the document or
/// its errors (each with an XPath into the payload) out.
pub fn intake_with(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
    decode: impl Fn(&str) -> Result<InboundDocument, Vec<EbmsError>>,
) -> Result<Inbound, Rejection> {
    intake_impl(content_type, body, limits, &decode, false)
}

/// [`intake_with`]; `builtin` says that `decode` is [`super::payload::decode_inbound`], which
/// may then decode an inline payload from what the envelope pass recorded of it.
fn intake_impl(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
    decode: &dyn Fn(&str) -> Result<InboundDocument, Vec<EbmsError>>,
    builtin: bool,
) -> Result<Inbound, Rejection> {
    let raw = read_message(content_type, body, limits)?;
    let env = raw.envelope;
    let mut errors = env.header_errors;
    let payload_problem = !raw.errors.is_empty();
    errors.extend(raw.errors);
    let action = env.header.as_ref().map(|h| h.action.as_str());
    enum Kind {
        Business,
        Ping,
        Ack,
        Error,
        Unknown,
    }
    let kind = match action {
        Some(a) if BUSINESS_ACTIONS.contains(&a) => Kind::Business,
        Some(ACTION_PING) => Kind::Ping,
        Some(ACTION_ACKNOWLEDGMENT) => Kind::Ack,
        Some(ACTION_MESSAGE_ERROR) => Kind::Error,
        _ => Kind::Unknown,
    };
    if let Some(h) = &env.header {
        let service_loc = format!("{XPATH_HEADER}/eb:Service");
        let svc = h.service.value.as_str();
        match kind {
            Kind::Business if svc != SERVICE_PERMIT => errors.push(EbmsError::new(
                ErrorCode::ValueNotRecognized,
                service_loc,
                format!("eb:Service '{svc}' is not recognised for Action '{}'; business messages use '{SERVICE_PERMIT}'", h.action),
            )),
            Kind::Ping | Kind::Ack | Kind::Error if svc != SERVICE_EBMS => errors.push(EbmsError::new(
                ErrorCode::ValueNotRecognized,
                service_loc,
                format!("eb:Service '{svc}' is not recognised for Action '{}'; it must be '{SERVICE_EBMS}'", h.action),
            )),
            Kind::Unknown => errors.push(EbmsError::new(
                ErrorCode::ValueNotRecognized,
                format!("{XPATH_HEADER}/eb:Action"),
                format!(
                    "eb:Action '{}' is not recognised; expected one of {}, {ACTION_PING}, {ACTION_ACKNOWLEDGMENT} or {ACTION_MESSAGE_ERROR}",
                    h.action,
                    BUSINESS_ACTIONS.join(", ")
                ),
            )),
            _ => {}
        }
        if matches!(kind, Kind::Business | Kind::Ping) {
            if let Some(r) = &h.ref_to_message_id {
                errors.push(EbmsError::new(
                    ErrorCode::Inconsistent,
                    format!("{XPATH_HEADER}/eb:MessageData/eb:RefToMessageId"),
                    format!("eb:RefToMessageId '{r}' is present, but Action '{}' starts an exchange; only replies refer to an earlier message", h.action),
                ));
            }
        }
        if matches!(kind, Kind::Error) && env.error_list.is_none() {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Header/eb:ErrorList",
                "Action 'MessageError' needs an eb:ErrorList header element",
            ));
        }
        if matches!(kind, Kind::Ack) && env.acknowledgment.is_none() {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Header/eb:Acknowledgment",
                "Action 'Acknowledgment' needs an eb:Acknowledgment header element with RefToMessageId",
            ));
        }
    }
    // The business document is read also when the header could be read only in part (an
    // element the errors name is 'unknown' there), so that one answer names everything wrong;
    // not when the Action itself is what could not be read.
    let business_action = match (&kind, action) {
        (Kind::Business, Some(action)) => Some(action),
        _ => env
            .partial_header
            .as_ref()
            .map(|h| h.action.as_str())
            .filter(|a| BUSINESS_ACTIONS.contains(a)),
    };
    let mut document = None;
    if let Some(action) = business_action {
        match &raw.payload {
            None if !payload_problem => errors.push(EbmsError::new(
                ErrorCode::Inconsistent,
                "/SOAP:Envelope/SOAP:Body",
                format!("the message carries no business payload; Action '{action}' needs a {action} document"),
            )),
            Some((_, root)) if root != action => errors.push(EbmsError::new(
                ErrorCode::Inconsistent,
                format!("/{root}"),
                format!("the payload is a {root} document but eb:Action says '{action}'; they must agree"),
            )),
            Some((xml, _)) => match match (&raw.embedded, builtin) {
                (Some(e), true) => e.decode_inbound(xml),
                _ => decode(xml),
            } {
                Ok(d) => document = Some(d),
                Err(es) => errors.extend(es),
            },
            None => {}
        }
    }
    if !errors.is_empty() {
        return Err(Rejection::Errors {
            header: env.header.or(env.partial_header).map(Box::new),
            aliases: env.aliases,
            errors,
        });
    }
    let Some(header) = env.header else {
        // Unreachable in practice: a missing header always adds an error.
        return Err(Rejection::error(
            ErrorCode::OtherXml,
            XPATH_HEADER,
            "the eb:MessageHeader cannot be read",
        ));
    };
    // What an eb:Acknowledgment refers to: an Acknowledgment message's, or one riding on a
    // business message.
    let acknowledged = env.acknowledgment.map(|a| a.ref_to_message_id);
    let body = match kind {
        Kind::Business => match document {
            Some(d) => InboundBody::Document(d),
            None => {
                return Err(Rejection::error(
                    ErrorCode::Unknown,
                    "/",
                    "the payload could not be decoded",
                ))
            }
        },
        Kind::Ping => InboundBody::Ping,
        Kind::Error => InboundBody::MessageError {
            ref_to_message_id: header.ref_to_message_id.clone(),
            errors: env.error_list.map(|l| l.errors).unwrap_or_default(),
        },
        _ => InboundBody::Acknowledgment {
            ref_to_message_id: acknowledged.clone().unwrap_or_default(),
        },
    };
    let (payload_xml, acknowledgment) = match body {
        InboundBody::Document(_) => (raw.payload.map(|p| p.0), acknowledged),
        _ => (None, None),
    };
    Ok(Inbound {
        header,
        ack_requested: env.ack_requested.map(|a| a.actor),
        sync_reply: env.sync_reply,
        packaging: raw.packaging,
        body,
        payload_xml,
        acknowledgment,
        aliases: env.aliases,
    })
}

/// Helpers shared by the wire tests: a sample header and a small stand-in payload decoder
/// for `DeclarationAmendment` documents.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, FixedOffset};
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::NsReader;

    use crate::domain::documents::{AmendmentAction, DeclarationAmendment, InboundDocument};
    use crate::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_PERMIT};
    use crate::wire::error::{EbmsError, ErrorCode};

    pub fn ts(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    pub fn header(action: &str) -> MessageHeader {
        MessageHeader {
            from: PartyId {
                id: "NSW".into(),
                kind: Some("urn:th:nsw:party".into()),
            },
            to: PartyId::new("TISI"),
            cpa_id: "NSW-TISI-CPA-01".into(),
            conversation_id: "conv-42".into(),
            service: Service::new(SERVICE_PERMIT),
            action: action.into(),
            message_id: "7d3c9a10-1f1e-4c55-9a77-1a2b3c4d5e6f@nsw.go.th".into(),
            timestamp: ts("2026-11-26T08:00:00+07:00"),
            ref_to_message_id: None,
            time_to_live: Some(ts("2026-11-27T08:00:00Z")),
            duplicate_elimination: true,
        }
    }

    pub fn amendment(number: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeclarationAmendment xmlns=\"urn:th:tisi:nsw:permit:1_00\"><DeclarationNumber>{number}</DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"
        )
    }

    /// Decodes `<DeclarationAmendment xmlns="urn:th:tisi:nsw:permit:1_00">` only.
    pub fn decode(xml: &str) -> Result<InboundDocument, Vec<EbmsError>> {
        let mut r = NsReader::from_str(xml);
        let mut number = None;
        let mut in_number = false;
        let mut first = true;
        let bad = |d: &str| {
            vec![EbmsError::new(
                ErrorCode::OtherXml,
                "/DeclarationAmendment",
                d,
            )]
        };
        loop {
            match r.read_resolved_event() {
                Err(e) => return Err(bad(&e.to_string())),
                Ok((ns, Event::Start(e))) => {
                    if first {
                        first = false;
                        let ok = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == b"urn:th:tisi:nsw:permit:1_00");
                        if !ok {
                            return Err(vec![EbmsError::new(
                                ErrorCode::NotSupported,
                                "/",
                                "namespace",
                            )]);
                        }
                    }
                    in_number = e.local_name().as_ref() == b"DeclarationNumber";
                }
                Ok((_, Event::Text(t))) if in_number => {
                    number = Some(t.unescape().map_err(|e| bad(&e.to_string()))?.into_owned());
                    in_number = false;
                }
                Ok((_, Event::Eof)) => break,
                Ok(_) => {}
            }
        }
        number
            .map(|n| {
                InboundDocument::DeclarationAmendment(DeclarationAmendment {
                    declaration_number: n,
                    action: AmendmentAction::Cancel,
                })
            })
            .ok_or_else(|| bad("DeclarationNumber is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{amendment, decode, header, ts};
    use super::*;
    use crate::domain::documents::{AmendmentAction, DeclarationAmendment};
    use crate::wire::envelope::Service;
    use crate::wire::reply::{build_ping, build_request_xml, Built, RequestOptions};

    fn doc(n: &str) -> InboundDocument {
        InboundDocument::DeclarationAmendment(DeclarationAmendment {
            declaration_number: n.into(),
            action: AmendmentAction::Cancel,
        })
    }

    fn request(packaging: Packaging, payload: &str) -> Built {
        let opts = RequestOptions {
            ack_requested: true,
            sync_reply: true,
            tis620: false,
        };
        build_request_xml(&header("DeclarationAmendment"), payload, packaging, opts)
    }

    /// Spec §1: a business document nesting more than 32 levels is refused, counted from its
    /// root in both packagings (the SOAP Envelope and Body around an inline one do not count),
    /// on the fast path (`intake`) and the full one alike.
    #[test]
    fn the_depth_limit_counts_from_the_payload_root_in_both_packagings() {
        for (levels, refused) in [(32, false), (33, true)] {
            // DeclarationAmendment is level 1; Action's place takes `levels - 1` more.
            let n = levels - 1;
            let payload = amendment("A1").replace(
                "<Action>CANCEL</Action>",
                &format!("{}{}", "<x>".repeat(n), "</x>".repeat(n)),
            );
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                let b = request(packaging, &payload);
                for (path, got) in [
                    (
                        "fast",
                        intake(Some(&b.content_type), &b.body, &Limits::default()),
                    ),
                    (
                        "full",
                        intake_full(Some(&b.content_type), &b.body, &Limits::default()),
                    ),
                ] {
                    let too_deep = matches!(&got, Err(Rejection::Errors { errors, .. })
                        if errors.iter().any(|e| e.code == ErrorCode::OtherXml
                            && e.description.contains("levels deep")));
                    assert_eq!(
                        too_deep, refused,
                        "{levels} levels, {packaging:?}, {path}: {got:?}"
                    );
                }
            }
        }
    }

    fn inline_text(payload: &str) -> String {
        String::from_utf8(request(Packaging::Inline, payload).body).unwrap()
    }

    /// Expected outcome: a decoded declaration number, a Fault whose text contains the given
    /// words, or errors given as (code, start of location).
    #[derive(Debug)]
    enum Want<'a> {
        Doc(&'a str),
        Fault(&'a str),
        Errors(&'a [(ErrorCode, &'a str)]),
    }

    fn check(ct: Option<&str>, body: &[u8], want: Want) {
        check_with(ct, body, &Limits::default(), want)
    }

    fn check_with(ct: Option<&str>, body: &[u8], limits: &Limits, want: Want) {
        let got = intake_with(ct, body, limits, decode);
        let shown = String::from_utf8_lossy(body);
        match (&got, &want) {
            (Ok(i), Want::Doc(n)) => assert_eq!(i.body, InboundBody::Document(doc(n)), "{shown}"),
            (Err(Rejection::Fault { description }), Want::Fault(w)) => {
                assert!(description.contains(w), "{description} !~ {w}\n{shown}")
            }
            (Err(Rejection::Errors { errors, .. }), Want::Errors(w)) => {
                let got: Vec<(ErrorCode, &str)> = errors
                    .iter()
                    .map(|e| (e.code, e.location.as_str()))
                    .collect();
                assert_eq!(got.len(), w.len(), "{errors:#?}\n{shown}");
                for ((gc, gl), (wc, wl)) in got.iter().zip(w.iter()) {
                    assert!(
                        gc == wc && gl.starts_with(wl),
                        "{errors:#?} vs {w:?}\n{shown}"
                    );
                }
                for e in errors {
                    assert!(!e.description.is_empty());
                }
            }
            _ => panic!("got {got:#?}, want {want:?}\n{shown}"),
        }
    }

    const H: &str = "/SOAP:Envelope/SOAP:Header/eb:MessageHeader";

    #[test]
    fn accepts_both_packagings_and_their_variants() {
        let b = request(Packaging::Inline, &amendment("A1"));
        check(Some(&b.content_type), &b.body, Want::Doc("A1"));
        check(Some("text/xml"), &b.body, Want::Doc("A1"));
        check(
            Some("application/soap+xml; action=\"ebXML\""),
            &b.body,
            Want::Doc("A1"),
        );
        check(None, &b.body, Want::Doc("A1"));
        let mut blank_first = b"\r\n  ".to_vec();
        blank_first.extend_from_slice(&b.body);
        check(Some(&b.content_type), &blank_first, Want::Doc("A1"));

        let m = request(Packaging::Multipart, &amendment("A2"));
        let text = String::from_utf8(m.body.clone()).unwrap();
        check(Some(&m.content_type), &m.body, Want::Doc("A2"));
        // bare LF line ends
        check(
            Some(&m.content_type),
            text.replace("\r\n", "\n").as_bytes(),
            Want::Doc("A2"),
        );
        // no Content-Type at all: the boundary is sniffed
        check(None, &m.body, Want::Doc("A2"));
        // unquoted parameters, no start, upper-case header names, preamble and epilogue
        let ct = ContentType::parse(&m.content_type).unwrap();
        let boundary = ct.param("boundary").unwrap();
        let loose = format!("MULTIPART/Related;boundary={boundary};type=text/xml");
        let framed = format!(
            "This is a MIME message\r\n{}trailing words\r\n",
            text.replace("Content-ID", "CONTENT-id")
                .replace("Content-Type", "content-type")
        );
        check(Some(&loose), framed.as_bytes(), Want::Doc("A2"));
        // Content-ID without <> and a URL-encoded cid reference
        let odd = text
            .replace("Content-ID: <payload.", "Content-ID: payload.")
            .replace(
                "@nsw.go.th>\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Decl",
                "@nsw.go.th\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Decl",
            )
            .replace("cid:payload.", "cid:payload%2E");
        check(Some(&m.content_type), odd.as_bytes(), Want::Doc("A2"));
        // base64 payload part
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(amendment("A3"));
        let start = text
            .find("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Decl")
            .unwrap();
        let end = text[start..].find("\r\n--").unwrap() + start;
        let encoded = format!(
            "{}{}",
            &text[..start].replace(
                "Content-Type: application/xml; charset=UTF-8\r\n",
                "Content-Type: application/xml\r\nContent-Transfer-Encoding: base64\r\n"
            ),
            b64
        ) + &text[end..];
        check(Some(&m.content_type), encoded.as_bytes(), Want::Doc("A3"));
        // quoted-printable payload part: escapes, soft line breaks, trailing blanks
        let mut qp = String::new();
        for (i, b) in amendment("A4").bytes().enumerate() {
            if i > 0 && i % 60 == 0 {
                qp.push_str("=  \r\n");
            }
            match b {
                b'=' | 128.. => qp.push_str(&format!("={b:02X}")),
                _ => qp.push(b as char),
            }
        }
        let encoded = format!(
            "{}{}",
            &text[..start].replace(
                "Content-Type: application/xml; charset=UTF-8\r\n",
                "Content-Type: application/xml; charset=UTF-8\r\n\
                 Content-Transfer-Encoding: Quoted-Printable\r\n"
            ),
            qp
        ) + &text[end..];
        check(Some(&m.content_type), encoded.as_bytes(), Want::Doc("A4"));
    }

    #[test]
    fn namespaces_not_prefixes() {
        let t = inline_text(&amendment("A1"));
        // other prefixes
        let other = t
            .replace("SOAP:", "s:")
            .replace("xmlns:SOAP", "xmlns:s")
            .replace("eb:", "x:")
            .replace("xmlns:eb=", "xmlns:x=");
        check(None, other.as_bytes(), Want::Doc("A1"));
        // default namespaces instead of prefixes on the header
        let default_ns = t.replace(
            "<eb:MessageHeader ",
            "<MessageHeader xmlns=\"http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd\" ",
        );
        let default_ns = rewrite_header_children(&default_ns);
        check(None, default_ns.as_bytes(), Want::Doc("A1"));
        // the right prefix bound to the wrong URI is not ebMS
        let wrong = t.replace("msg-header-2_0.xsd\"", "msg-header-3_0.xsd\"");
        check(
            None,
            wrong.as_bytes(),
            Want::Errors(&[(ErrorCode::OtherXml, "/SOAP:Envelope/SOAP:Header")]),
        );
        // SOAP 1.2 is not SOAP 1.1
        let soap12 = t.replace(
            "http://schemas.xmlsoap.org/soap/envelope/",
            "http://www.w3.org/2003/05/soap-envelope",
        );
        check(
            None,
            soap12.as_bytes(),
            Want::Fault("not a SOAP 1.1 envelope"),
        );
        // the payload's prefix declared on the Envelope only
        let p = t
            .replace(
                "<SOAP:Envelope ",
                "<SOAP:Envelope xmlns:p=\"urn:th:tisi:nsw:permit:1_00\" ",
            )
            .replace(
                "<DeclarationAmendment xmlns=\"urn:th:tisi:nsw:permit:1_00\">",
                "<p:DeclarationAmendment>",
            )
            .replace("</DeclarationAmendment>", "</p:DeclarationAmendment>")
            .replace(
                "<DeclarationNumber>A1</DeclarationNumber><Action>CANCEL</Action>",
                "<p:DeclarationNumber>A1</p:DeclarationNumber><p:Action>CANCEL</p:Action>",
            );
        check(None, p.as_bytes(), Want::Doc("A1"));
        // extension elements and attributes from other namespaces
        let ext = t
            .replace("<SOAP:Header>", "<SOAP:Header xmlns:x=\"urn:x\" x:a=\"1\"><x:Trace SOAP:mustUnderstand=\"0\">t</x:Trace>")
            .replace("</eb:MessageHeader>", "<eb:Description xml:lang=\"en\">d</eb:Description><x:Extra>e</x:Extra></eb:MessageHeader>")
            .replace("<eb:MessageHeader ", "<eb:MessageHeader eb:id=\"h1\" x:attr=\"v\" ")
            .replace("</eb:From>", "<eb:PartyId>second</eb:PartyId><eb:Role>http://nsw.go.th/roles/customs</eb:Role></eb:From>")
            .replace("<SOAP:Body>", "<SOAP:Body x:b=\"1\"><!-- note -->");
        check(None, ext.as_bytes(), Want::Doc("A1"));
        // unqualified eb attributes (some stacks write type= and version=)
        let unq = t
            .replace("eb:version=", "version=")
            .replace("eb:type=", "type=");
        let i = intake_with(None, unq.as_bytes(), &Limits::default(), decode).unwrap();
        assert_eq!(i.header.from.kind.as_deref(), Some("urn:th:nsw:party"));
    }

    /// Drops the `eb:` prefix from the MessageHeader's children (default namespace instead).
    fn rewrite_header_children(s: &str) -> String {
        let start = s.find("<MessageHeader ").unwrap();
        let end = s.find("</eb:MessageHeader>").unwrap();
        format!(
            "{}{}</MessageHeader>{}",
            &s[..start],
            s[start..end]
                .replace("<eb:", "<")
                .replace("</eb:", "</")
                .replace(" eb:type=", " type="),
            &s[end + "</eb:MessageHeader>".len()..]
        )
    }

    #[test]
    fn reads_the_header() {
        let t = inline_text(&amendment("A1"));
        let i = intake_with(None, t.as_bytes(), &Limits::default(), decode).unwrap();
        assert_eq!(i.header, header("DeclarationAmendment"));
        assert!(i.ack_requested.is_some() && i.sync_reply);
        assert_eq!(i.packaging, Packaging::Inline);
        assert!(i
            .payload_xml
            .unwrap()
            .starts_with("<DeclarationAmendment xmlns=\"urn:th:tisi:nsw:permit:1_00\">"));
        let now = ts("2026-11-27T08:00:01Z");
        assert_eq!(
            ttl_expired(&i.header, now).map(|e| e.code),
            Some(ErrorCode::TimeToLiveExpired)
        );
        assert_eq!(ttl_expired(&i.header, ts("2026-11-27T07:59:59Z")), None);
    }

    #[test]
    fn refuses_dangerous_xml() {
        let t = inline_text(&amendment("A1"));
        let body = t.find("<SOAP:Envelope").unwrap();
        let doctype = format!(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            &t[body..]
        );
        check(
            None,
            doctype.as_bytes(),
            Want::Errors(&[(ErrorCode::SecurityFailure, "/")]),
        );
        let decl = t.replace("<SOAP:Body>", "<SOAP:Body><?xml version=\"1.0\"?>");
        check(
            None,
            decl.as_bytes(),
            Want::Errors(&[(ErrorCode::SecurityFailure, "/")]),
        );
        let pi = t.replace("<SOAP:Body>", "<SOAP:Body><?evil x?>");
        check(
            None,
            pi.as_bytes(),
            Want::Errors(&[(ErrorCode::SecurityFailure, "/")]),
        );
        let deep = amendment("A1").replace(
            "<Action>CANCEL</Action>",
            &format!("{}{}", "<x>".repeat(40), "</x>".repeat(40)),
        );
        check(
            None,
            inline_text(&deep).as_bytes(),
            Want::Errors(&[(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Body/DeclarationAmendment/x/x",
            )]),
        );
        let many =
            amendment("A1").replace("<Action>", &format!("{}<Action>", "<GoodsItem/>".repeat(4)));
        let limits = Limits {
            max_items: 3,
            ..Limits::default()
        };
        check_with(
            None,
            inline_text(&many).as_bytes(),
            &limits,
            Want::Errors(&[(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Body/DeclarationAmendment/GoodsItem[4]",
            )]),
        );
        // the same checks on a multipart payload part, which has its own locations
        let m = request(Packaging::Multipart, &many);
        check_with(
            Some(&m.content_type),
            &m.body,
            &limits,
            Want::Errors(&[(ErrorCode::OtherXml, "/DeclarationAmendment/GoodsItem[4]")]),
        );
        let m = request(
            Packaging::Multipart,
            &amendment("A1").replace("<Action>", "<!DOCTYPE a><Action>"),
        );
        check(
            Some(&m.content_type),
            &m.body,
            Want::Errors(&[(ErrorCode::SecurityFailure, "cid:payload.")]),
        );
        let big = vec![b' '; 2000];
        let limits = Limits {
            max_body_bytes: 1999,
            ..Limits::default()
        };
        assert_eq!(
            intake_with(None, &big, &limits, decode),
            Err(Rejection::TooLarge {
                size: 2000,
                limit: 1999
            })
        );
    }

    #[test]
    fn faults_for_what_is_not_soap() {
        check(None, b"", Want::Fault("no root element"));
        check(None, b"hello", Want::Fault("not well-formed"));
        check(None, b"<a><b></a>", Want::Fault("not well-formed"));
        check(None, b"<a>", Want::Fault("ends inside an element"));
        check(None, b"<a/><b/>", Want::Fault("more than one root"));
        check(None, b"<Envelope/>", Want::Fault("not a SOAP 1.1 envelope"));
        check(
            None,
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
            Want::Fault("no SOAP:Body"),
        );
        check(
            Some("application/json"),
            b"{}",
            Want::Fault("'application/json' is not accepted"),
        );
        check(
            Some("multipart/related"),
            b"--x\r\n\r\n<a/>",
            Want::Fault("no boundary"),
        );
        check(None, b"<a>\xff</a>", Want::Fault("not valid UTF-8"));
        let t = inline_text(&amendment("A1"));
        check(
            None,
            t.replace("<eb:CPAId>", "<eb:CPAId>&unknown;").as_bytes(),
            Want::Fault("not well-formed"),
        );
    }

    #[test]
    fn header_errors_each_with_its_xpath() {
        let t = inline_text(&amendment("A1"));
        let cut = |from: &str, to: &str| {
            let a = t.find(from).unwrap();
            let b = t.find(to).unwrap() + to.len();
            format!("{}{}", &t[..a], &t[b..])
        };
        let missing = cut("<eb:CPAId>", "</eb:CPAId>");
        let missing = missing.replace(
            &missing[missing.find("<eb:MessageId>").unwrap()
                ..missing.find("</eb:MessageId>").unwrap() + 15],
            "",
        );
        check(
            None,
            missing.as_bytes(),
            Want::Errors(&[
                (ErrorCode::OtherXml, &format!("{H}/eb:CPAId")),
                (
                    ErrorCode::OtherXml,
                    &format!("{H}/eb:MessageData/eb:MessageId"),
                ),
            ]),
        );
        check(
            None,
            cut("<eb:From>", "</eb:From>").as_bytes(),
            Want::Errors(&[(ErrorCode::OtherXml, &format!("{H}/eb:From"))]),
        );
        // the error reply can still refer to the message when its MessageId is there
        let header_of =
            |body: &str| match intake_with(None, body.as_bytes(), &Limits::default(), decode) {
                Err(Rejection::Errors { header, .. }) => header.map(|h| *h),
                other => panic!("{other:#?}"),
            };
        let partial = header_of(&cut("<eb:CPAId>", "</eb:CPAId>")).unwrap();
        assert_eq!(
            (
                partial.cpa_id.as_str(),
                partial.from.id.as_str(),
                partial.message_id.as_str()
            ),
            ("unknown", "NSW", header("X").message_id.as_str())
        );
        let no_from = header_of(&cut("<eb:From>", "</eb:From>")).unwrap();
        assert_eq!(
            (no_from.from.id.as_str(), no_from.message_id.as_str()),
            ("unknown", header("X").message_id.as_str())
        );
        let no_id = cut("<eb:MessageId>", "</eb:MessageId>");
        assert!(header_of(&no_id).is_none());
        // only replies refer to an earlier message, on either path
        let referring = t.replace(
            "</eb:Timestamp>",
            "</eb:Timestamp><eb:RefToMessageId>earlier@nsw</eb:RefToMessageId>",
        );
        check(
            None,
            referring.as_bytes(),
            Want::Errors(&[(
                ErrorCode::Inconsistent,
                &format!("{H}/eb:MessageData/eb:RefToMessageId"),
            )]),
        );
        assert!(matches!(
            intake(None, referring.as_bytes(), &Limits::default()),
            Err(Rejection::Errors { .. })
        ));
        assert_eq!(
            header_of(&t.replace(">urn:th:tisi:nsw:permit<", ">urn:other<")),
            Some(MessageHeader {
                service: Service::new("urn:other"),
                ..header("DeclarationAmendment")
            })
        );
        check(
            None,
            t.replace("<eb:ConversationId>conv-42<", "<eb:ConversationId> <")
                .as_bytes(),
            Want::Errors(&[(ErrorCode::OtherXml, &format!("{H}/eb:ConversationId"))]),
        );
        check(
            None,
            t.replace("2026-11-26T08:00:00+07:00", "2026-11-26T08:00:00")
                .as_bytes(),
            Want::Errors(&[(
                ErrorCode::OtherXml,
                &format!("{H}/eb:MessageData/eb:Timestamp"),
            )]),
        );
        check(
            None,
            t.replace(
                "<eb:TimeToLive>2026-11-27T08:00:00Z",
                "<eb:TimeToLive>tomorrow",
            )
            .as_bytes(),
            Want::Errors(&[(
                ErrorCode::OtherXml,
                &format!("{H}/eb:MessageData/eb:TimeToLive"),
            )]),
        );
        check(
            None,
            t.replace(
                "SOAP:mustUnderstand=\"1\" eb:version=\"2.0\">",
                "SOAP:mustUnderstand=\"0\" eb:version=\"3.0\">",
            )
            .as_bytes(),
            Want::Errors(&[
                (ErrorCode::OtherXml, &format!("{H}/@SOAP:mustUnderstand")),
                (ErrorCode::NotSupported, &format!("{H}/@eb:version")),
            ]),
        );
        check(
            None,
            t.replace(">urn:th:tisi:nsw:permit<", ">urn:other<")
                .as_bytes(),
            Want::Errors(&[(ErrorCode::ValueNotRecognized, &format!("{H}/eb:Service"))]),
        );
        check(
            None,
            t.replace("<eb:Action>DeclarationAmendment<", "<eb:Action>Launch<")
                .as_bytes(),
            Want::Errors(&[(ErrorCode::ValueNotRecognized, &format!("{H}/eb:Action"))]),
        );
        check(
            None,
            t.replace(
                "<eb:Action>DeclarationAmendment<",
                "<eb:Action>DeclarationCheck<",
            )
            .as_bytes(),
            Want::Errors(&[(ErrorCode::Inconsistent, "/DeclarationAmendment")]),
        );
        // errors are collected: header and payload together
        let both = t
            .replace(">urn:th:tisi:nsw:permit<", ">urn:other<")
            .replace("<DeclarationNumber>A1</DeclarationNumber>", "");
        check(
            None,
            both.as_bytes(),
            Want::Errors(&[
                (ErrorCode::ValueNotRecognized, &format!("{H}/eb:Service")),
                (ErrorCode::OtherXml, "/DeclarationAmendment"),
            ]),
        );
        // payload problems
        let two = t.replace("</SOAP:Body>", "<Other/></SOAP:Body>");
        check(
            None,
            two.as_bytes(),
            Want::Errors(&[(ErrorCode::Inconsistent, "/SOAP:Envelope/SOAP:Body")]),
        );
        let none = cut("<DeclarationAmendment ", "</DeclarationAmendment>");
        check(
            None,
            none.as_bytes(),
            Want::Errors(&[(ErrorCode::Inconsistent, "/SOAP:Envelope/SOAP:Body")]),
        );
        let m = request(Packaging::Multipart, &amendment("A1"));
        let mt = String::from_utf8(m.body.clone()).unwrap();
        // a payload part and a second payload in the body
        check(
            Some(&m.content_type),
            mt.replace("</SOAP:Body>", "<Other/></SOAP:Body>")
                .as_bytes(),
            Want::Errors(&[(ErrorCode::Inconsistent, "/SOAP:Envelope/SOAP:Body")]),
        );
        check(
            Some(&m.content_type),
            mt.replace("cid:payload.", "cid:nothing.").as_bytes(),
            Want::Errors(&[(
                ErrorCode::ValueNotRecognized,
                "/SOAP:Envelope/SOAP:Body/eb:Manifest",
            )]),
        );
        check(
            Some(&m.content_type),
            mt.replace("cid:payload.", "http://x/payload.").as_bytes(),
            Want::Errors(&[(
                ErrorCode::NotSupported,
                "/SOAP:Envelope/SOAP:Body/eb:Manifest",
            )]),
        );
        check(
            Some(&m.content_type),
            mt.replace(
                "charset=UTF-8\r\nContent-ID: <payload",
                "charset=KOI8-R\r\nContent-ID: <payload",
            )
            .replace("encoding=\"UTF-8\"?>\n<Decl", "?>\n<Decl")
            .as_bytes(),
            Want::Errors(&[(ErrorCode::NotSupported, "cid:payload.")]),
        );
    }

    #[test]
    fn ping_and_acknowledgment() {
        let mut h = header("Ping");
        h.service = Service::new(SERVICE_EBMS);
        let b = build_ping(&h, true);
        let i = intake_with(Some(&b.content_type), &b.body, &Limits::default(), decode).unwrap();
        assert_eq!(
            (i.body, i.sync_reply, i.payload_xml),
            (InboundBody::Ping, true, None)
        );
        h.service = Service::new(SERVICE_PERMIT);
        let b = build_ping(&h, false);
        check(
            Some(&b.content_type),
            &b.body,
            Want::Errors(&[(ErrorCode::ValueNotRecognized, &format!("{H}/eb:Service"))]),
        );

        let req = header("DeclarationAmendment");
        let ack = crate::wire::reply::build_ack_only(
            &req,
            AckActor::ToPartyMsh,
            "a@tisi".into(),
            ts("2026-11-26T01:00:00Z").to_utc(),
        );
        let i = intake_with(
            Some(&ack.content_type),
            &ack.body,
            &Limits::default(),
            decode,
        )
        .unwrap();
        assert_eq!(
            i.body,
            InboundBody::Acknowledgment {
                ref_to_message_id: req.message_id.clone()
            }
        );

        // A partner's error message about a message the gateway sent is taken in as such.
        let reported = vec![EbmsError::new(
            ErrorCode::ValueNotRecognized,
            "/ImportPermitResponse/Decision",
            "the decision is not one we know",
        )];
        let error = crate::wire::reply::build_error_list(
            Some(&req),
            &reported,
            "e@nsw".into(),
            ts("2026-11-26T01:00:00Z").to_utc(),
            "NSW",
        );
        let i = intake_with(
            Some(&error.content_type),
            &error.body,
            &Limits::default(),
            decode,
        )
        .unwrap();
        assert_eq!(
            i.body,
            InboundBody::MessageError {
                ref_to_message_id: Some(req.message_id.clone()),
                errors: reported,
            }
        );
        // Without its eb:ErrorList it is refused.
        let no_list = String::from_utf8(ack.body.clone())
            .unwrap()
            .replace(">Acknowledgment</eb:Action>", ">MessageError</eb:Action>");
        check(
            Some(&ack.content_type),
            no_list.as_bytes(),
            Want::Errors(&[(
                ErrorCode::OtherXml,
                "/SOAP:Envelope/SOAP:Header/eb:ErrorList",
            )]),
        );
    }

    #[test]
    fn thai_encodings_decode_to_the_same_value() {
        let thai = "ใบขน-ไทย/2569";
        for packaging in [Packaging::Inline, Packaging::Multipart] {
            let utf8 = build_request_xml(
                &header("DeclarationAmendment"),
                &amendment(thai),
                packaging,
                RequestOptions::default(),
            );
            let tis = build_request_xml(
                &header("DeclarationAmendment"),
                &amendment(thai),
                packaging,
                RequestOptions {
                    tis620: true,
                    ..RequestOptions::default()
                },
            );
            assert_ne!(utf8.body, tis.body);
            let a = intake_with(
                Some(&utf8.content_type),
                &utf8.body,
                &Limits::default(),
                decode,
            )
            .unwrap();
            let b = intake_with(
                Some(&tis.content_type),
                &tis.body,
                &Limits::default(),
                decode,
            )
            .unwrap();
            assert_eq!(
                a.body,
                InboundDocument::DeclarationAmendment(DeclarationAmendment {
                    declaration_number: thai.into(),
                    action: AmendmentAction::Cancel
                })
                .into_body()
            );
            assert_eq!(a.body, b.body, "{packaging:?}");
            assert!(b.payload_xml.unwrap().contains(thai));
        }
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        fn seeds() -> Vec<(String, Vec<u8>)> {
            let mut v = Vec::new();
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                for tis620 in [false, true] {
                    let b = build_request_xml(
                        &header("DeclarationAmendment"),
                        &amendment("ใบขน-1"),
                        packaging,
                        RequestOptions {
                            ack_requested: true,
                            sync_reply: true,
                            tis620,
                        },
                    );
                    v.push((b.content_type, b.body));
                }
            }
            v
        }

        #[derive(Debug, Clone)]
        enum Mutation {
            Flip(usize, u8),
            Delete(usize, usize),
            Insert(usize, Vec<u8>),
            Truncate(usize),
            Duplicate(usize, usize),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            let snippets = prop::sample::select(vec![
                b"<".to_vec(),
                b">".to_vec(),
                b"</".to_vec(),
                b"&".to_vec(),
                b"&amp;".to_vec(),
                b"<!DOCTYPE a>".to_vec(),
                b"<?pi?>".to_vec(),
                b"\r\n".to_vec(),
                b"--".to_vec(),
                b"\"".to_vec(),
                b"xmlns:eb=\"x\"".to_vec(),
                b"<![CDATA[".to_vec(),
                b"\xff\xfe".to_vec(),
                b"\xe0\xb8".to_vec(),
                b"cid:".to_vec(),
                b"Content-Transfer-Encoding: base64\r\n".to_vec(),
            ]);
            prop_oneof![
                (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
                (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
                (any::<usize>(), snippets).prop_map(|(i, s)| Mutation::Insert(i, s)),
                any::<usize>().prop_map(Mutation::Truncate),
                (any::<usize>(), 0usize..200).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
            ]
        }

        fn apply(body: &mut Vec<u8>, m: &Mutation) {
            let len = body.len().max(1);
            match m {
                Mutation::Flip(i, b) => {
                    if !body.is_empty() {
                        body[i % len] = *b;
                    }
                }
                Mutation::Delete(i, n) => {
                    let a = (i % len).min(body.len());
                    let b = (a + n).min(body.len());
                    body.drain(a..b);
                }
                Mutation::Insert(i, s) => {
                    let a = (i % len).min(body.len());
                    body.splice(a..a, s.iter().copied());
                }
                Mutation::Truncate(i) => body.truncate(i % len),
                Mutation::Duplicate(i, n) => {
                    let a = (i % len).min(body.len());
                    let b = (a + n).min(body.len());
                    let copy = body[a..b].to_vec();
                    body.splice(b..b, copy);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..600), ct in prop::option::of("[ -~]{0,80}")) {
                let _ = intake_with(ct.as_deref(), &body, &Limits::default(), decode);
                let _ = intake_with(Some("multipart/related; boundary=x"), &body, &Limits::default(), decode);
            }

            #[test]
            fn on_mutated_messages(seed in 0usize..4, ms in prop::collection::vec(mutation(), 1..6), ct_cut in any::<usize>()) {
                let (ct, mut body) = seeds().swap_remove(seed);
                for m in &ms {
                    apply(&mut body, m);
                }
                let _ = intake_with(Some(&ct), &body, &Limits::default(), decode);
                let cut = ct_cut % (ct.len() + 1);
                let _ = intake_with(ct.get(..cut), &body, &Limits::default(), decode);
                let _ = crate::wire::reply::parse_reply_with(Some(&ct), &body, decode);
            }
        }
    }

    mod with_the_codec {
        use super::*;
        use crate::wire::payload::{decode_inbound, encode_inbound};
        use crate::wire::reply::build_request;

        const EXAMPLE: &str = include_str!("../../schemas/examples/valid-ImportPermitRequest.xml");

        fn example() -> InboundDocument {
            decode_inbound(EXAMPLE).expect("the example request decodes")
        }

        fn opts(tis620: bool) -> RequestOptions {
            RequestOptions {
                ack_requested: false,
                sync_reply: true,
                tis620,
            }
        }

        #[test]
        fn a_request_in_either_packaging_and_encoding_decodes_to_the_same_value() {
            let want = example();
            let h = header("ImportPermitRequest");
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                for tis620 in [false, true] {
                    let b = build_request(&h, &want, packaging, opts(tis620));
                    let i = intake(Some(&b.content_type), &b.body, &Limits::default())
                        .unwrap_or_else(|e| panic!("{packaging:?} tis620={tis620}: {e:#?}"));
                    assert_eq!(
                        i.body,
                        InboundBody::Document(want.clone()),
                        "{packaging:?} tis620={tis620}"
                    );
                    assert_eq!(i.packaging, packaging);
                    let stored = i.payload_xml.unwrap();
                    assert!(stored.contains("บริษัท สยามอิเล็กทรอนิกส์ จำกัด"), "{stored}");
                    assert_eq!(
                        decode_inbound(&stored),
                        Ok(want.clone()),
                        "the stored payload decodes alone"
                    );
                }
            }
            // The example file itself, as a TIS-620 payload part written by another stack.
            let b = build_request(&h, &want, Packaging::Multipart, opts(false));
            let text = String::from_utf8(b.body).unwrap();
            let start = text
                .find("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ImportPermitRequest")
                .unwrap();
            let end = text[start..].find("\r\n--").unwrap() + start;
            let thai = EXAMPLE.replace("encoding=\"UTF-8\"", "encoding=\"windows-874\"");
            let mut body = text[..start]
                .replace("application/xml; charset=UTF-8", "text/xml")
                .into_bytes();
            body.extend(crate::wire::encoding::encode_thai(&thai));
            body.extend(&text.as_bytes()[end..]);
            let i = intake(Some(&b.content_type), &body, &Limits::default()).unwrap();
            assert_eq!(i.body, InboundBody::Document(want));
        }

        #[test]
        fn payload_errors_come_through_with_the_header() {
            let h = header("ImportPermitRequest");
            let xml = encode_inbound(&example())
                .replace("<HSCode>85044090</HSCode>", "<HSCode>8504409</HSCode>");
            let b = crate::wire::reply::build_request_xml(&h, &xml, Packaging::Inline, opts(false));
            match intake(Some(&b.content_type), &b.body, &Limits::default()) {
                Err(Rejection::Errors {
                    header: Some(got),
                    errors,
                    ..
                }) => {
                    assert_eq!(*got, h);
                    assert!(
                        errors.iter().any(|e| e.location.contains("HSCode")),
                        "{errors:#?}"
                    );
                }
                other => panic!("{other:#?}"),
            }
            let v2 = encode_inbound(&example())
                .replace("urn:th:tisi:nsw:permit:1_00", "urn:th:tisi:nsw:permit:9_99");
            let b =
                crate::wire::reply::build_request_xml(&h, &v2, Packaging::Multipart, opts(false));
            match intake(Some(&b.content_type), &b.body, &Limits::default()) {
                Err(Rejection::Errors { errors, .. }) => {
                    assert!(
                        errors
                            .iter()
                            .any(|e| e.code == ErrorCode::NotSupported
                                && e.description.contains("1_00")),
                        "{errors:#?}"
                    )
                }
                other => panic!("{other:#?}"),
            }
        }

        #[test]
        fn a_thousand_goods_items_are_refused() {
            let InboundDocument::ImportPermitRequest(mut r) = example() else {
                unreachable!()
            };
            let item = r.items[0].clone();
            r.items = (1..=1000u16)
                .map(|n| crate::domain::documents::GoodsItem {
                    item_number: n,
                    ..item.clone()
                })
                .collect();
            let doc = InboundDocument::ImportPermitRequest(r);
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                let b = build_request(&header("ImportPermitRequest"), &doc, packaging, opts(false));
                match intake(Some(&b.content_type), &b.body, &Limits::default()) {
                    Err(Rejection::Errors { errors, .. }) => {
                        assert_eq!(errors.len(), 1, "{errors:#?}");
                        assert_eq!(errors[0].code, ErrorCode::OtherXml);
                        assert!(
                            errors[0]
                                .location
                                .ends_with("ImportPermitRequest/GoodsItem[1000]"),
                            "{errors:#?}"
                        );
                    }
                    other => panic!("{other:#?}"),
                }
            }
        }

        #[test]
        fn replies_carry_documents_both_ways() {
            use crate::domain::documents::{
                AmendmentResult, DeclarationAmendmentResponse, OutboundDocument,
            };
            use crate::wire::envelope::SERVICE_PERMIT;
            use crate::wire::reply::{build_business, parse_reply, reply_header};
            let req = header("DeclarationAmendment");
            let doc =
                OutboundDocument::DeclarationAmendmentResponse(DeclarationAmendmentResponse {
                    declaration_number: "A0011691200001".into(),
                    result: AmendmentResult::Restored,
                });
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                let h = reply_header(
                    &req,
                    "DeclarationAmendmentResponse",
                    SERVICE_PERMIT,
                    "r@tisi".into(),
                    ts("2026-11-26T01:00:00Z").to_utc(),
                );
                let b = build_business(&h, Some((&req, AckActor::ToPartyMsh)), &doc, packaging);
                let r = parse_reply(Some(&b.content_type), &b.body).unwrap();
                assert_eq!(r.payload, Some(doc.clone()));
                assert_eq!(r.header, h);
                assert_eq!(r.acknowledgment.unwrap().ref_to_message_id, req.message_id);
            }
        }

        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
            #[test]
            fn never_panics_on_mutated_requests(inline in proptest::bool::ANY, pos in proptest::prelude::any::<usize>(), len in 0usize..40, byte in proptest::prelude::any::<u8>()) {
                let packaging = if inline { Packaging::Inline } else { Packaging::Multipart };
                let b = build_request(&header("ImportPermitRequest"), &example(), packaging, opts(false));
                let mut body = b.body.clone();
                let at = pos % body.len();
                let end = (at + len).min(body.len());
                body.drain(at..end);
                body.insert(at.min(body.len()), byte);
                let _ = intake(Some(&b.content_type), &body, &Limits::default());
                let _ = intake(None, &body, &Limits::default());
            }
        }
    }

    impl InboundDocument {
        fn into_body(self) -> InboundBody {
            InboundBody::Document(self)
        }
    }
}

#[cfg(test)]
mod payload_scan_tests {
    use super::*;

    /// The one-pass read of a payload part answers exactly when the scan accepts it, with the
    /// scan's root name; `one_pass` says whether it also recorded the payload.
    fn check(xml: &str, limits: Limits, accepted: bool, recorded: bool) {
        let one_pass = scan_payload_checked(xml, &limits);
        let scanned = scan(xml, &limits);
        assert_eq!(scanned.is_ok(), accepted, "{xml}");
        assert_eq!(one_pass.is_some(), accepted, "{xml}");
        if let (Some((root, embedded)), Ok(s)) = (one_pass, scanned) {
            assert_eq!(root, s.root_local, "{xml}");
            assert_eq!(embedded.is_some(), recorded, "{xml}");
        }
    }

    #[test]
    fn one_pass_payload_read_agrees_with_the_scan() {
        let d = Limits::default();
        let small = Limits {
            max_depth: 2,
            max_items: 1,
            ..d
        };
        let ns = "urn:th:tisi:nsw:permit:1_00";
        let a = format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber>D1</DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>");
        let lines = format!("<DeclarationCheck xmlns=\"{ns}\"><Line/><Line/></DeclarationCheck>");
        for (xml, limits, accepted, recorded) in [
            (a.clone(), d, true, true),
            (
                format!("<?xml version=\"1.0\"?>\n<!-- c -->{a}\n<!-- d -->\n"),
                d,
                true,
                true,
            ),
            (
                format!("<!-- c --><?xml version=\"1.0\"?>{a}"),
                d,
                false,
                false,
            ),
            (format!("<!DOCTYPE x>{a}"), d, false, false),
            (format!("{a}<?pi?>"), d, false, false),
            (a.replace("<Action>", "<Action><?pi?>"), d, false, false),
            (format!("{a}{a}"), d, false, false),
            (format!("{a}x"), d, false, false),
            (format!("{a}<![CDATA[x]]>"), d, true, false),
            (a.clone(), small, true, true),
            (a.replace("D1", "<x><y/></x>"), small, false, false),
            (lines.clone(), d, true, true),
            (lines, small, false, false),
            (a.replace("1_00", "1_07"), d, true, false),
            (a.replace("</DeclarationAmendment>", ""), d, false, false),
            (String::new(), d, false, false),
            ("  ".to_owned(), d, false, false),
            (
                format!("<DeclarationAmendment xmlns=\"{ns}\"/>"),
                d,
                true,
                true,
            ),
        ] {
            check(&xml, limits, accepted, recorded);
        }
    }
}

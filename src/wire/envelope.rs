//! The ebMS 2.0 envelope (spec §1.1): SOAP 1.1 `Envelope` with `eb:MessageHeader`,
//! `eb:AckRequested`, `eb:SyncReply`, `eb:Acknowledgment`, `eb:ErrorList` in the header and
//! `eb:Manifest` (plus the inline payload, packaging B) in the body.
//!
//! Reading is namespace-aware: elements are recognised by namespace URI and local name, never
//! by prefix. Elements and attributes from other namespaces are skipped wherever the ebMS
//! schema allows extensions. Attributes the OASIS schema declares qualified (`eb:type`,
//! `eb:version`, `eb:errorCode`, …) are also accepted unqualified, as several stacks send them.
//!
//! Writing is strict: what [`write_envelope`] produces validates against the OASIS schemas.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::NsReader;

use super::error::{EbmsError, ErrorCode, Severity};
use super::intake::Limits;
use super::payload::{walk_embedded, Embedded};

pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_EB: &str = "http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd";
pub const NS_XLINK: &str = "http://www.w3.org/1999/xlink";
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The service of business messages.
pub const SERVICE_PERMIT: &str = "urn:th:tisi:nsw:permit";
/// The ebMS service (Ping/Pong, Acknowledgment, MessageError).
pub const SERVICE_EBMS: &str = "urn:oasis:names:tc:ebxml-msg:service";
/// `SOAP:actor` of `eb:SyncReply` (SOAP "next").
pub const ACTOR_NEXT: &str = "http://schemas.xmlsoap.org/soap/actor/next";
/// `SOAP:actor` of `eb:AckRequested` / `eb:Acknowledgment` for the receiving party's MSH.
pub const ACTOR_TO_PARTY: &str = "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH";
/// `SOAP:actor` of `eb:AckRequested` / `eb:Acknowledgment` for the next MSH on the path.
pub const ACTOR_NEXT_MSH: &str = "urn:oasis:names:tc:ebxml-msg:actor:nextMSH";

/// Whom an `eb:AckRequested` asks an acknowledgment of: the `SOAP:actor` it names, which the
/// `eb:Acknowledgment` that answers it names too (ebMS 2.0). Without one, the receiving
/// party's MSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckActor {
    #[default]
    ToPartyMsh,
    NextMsh,
}

impl AckActor {
    /// The actor of an `actor` attribute: nextMSH, or else the receiving party's MSH.
    pub fn of(actor: Option<&str>) -> AckActor {
        match actor.map(str::trim) {
            Some(ACTOR_NEXT_MSH) => AckActor::NextMsh,
            _ => AckActor::ToPartyMsh,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            AckActor::ToPartyMsh => ACTOR_TO_PARTY,
            AckActor::NextMsh => ACTOR_NEXT_MSH,
        }
    }
}

/// XPath of the message header, used in error locations.
pub const XPATH_HEADER: &str = "/SOAP:Envelope/SOAP:Header/eb:MessageHeader";

/// A party: `eb:PartyId` with its optional `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyId {
    pub id: String,
    pub kind: Option<String>,
}

impl PartyId {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: None,
        }
    }
}

/// `eb:Service` with its optional `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub value: String,
    pub kind: Option<String>,
}

impl Service {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            kind: None,
        }
    }
}

/// The `eb:PartyId`s of `eb:From` and of `eb:To` after the first (which the header holds):
/// ebMS 2.0 lets a party name itself several ways, all of them the same party. Empty in the
/// usual case of one PartyId each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    pub from: Vec<PartyId>,
    pub to: Vec<PartyId>,
}

/// `eb:MessageHeader`, with the first `PartyId` of `From` and of `To` (see [`Aliases`] for
/// the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    pub from: PartyId,
    pub to: PartyId,
    pub cpa_id: String,
    pub conversation_id: String,
    pub service: Service,
    pub action: String,
    pub message_id: String,
    pub timestamp: DateTime<FixedOffset>,
    pub ref_to_message_id: Option<String>,
    pub time_to_live: Option<DateTime<FixedOffset>>,
    pub duplicate_elimination: bool,
}

/// `eb:AckRequested`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRequested {
    pub signed: bool,
    pub actor: AckActor,
}

/// `eb:Acknowledgment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgment {
    pub timestamp: DateTime<FixedOffset>,
    pub ref_to_message_id: String,
    pub from: Option<PartyId>,
    pub actor: AckActor,
}

/// `eb:ErrorList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorList {
    pub highest_severity: Severity,
    pub errors: Vec<EbmsError>,
}

/// `eb:Manifest`: the `xlink:href` of each `eb:Reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub references: Vec<String>,
}

/// The first element of the SOAP Body that is not an ebMS element (packaging B payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPayload {
    pub namespace: Option<String>,
    pub local_name: String,
    /// The element as a standalone document: namespace declarations in scope from the
    /// envelope are copied onto it.
    pub xml: String,
}

/// A parsed SOAP envelope. `header_errors` lists what is wrong with the ebMS header blocks
/// (missing or bad elements), each with its XPath; `header` is `Some` only when every required
/// element could be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub header: Option<MessageHeader>,
    /// When `header` is `None` but its MessageId could be read: the header with `unknown` in
    /// place of what could not (enough for an error reply that refers to the message).
    pub partial_header: Option<MessageHeader>,
    pub aliases: Aliases,
    pub header_errors: Vec<EbmsError>,
    pub ack_requested: Option<AckRequested>,
    pub sync_reply: bool,
    pub acknowledgment: Option<Acknowledgment>,
    pub error_list: Option<ErrorList>,
    pub manifest: Option<Manifest>,
    /// `SOAP:Fault/faultstring`, when the body is a fault.
    pub fault: Option<String>,
    pub payload: Option<BodyPayload>,
    /// How many non-ebMS elements the body holds (more than one payload is an error).
    pub payload_count: usize,
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    None,
    Soap,
    Eb,
    Xlink,
    Xml,
    Other,
}

fn ns_of(r: &ResolveResult) -> Ns {
    match r {
        ResolveResult::Bound(n) => ns_of_uri(n.as_ref()),
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

/// Which of the envelope's namespaces `uri` (as written in its declaration) is.
pub(super) fn ns_of_uri(uri: &[u8]) -> Ns {
    match uri {
        b"http://schemas.xmlsoap.org/soap/envelope/" => Ns::Soap,
        b"http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd" => Ns::Eb,
        b"http://www.w3.org/1999/xlink" => Ns::Xlink,
        b"http://www.w3.org/XML/1998/namespace" => Ns::Xml,
        _ => Ns::Other,
    }
}

/// An element of the envelope outside the payload; names, values and text borrow from the
/// input where they can.
#[derive(Debug, Default)]
pub(super) struct Node<'x> {
    pub ns: Option<Ns>,
    pub local: Cow<'x, str>,
    pub attrs: Vec<(Ns, Cow<'x, str>, Cow<'x, str>)>,
    pub children: Vec<Node<'x>>,
    pub text: Cow<'x, str>,
}

/// `part` as text borrowed from `xml` when it is a slice of it, else decoded into a copy.
pub(super) fn in_input<'x>(xml: &'x str, part: &[u8]) -> Cow<'x, str> {
    let base = xml.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= base && at + part.len() <= base + xml.len() {
        if let Some(s) = xml.get(at - base..at - base + part.len()) {
            return Cow::Borrowed(s);
        }
    }
    Cow::Owned(String::from_utf8_lossy(part).into_owned())
}

/// `v` with the input's lifetime: borrowed from `xml` when it is a slice of it.
pub(super) fn keep<'x>(xml: &'x str, v: Cow<'_, str>) -> Cow<'x, str> {
    match v {
        Cow::Borrowed(b) => in_input(xml, b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

impl<'x> Node<'x> {
    fn child(&self, local: &str) -> Option<&Node<'x>> {
        self.children
            .iter()
            .find(|c| c.ns == Some(Ns::Eb) && c.local == local)
    }
    fn children<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Node<'x>> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == Some(Ns::Eb) && c.local == local)
    }
    /// An attribute in namespace `ns`; for `Ns::Eb`, an unqualified one is accepted too.
    fn attr(&self, ns: Ns, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, l, _)| *n == ns && l == local)
            .or_else(|| {
                (ns == Ns::Eb || ns == Ns::Xlink)
                    .then(|| {
                        self.attrs
                            .iter()
                            .find(|(n, l, _)| *n == Ns::None && l == local)
                    })
                    .flatten()
            })
            .map(|(_, _, v)| v.as_ref())
    }
    fn text(&self) -> &str {
        self.text.trim()
    }
}

fn xml_err(e: impl std::fmt::Display) -> String {
    format!("the message is not well-formed XML: {e}")
}

fn read_start<'x>(
    xml: &'x str,
    reader: &NsReader<&[u8]>,
    e: &BytesStart,
) -> Result<Node<'x>, String> {
    let (r, local) = reader.resolve_element(e.name());
    let ns = ns_of(&r);
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(xml_err)?;
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        let (r, l) = reader.resolve_attribute(a.key);
        let v = a.unescape_value().map_err(xml_err)?;
        attrs.push((ns_of(&r), in_input(xml, l.as_ref()), keep(xml, v)));
    }
    Ok(Node {
        ns: Some(ns),
        local: in_input(xml, local.as_ref()),
        attrs,
        ..Node::default()
    })
}

/// Namespace declarations of a start tag: (prefix or "" for default, URI as written).
fn ns_decls(e: &BytesStart) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let q = QName(a.key.as_ref());
            q.as_namespace_binding()?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let prefix = key.strip_prefix("xmlns").unwrap_or("");
            let prefix = prefix.strip_prefix(':').unwrap_or(prefix).to_owned();
            Some((prefix, String::from_utf8_lossy(&a.value).into_owned()))
        })
        .collect()
}

/// Reads a SOAP 1.1 envelope. `Err` carries a plain description for a SOAP Fault (not
/// well-formed XML, or not a SOAP 1.1 envelope).
pub fn parse_envelope(xml: &str) -> Result<Envelope, String> {
    parse(xml, None)
        .map(|(env, _)| env)
        .map_err(|stop| match stop {
            Stop::Fault(d) => d,
            // Only a checked read stops for a check.
            Stop::Check => xml_err("the document was refused"),
        })
}

/// Why [`parse`] stopped.
enum Stop {
    /// What [`parse_envelope`] answers.
    Fault(String),
    /// A checked read met something the intake's scan refuses (or that it does not decide on
    /// its own): the caller runs the scan and [`parse_envelope`] one after the other instead.
    Check,
}

impl From<String> for Stop {
    fn from(d: String) -> Self {
        Stop::Fault(d)
    }
}

/// [`parse_envelope`] in the same pass as the intake's scan (DOCTYPE, processing instructions,
/// misplaced XML declaration, nesting depth, number of goods items or lines, one root element):
/// `Some` exactly when the scan accepts `xml` and [`parse_envelope`] reads it, with the same
/// envelope. `None` tells the caller to run the two one after the other, which then say what
/// is wrong.
///
/// With it, when the body's payload element is a structurally clean inbound document cut out
/// unchanged, what the payload decoder needs to decode it without reading it again.
pub(crate) fn parse_envelope_checked(
    xml: &str,
    limits: &Limits,
) -> Option<(Envelope, Option<Embedded>)> {
    parse(xml, Some(limits)).ok()
}

/// The scan's checks, event by event (see [`crate::wire::intake::scan`]).
pub(crate) struct Checks<'l> {
    limits: &'l Limits,
    /// Only blank text seen so far (an XML declaration may come now).
    first: bool,
    items: usize,
    roots: usize,
}

impl<'l> Checks<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        Checks {
            limits,
            first: true,
            items: 0,
            roots: 0,
        }
    }

    /// Whether the scan lets event `ev`, read with `depth` elements open before it, pass.
    pub(crate) fn pass(&mut self, ev: &Event<'_>, depth: usize) -> bool {
        self.event(ev, depth).is_ok()
    }

    /// Checks one event read with `depth` elements open before it.
    fn event(&mut self, ev: &Event<'_>, depth: usize) -> Result<(), Stop> {
        let was_first = self.first;
        if self.first {
            self.first = matches!(ev, Event::Text(t) if t.iter().all(u8::is_ascii_whitespace));
        }
        match ev {
            Event::DocType(_) | Event::PI(_) => Err(Stop::Check),
            Event::Decl(_) if !was_first => Err(Stop::Check),
            Event::Start(e) | Event::Empty(e) => {
                if depth == 0 {
                    self.roots += 1;
                    if self.roots > 1 {
                        return Err(Stop::Check);
                    }
                }
                if self.limits.too_deep(depth) {
                    return Err(Stop::Check);
                }
                if is_item(e.name().as_ref()) {
                    self.items += 1;
                    if self.items > self.limits.max_items {
                        return Err(Stop::Check);
                    }
                }
                Ok(())
            }
            Event::Text(t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                Err(Stop::Check)
            }
            _ => Ok(()),
        }
    }
}

/// Whether the qualified name `q` has the local name `GoodsItem` or `Line` (what follows its
/// first colon, as quick-xml's `local_name` has it).
fn is_item(q: &[u8]) -> bool {
    let local = match q.iter().position(|c| *c == b':') {
        Some(i) => q.get(i + 1..).unwrap_or_default(),
        None => q,
    };
    local == b"GoodsItem" || local == b"Line"
}

fn parse(xml: &str, limits: Option<&Limits>) -> Result<(Envelope, Option<Embedded>), Stop> {
    let mut reader = NsReader::from_reader(xml.as_bytes());
    reader.config_mut().check_end_names = true;
    let mut checks = limits.map(Checks::new);
    // A checked read hands every problem to the scan.
    let err = |e: quick_xml::Error, checked: bool| {
        if checked {
            Stop::Check
        } else {
            Stop::Fault(xml_err(e))
        }
    };
    let checked = checks.is_some();
    let mut stack: Vec<Node> = Vec::new();
    let mut scope: Vec<(String, String)> = Vec::new(); // decls on Envelope and Body
    let mut root: Option<Node> = None;
    let mut env = Envelope::default();
    // A payload element was walked by the checked read.
    let mut walked = false;
    let mut embedded = None;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| err(e, checked))?;
        if let Some(c) = checks.as_mut() {
            c.event(&ev, stack.len())?;
            if walked && matches!(ev, Event::Start(_) | Event::Empty(_)) {
                // `read_to_end` leaves the payload's namespace scope in force for what follows,
                // the walk does not: let the unchecked read decide.
                return Err(Stop::Check);
            }
        }
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let depth = stack.len();
                let in_body =
                    depth == 2 && stack[1].ns == Some(Ns::Soap) && stack[1].local == "Body";
                let node = read_start(xml, &reader, e)?;
                if depth == 0 {
                    if root.is_some() {
                        return Err(xml_err("more than one root element").into());
                    }
                    if node.ns != Some(Ns::Soap) || node.local != "Envelope" {
                        return Err(Stop::Fault(format!(
                            "the message is not a SOAP 1.1 envelope: its root element is '{}' (expected Envelope in namespace {NS_SOAP})",
                            node.local
                        )));
                    }
                }
                if depth <= 1 {
                    scope.extend(ns_decls(e));
                }
                if in_body
                    && node.ns != Some(Ns::Eb)
                    && !(node.ns == Some(Ns::Soap) && node.local == "Fault")
                {
                    // A payload element: keep its text span, do not build it.
                    env.payload_count += 1;
                    let start = before + xml.get(before..).and_then(|t| t.find('<')).unwrap_or(0);
                    let end = if let (Some(c), true) = (checks.as_mut(), env.payload.is_none()) {
                        // The first payload: walk it with the payload's structure pass too.
                        embedded = walk_embedded(&mut reader, xml, e, empty, start, |ev, open| {
                            c.event(ev, depth + open).is_ok()
                        })
                        .map_err(|()| Stop::Check)?;
                        walked = !empty;
                        reader.buffer_position() as usize
                    } else if empty {
                        reader.buffer_position() as usize
                    } else if let Some(c) = checks.as_mut() {
                        // Walk the payload, checking each event, to its end tag.
                        let mut open = 1usize;
                        while open > 0 {
                            let ev = reader.read_event().map_err(|_| Stop::Check)?;
                            c.event(&ev, depth + open)?;
                            match ev {
                                Event::Start(_) => open += 1,
                                Event::End(_) => open -= 1,
                                Event::Eof => return Err(Stop::Check),
                                _ => {}
                            }
                        }
                        walked = true;
                        reader.buffer_position() as usize
                    } else {
                        reader.read_to_end(e.name()).map_err(xml_err)?;
                        reader.buffer_position() as usize
                    };
                    if env.payload.is_none() {
                        let own = ns_decls(e);
                        // After the payload's end tag the reader is still in its scope (both
                        // after `read_to_end` and after the checked walk).
                        let namespace = match reader.resolve_element(e.name()).0 {
                            ResolveResult::Bound(n) => {
                                Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                            }
                            _ => None,
                        };
                        let name = e.name();
                        let cut = start + 1 + name.as_ref().len();
                        let text = xml.get(start..end).unwrap_or("");
                        let s = match (xml.get(start..cut), xml.get(cut..end)) {
                            (Some(head), Some(tail))
                                if head.as_bytes().get(1..) == Some(name.as_ref()) =>
                            {
                                let mut s = String::with_capacity(end - start + 200);
                                s.push_str(head);
                                for (p, uri) in scope.iter().rev() {
                                    let used = p.is_empty()
                                        || memchr::memmem::find(
                                            text.as_bytes(),
                                            format!("{p}:").as_bytes(),
                                        )
                                        .is_some();
                                    if !used
                                        || own.iter().any(|(q, _)| q == p)
                                        || s.contains(&decl_attr(p, ""))
                                    {
                                        continue;
                                    }
                                    s.push_str(&decl_attr(p, ""));
                                    s.push_str(uri);
                                    s.push('"');
                                }
                                s.push_str(tail);
                                s
                            }
                            _ => text.to_owned(),
                        };
                        if s.len() != text.len() {
                            // Declarations were added: the payload alone is not the text read.
                            embedded = None;
                        }
                        env.payload = Some(BodyPayload {
                            namespace,
                            local_name: node.local.into_owned(),
                            xml: s,
                        });
                    }
                    continue;
                }
                if empty {
                    attach(&mut stack, &mut root, node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| xml_err("unexpected end tag"))?;
                attach(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let t = t.unescape().map_err(xml_err)?;
                    if top.text.is_empty() {
                        top.text = keep(xml, t);
                    } else {
                        top.text.to_mut().push_str(&t);
                    }
                } else if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(xml_err("text outside the root element").into());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.to_mut().push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_err("the document ends inside an element").into());
    }
    let root = root.ok_or_else(|| xml_err("no root element"))?;
    read_envelope(&root, &mut env)?;
    Ok((env, embedded))
}

/// ` xmlns:p="` (or ` xmlns="` for the default namespace) followed by `rest`.
fn decl_attr(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        format!(" xmlns=\"{rest}")
    } else {
        format!(" xmlns:{prefix}=\"{rest}")
    }
}

pub(super) fn attach<'x>(stack: &mut [Node<'x>], root: &mut Option<Node<'x>>, node: Node<'x>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn soap_child<'a, 'x>(n: &'a Node<'x>, local: &str) -> Option<&'a Node<'x>> {
    n.children
        .iter()
        .find(|c| c.ns == Some(Ns::Soap) && c.local == local)
}

pub(super) fn read_envelope(root: &Node<'_>, env: &mut Envelope) -> Result<(), String> {
    let body =
        soap_child(root, "Body").ok_or_else(|| "the SOAP envelope has no SOAP:Body".to_owned())?;
    if let Some(fault) = soap_child(body, "Fault") {
        let s = fault
            .children
            .iter()
            .find(|c| c.local == "faultstring")
            .map(|c| c.text().to_owned())
            .unwrap_or_default();
        env.fault = Some(s);
    }
    if let Some(m) = body.child("Manifest") {
        env.manifest = Some(Manifest {
            references: m
                .children("Reference")
                .map(|r| r.attr(Ns::Xlink, "href").unwrap_or("").trim().to_owned())
                .collect(),
        });
    }
    let header = soap_child(root, "Header");
    let mut errors = Vec::new();
    match header.and_then(|h| h.child("MessageHeader")) {
        Some(mh) => {
            env.aliases = Aliases {
                from: aliases(mh.child("From")),
                to: aliases(mh.child("To")),
            };
            match read_message_header(mh, &mut errors) {
                Some((h, true)) => env.header = Some(h),
                Some((h, false)) => env.partial_header = Some(h),
                None => {}
            }
        }
        None => errors.push(EbmsError::new(
            ErrorCode::OtherXml,
            "/SOAP:Envelope/SOAP:Header",
            "the SOAP header has no eb:MessageHeader; every ebMS message needs one",
        )),
    }
    if let Some(h) = header {
        if let Some(a) = h.child("AckRequested") {
            env.ack_requested = Some(AckRequested {
                signed: matches!(a.attr(Ns::Eb, "signed").map(str::trim), Some("true" | "1")),
                actor: AckActor::of(a.attr(Ns::Soap, "actor")),
            });
        }
        env.sync_reply = h.child("SyncReply").is_some();
        if let Some(a) = h.child("Acknowledgment") {
            let p = "/SOAP:Envelope/SOAP:Header/eb:Acknowledgment";
            let ts = required(a, "Timestamp", p, &mut errors)
                .and_then(|t| date_time(&t, &format!("{p}/eb:Timestamp"), &mut errors));
            let r = required(a, "RefToMessageId", p, &mut errors);
            if let (Some(timestamp), Some(ref_to_message_id)) = (ts, r) {
                env.acknowledgment = Some(Acknowledgment {
                    timestamp,
                    ref_to_message_id,
                    from: a.child("From").and_then(party),
                    actor: AckActor::of(a.attr(Ns::Soap, "actor")),
                });
            }
        }
        if let Some(l) = h.child("ErrorList") {
            let highest_severity = match l.attr(Ns::Eb, "highestSeverity").map(str::trim) {
                Some(s) if s.eq_ignore_ascii_case("warning") => Severity::Warning,
                _ => Severity::Error,
            };
            let errors = l
                .children("Error")
                .map(|e| {
                    let code = e.attr(Ns::Eb, "errorCode").unwrap_or("").trim();
                    let severity = match e.attr(Ns::Eb, "severity").map(str::trim) {
                        Some(s) if s.eq_ignore_ascii_case("warning") => Severity::Warning,
                        _ => Severity::Error,
                    };
                    EbmsError {
                        code: ErrorCode::parse(code).unwrap_or(ErrorCode::Unknown),
                        severity,
                        location: e.attr(Ns::Eb, "location").unwrap_or("").to_owned(),
                        description: e
                            .child("Description")
                            .map(|d| d.text().to_owned())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            env.error_list = Some(ErrorList {
                highest_severity,
                errors,
            });
        }
    }
    env.header_errors = errors;
    Ok(())
}

fn party(n: &Node<'_>) -> Option<PartyId> {
    party_id(n.child("PartyId")?)
}

fn party_id(p: &Node<'_>) -> Option<PartyId> {
    let id = p.text();
    (!id.is_empty()).then(|| PartyId {
        id: id.to_owned(),
        kind: p
            .attr(Ns::Eb, "type")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
    })
}

/// The readable `eb:PartyId`s of an `eb:From` or `eb:To` after its first.
fn aliases(n: Option<&Node<'_>>) -> Vec<PartyId> {
    n.map(|n| n.children("PartyId").skip(1).filter_map(party_id).collect())
        .unwrap_or_default()
}

fn required(n: &Node<'_>, local: &str, path: &str, errors: &mut Vec<EbmsError>) -> Option<String> {
    match n.child(local) {
        Some(c) if !c.text().is_empty() => Some(c.text().to_owned()),
        Some(_) => {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                format!("{path}/eb:{local}"),
                format!("eb:{local} is empty; it must have a value"),
            ));
            None
        }
        None => {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                format!("{path}/eb:{local}"),
                format!("eb:{local} is missing; it is required"),
            ));
            None
        }
    }
}

fn date_time(s: &str, path: &str, errors: &mut Vec<EbmsError>) -> Option<DateTime<FixedOffset>> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                path,
                format!("'{s}' is not an xs:dateTime with a time zone (e.g. 2026-11-26T08:00:00Z)"),
            ));
            None
        }
    }
}

/// The header and whether it is complete. An incomplete header (`false`) has `unknown` (or
/// the epoch) for what could not be read; it exists only when From, To and MessageId could.
fn read_message_header(
    mh: &Node<'_>,
    errors: &mut Vec<EbmsError>,
) -> Option<(MessageHeader, bool)> {
    let p = XPATH_HEADER;
    let n0 = errors.len();
    match mh.attr(Ns::Soap, "mustUnderstand").map(str::trim) {
        Some("1" | "true") => {}
        other => errors.push(EbmsError::new(
            ErrorCode::OtherXml,
            format!("{p}/@SOAP:mustUnderstand"),
            match other {
                None => "eb:MessageHeader has no SOAP:mustUnderstand attribute; it must be \"1\""
                    .to_owned(),
                Some(v) => {
                    format!("eb:MessageHeader has SOAP:mustUnderstand=\"{v}\"; it must be \"1\"")
                }
            },
        )),
    }
    match mh.attr(Ns::Eb, "version").map(str::trim) {
        Some("2.0") => {}
        None => errors.push(EbmsError::new(
            ErrorCode::OtherXml,
            format!("{p}/@eb:version"),
            "eb:MessageHeader has no eb:version attribute; it must be \"2.0\"",
        )),
        Some(v) => errors.push(EbmsError::new(
            ErrorCode::NotSupported,
            format!("{p}/@eb:version"),
            format!("ebMS version \"{v}\" is not supported; only \"2.0\" is"),
        )),
    }
    let mut who = |local: &str| match mh.child(local) {
        Some(n) => match party(n) {
            Some(pid) => Some(pid),
            None => {
                errors.push(EbmsError::new(
                    ErrorCode::OtherXml,
                    format!("{p}/eb:{local}/eb:PartyId"),
                    format!("eb:{local}/eb:PartyId is missing or empty; it is required"),
                ));
                None
            }
        },
        None => {
            errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                format!("{p}/eb:{local}"),
                format!("eb:{local} is missing; it is required"),
            ));
            None
        }
    };
    let from = who("From");
    let to = who("To");
    let cpa_id = required(mh, "CPAId", p, errors);
    let conversation_id = required(mh, "ConversationId", p, errors);
    let service = required(mh, "Service", p, errors).map(|value| Service {
        value,
        kind: mh
            .child("Service")
            .and_then(|s| s.attr(Ns::Eb, "type"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
    });
    let action = required(mh, "Action", p, errors);
    let (mut message_id, mut timestamp, mut ref_to, mut ttl) = (None, None, None, None);
    match mh.child("MessageData") {
        Some(md) => {
            let mp = format!("{p}/eb:MessageData");
            message_id = required(md, "MessageId", &mp, errors);
            if let Some(id) = message_id.as_deref().filter(|id| !message_id_form(id)) {
                errors.push(EbmsError::new(
                    ErrorCode::ValueNotRecognized,
                    format!("{mp}/eb:MessageId"),
                    format!(
                        "eb:MessageId '{id}' is not in the form of a globally unique id \
                         (left@right, as RFC 2822 msg-id without the angle brackets, e.g. \
                         uuid@host)"
                    ),
                ));
            }
            timestamp = required(md, "Timestamp", &mp, errors)
                .and_then(|t| date_time(&t, &format!("{mp}/eb:Timestamp"), errors));
            ref_to = md
                .child("RefToMessageId")
                .map(|r| r.text().to_owned())
                .filter(|s| !s.is_empty());
            if let Some(t) = md.child("TimeToLive") {
                ttl = date_time(t.text(), &format!("{mp}/eb:TimeToLive"), errors);
            }
        }
        None => errors.push(EbmsError::new(
            ErrorCode::OtherXml,
            format!("{p}/eb:MessageData"),
            "eb:MessageData is missing; it is required (MessageId, Timestamp)",
        )),
    }
    let complete = errors.len() == n0;
    let unknown = || "unknown".to_owned();
    // A header with errors is kept as long as its MessageId is readable, so that the error
    // list refers to the message; what is missing is filled with "unknown".
    let header = MessageHeader {
        from: from.unwrap_or_else(|| PartyId::new(unknown())),
        to: to.unwrap_or_else(|| PartyId::new(unknown())),
        cpa_id: cpa_id.unwrap_or_else(unknown),
        conversation_id: conversation_id.unwrap_or_else(unknown),
        service: service.unwrap_or_else(|| Service::new(unknown())),
        action: action.unwrap_or_else(unknown),
        message_id: message_id?,
        timestamp: timestamp.unwrap_or_default(),
        ref_to_message_id: ref_to,
        time_to_live: ttl,
        duplicate_elimination: mh.child("DuplicateElimination").is_some(),
    };
    Some((header, complete))
}

/// `eb:MessageId` as ebMS 2.0 wants it: an RFC 2822 `msg-id` without its angle brackets,
/// `id-left "@" id-right`, each a dot-atom (the right may be a `[…]` literal instead).
pub fn message_id_form(id: &str) -> bool {
    fn atext(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
    }
    fn dot_atom(s: &str) -> bool {
        !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.bytes().all(atext))
    }
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let literal = right.len() >= 2
        && right.starts_with('[')
        && right.ends_with(']')
        && right[1..right.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"[]\\".contains(&b));
    dot_atom(left) && (dot_atom(right) || literal)
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// An `xs:dateTime` as the gateway writes it (`Z` for UTC).
pub fn format_date_time(t: &DateTime<FixedOffset>) -> String {
    let mut s = String::with_capacity(32);
    crate::domain::push_rfc3339(&mut s, t, true);
    s
}

/// What goes into an envelope the gateway writes.
#[derive(Debug, Clone, Default)]
pub struct EnvelopeOut<'a> {
    pub header: Option<&'a MessageHeader>,
    /// `Some(signed)` adds `eb:AckRequested`.
    pub ack_requested: Option<bool>,
    pub sync_reply: bool,
    pub acknowledgment: Option<&'a Acknowledgment>,
    pub error_list: Option<&'a [EbmsError]>,
    /// `xlink:href` of the single `eb:Manifest/eb:Reference`.
    pub manifest_href: Option<&'a str>,
    /// The payload element to put in the body (packaging B); an XML declaration is dropped.
    pub inline_payload: Option<&'a str>,
    /// `SOAP:Fault` with `faultcode` `SOAP:Client` and this `faultstring`.
    pub fault: Option<&'a str>,
    /// Encoding label written in the XML declaration (default UTF-8).
    pub encoding: Option<&'a str>,
}

fn el(out: &mut String, name: &str, attrs: &[(&str, &str)], text: &str) {
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        super::escape::attr(v, out);
        out.push('"');
    }
    out.push('>');
    super::escape::text(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn nonempty(s: &str) -> &str {
    if s.trim().is_empty() {
        "unknown"
    } else {
        s
    }
}

fn write_party(out: &mut String, wrapper: &str, p: &PartyId) {
    out.push_str("<eb:");
    out.push_str(wrapper);
    out.push('>');
    match &p.kind {
        Some(k) if !k.is_empty() => el(out, "eb:PartyId", &[("eb:type", k)], nonempty(&p.id)),
        _ => el(out, "eb:PartyId", &[], nonempty(&p.id)),
    }
    out.push_str("</eb:");
    out.push_str(wrapper);
    out.push('>');
}

/// Removes a leading BOM, XML declaration and blanks from a document.
pub fn strip_xml_declaration(doc: &str) -> &str {
    let d = doc.trim_start_matches('\u{feff}').trim_start();
    if d.starts_with("<?xml") {
        if let Some(i) = d.find("?>") {
            return d[i + 2..].trim_start();
        }
    }
    d
}

/// Writes a SOAP envelope (strict: valid against the OASIS schemas).
pub fn write_envelope(o: &EnvelopeOut) -> String {
    let mut s = String::with_capacity(1500 + o.inline_payload.map_or(0, str::len));
    s.push_str("<?xml version=\"1.0\" encoding=\"");
    s.push_str(o.encoding.unwrap_or("UTF-8"));
    s.push_str("\"?>\n<SOAP:Envelope xmlns:SOAP=\"");
    s.push_str(NS_SOAP);
    s.push_str("\" xmlns:eb=\"");
    s.push_str(NS_EB);
    s.push_str("\" xmlns:xlink=\"");
    s.push_str(NS_XLINK);
    s.push_str("\">");
    let has_header = o.header.is_some()
        || o.ack_requested.is_some()
        || o.sync_reply
        || o.acknowledgment.is_some()
        || o.error_list.is_some();
    if has_header {
        s.push_str("<SOAP:Header>");
        if let Some(h) = o.header {
            s.push_str("<eb:MessageHeader SOAP:mustUnderstand=\"1\" eb:version=\"2.0\">");
            write_party(&mut s, "From", &h.from);
            write_party(&mut s, "To", &h.to);
            el(&mut s, "eb:CPAId", &[], nonempty(&h.cpa_id));
            el(
                &mut s,
                "eb:ConversationId",
                &[],
                nonempty(&h.conversation_id),
            );
            match &h.service.kind {
                Some(k) if !k.is_empty() => el(
                    &mut s,
                    "eb:Service",
                    &[("eb:type", k)],
                    nonempty(&h.service.value),
                ),
                _ => el(&mut s, "eb:Service", &[], nonempty(&h.service.value)),
            }
            el(&mut s, "eb:Action", &[], nonempty(&h.action));
            s.push_str("<eb:MessageData>");
            el(&mut s, "eb:MessageId", &[], nonempty(&h.message_id));
            el(&mut s, "eb:Timestamp", &[], &format_date_time(&h.timestamp));
            if let Some(r) = h.ref_to_message_id.as_deref().filter(|r| !r.is_empty()) {
                el(&mut s, "eb:RefToMessageId", &[], r);
            }
            if let Some(t) = &h.time_to_live {
                el(&mut s, "eb:TimeToLive", &[], &format_date_time(t));
            }
            s.push_str("</eb:MessageData>");
            if h.duplicate_elimination {
                s.push_str("<eb:DuplicateElimination/>");
            }
            s.push_str("</eb:MessageHeader>");
        }
        if let Some(signed) = o.ack_requested {
            s.push_str(
                "<eb:AckRequested SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" SOAP:actor=\"",
            );
            s.push_str(ACTOR_TO_PARTY);
            s.push_str(if signed {
                "\" eb:signed=\"true\"/>"
            } else {
                "\" eb:signed=\"false\"/>"
            });
        }
        if o.sync_reply {
            s.push_str("<eb:SyncReply SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" SOAP:actor=\"");
            s.push_str(ACTOR_NEXT);
            s.push_str("\"/>");
        }
        if let Some(a) = o.acknowledgment {
            s.push_str(
                "<eb:Acknowledgment SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" SOAP:actor=\"",
            );
            s.push_str(a.actor.uri());
            s.push_str("\">");
            el(&mut s, "eb:Timestamp", &[], &format_date_time(&a.timestamp));
            el(
                &mut s,
                "eb:RefToMessageId",
                &[],
                nonempty(&a.ref_to_message_id),
            );
            if let Some(f) = &a.from {
                write_party(&mut s, "From", f);
            }
            s.push_str("</eb:Acknowledgment>");
        }
        if let Some(errors) = o.error_list {
            let highest =
                if errors.iter().any(|e| e.severity == Severity::Error) || errors.is_empty() {
                    "Error"
                } else {
                    "Warning"
                };
            s.push_str(
                "<eb:ErrorList SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" eb:highestSeverity=\"",
            );
            s.push_str(highest);
            s.push_str("\">");
            let fallback = [EbmsError::new(
                ErrorCode::Unknown,
                "/",
                "the message could not be processed",
            )];
            let list = if errors.is_empty() {
                &fallback[..]
            } else {
                errors
            };
            for e in list {
                s.push_str(
                    "<eb:Error eb:codeContext=\"urn:oasis:names:tc:ebxml-msg:service:errors\"",
                );
                for (k, v) in [
                    ("eb:errorCode", e.code.as_str()),
                    ("eb:severity", e.severity.as_str()),
                    ("eb:location", nonempty(&e.location)),
                ] {
                    s.push(' ');
                    s.push_str(k);
                    s.push_str("=\"");
                    super::escape::attr(v, &mut s);
                    s.push('"');
                }
                s.push('>');
                el(
                    &mut s,
                    "eb:Description",
                    &[("xml:lang", "en")],
                    nonempty(&e.description),
                );
                s.push_str("</eb:Error>");
            }
            s.push_str("</eb:ErrorList>");
        }
        s.push_str("</SOAP:Header>");
    }
    s.push_str("<SOAP:Body>");
    if let Some(href) = o.manifest_href {
        s.push_str("<eb:Manifest eb:version=\"2.0\">");
        el(
            &mut s,
            "eb:Reference",
            &[("xlink:href", href), ("xlink:type", "simple")],
            "",
        );
        s.push_str("</eb:Manifest>");
    }
    if let Some(p) = o.inline_payload {
        s.push_str(strip_xml_declaration(p));
    }
    if let Some(f) = o.fault {
        s.push_str("<SOAP:Fault><faultcode>SOAP:Client</faultcode>");
        el(&mut s, "faultstring", &[], f);
        s.push_str("</SOAP:Fault>");
    }
    s.push_str("</SOAP:Body></SOAP:Envelope>\n");
    s
}

#[cfg(test)]
mod checked_tests {
    use super::*;
    use crate::wire::intake::scan;

    const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

    /// An envelope with header `head` and body content `body`.
    fn env(decls: &str, head: &str, body: &str) -> String {
        format!(
            "<SOAP:Envelope xmlns:SOAP=\"{SOAP}\" xmlns:eb=\"{NS_EB}\"{decls}><SOAP:Header>{head}</SOAP:Header><SOAP:Body{decls}>{body}</SOAP:Body></SOAP:Envelope>"
        )
    }

    const MH: &str = "<eb:MessageHeader SOAP:mustUnderstand=\"1\" eb:version=\"2.0\"><eb:From><eb:PartyId>NSW</eb:PartyId></eb:From><eb:To><eb:PartyId>TISI</eb:PartyId></eb:To><eb:CPAId>c</eb:CPAId><eb:ConversationId>v</eb:ConversationId><eb:Service>urn:th:tisi:nsw:permit</eb:Service><eb:Action>DeclarationCheck</eb:Action><eb:MessageData><eb:MessageId>m@x</eb:MessageId><eb:Timestamp>2026-11-26T08:00:00Z</eb:Timestamp></eb:MessageData></eb:MessageHeader>";

    /// The one-pass read, when it answers (`expect_one_pass`), agrees with the scan followed by
    /// `parse_envelope`; when it does not, the intake runs those two.
    fn check(xml: &str, limits: Limits, expect_one_pass: bool) {
        let sequential = scan(xml, &limits)
            .ok()
            .and_then(|_| parse_envelope(xml).ok());
        let one_pass = parse_envelope_checked(xml, &limits).map(|(env, _)| env);
        assert_eq!(one_pass.is_some(), expect_one_pass, "{xml}");
        if one_pass.is_some() {
            assert_eq!(one_pass, sequential, "{xml}");
        }
    }

    #[test]
    fn one_pass_read_agrees_with_scan_then_parse() {
        let d = Limits::default();
        let small = Limits {
            max_depth: 6,
            max_items: 1,
            ..d
        };
        let p = "<DeclarationCheck xmlns=\"urn:th:tisi:nsw:permit:1_00\"><Line><LineNumber>1</LineNumber></Line></DeclarationCheck>";
        let two = "<DeclarationCheck xmlns=\"urn:th:tisi:nsw:permit:1_00\"><Line/><Line/></DeclarationCheck>";
        let deep = "<a><b><c><d><e>x</e></d></c></b></a>";
        let cases: Vec<(String, Limits, bool)> = vec![
            (env("", MH, p), d, true),
            (
                format!("<?xml version=\"1.0\"?>\n{}", env("", MH, p)),
                d,
                true,
            ),
            (
                format!("\n <?xml version=\"1.0\"?>{}", env("", MH, p)),
                d,
                true,
            ),
            (
                format!("<!-- c --><?xml version=\"1.0\"?>{}", env("", MH, p)),
                d,
                false,
            ),
            (format!("<!DOCTYPE x>{}", env("", MH, p)), d, false),
            (env("", MH, &format!("<?pi x?>{p}")), d, false),
            (
                env("", MH, &p.replace("<Line>", "<Line><?pi x?>")),
                d,
                false,
            ),
            (env("", MH, p), small, true),
            (env("", MH, two), d, true),
            (env("", MH, two), small, false),
            (env("", MH, deep), small, false),
            (env("", MH, deep), d, true),
            (env("", &format!("{MH}{deep}"), p), small, false),
            (
                env(
                    " xmlns=\"urn:th:tisi:nsw:permit:1_00\"",
                    MH,
                    "<DeclarationCheck><Line/></DeclarationCheck>",
                ),
                d,
                true,
            ),
            (
                env(
                    " xmlns:p=\"urn:th:tisi:nsw:permit:1_00\"",
                    MH,
                    "<p:DeclarationCheck xmlns:p=\"urn:other\"><p:Line/></p:DeclarationCheck>",
                ),
                d,
                true,
            ),
            (
                env(" xmlns=\"urn:a\"", MH, "<DeclarationCheck xmlns=\"\"/>"),
                d,
                true,
            ),
            (env("", MH, "<xml:X/>"), d, true),
            (
                env("", MH, "<a:b:Line/><q:Line xmlns:q=\"urn:q\"/>"),
                small,
                true,
            ),
            (
                env("", MH, "<Line/><q:Line xmlns:q=\"urn:q\"/>"),
                small,
                false,
            ),
            (env("", MH, "<q:X xmlns:q=\"urn:q\"/>"), d, true),
            (env("", MH, &format!("{p}{p}")), d, false),
            (env("", MH, &format!("<X/>{p}")), d, true),
            (
                env(
                    " xmlns:q=\"urn:q\"",
                    MH,
                    "<X xmlns:q=\"urn:z\"><y/></X><q:Y/>",
                ),
                d,
                false,
            ),
            (format!("{}x", env("", MH, p)), d, false),
            (format!("{}<b/>", env("", MH, p)), d, false),
            (env("", MH, "<a><b></a>"), d, false),
            (env("", MH, "<a>&bad;</a>"), d, true),
            (
                env("", "<eb:MessageHeader>&bad;</eb:MessageHeader>", p),
                d,
                false,
            ),
            ("<Envelope/>".to_owned(), d, false),
            (env("", MH, p).replace("</SOAP:Envelope>", ""), d, false),
            (String::new(), d, false),
        ];
        for (xml, limits, one_pass) in cases {
            check(&xml, limits, one_pass);
        }
    }
}

#[cfg(test)]
mod message_id_tests {
    use super::*;

    fn check(id: &str, ok: bool) {
        assert_eq!(message_id_form(id), ok, "{id:?}");
    }

    #[test]
    fn ack_actor_of_an_ack_request() {
        let check = |attr: Option<&str>, want: AckActor| assert_eq!(AckActor::of(attr), want);
        check(Some(ACTOR_NEXT_MSH), AckActor::NextMsh);
        check(
            Some(" urn:oasis:names:tc:ebxml-msg:actor:nextMSH "),
            AckActor::NextMsh,
        );
        check(Some(ACTOR_TO_PARTY), AckActor::ToPartyMsh);
        check(None, AckActor::ToPartyMsh);
        check(Some(ACTOR_NEXT), AckActor::ToPartyMsh);
        assert_eq!(AckActor::NextMsh.uri(), ACTOR_NEXT_MSH);
        assert_eq!(AckActor::ToPartyMsh.uri(), ACTOR_TO_PARTY);
    }

    #[test]
    fn message_id_is_left_at_right() {
        check("9f0c2e7a-5b1d-4c3e-8f7a-1b2c3d4e5f60@nsw.go.th", true);
        check("m@x", true);
        check("a.b+c_d@host-1.example", true);
        check("id@[10.0.0.1]", true);
        check("abc", false);
        check("@host", false);
        check("id@", false);
        check("a b@host", false);
        check("a@b@c", false);
        check("a..b@host", false);
        check(".a@host", false);
        check("a@host.", false);
        check("<a@host>", false);
        check("ก@host", false);
    }
}

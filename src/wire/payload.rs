//! Business payloads (spec §2–§3): decoding and encoding the eight documents, in every
//! supported version of the payload namespace.
//!
//! Decoding takes a payload document as UTF-8 text (the envelope and encoding layers have
//! already transcoded it). This module finds the root element itself and resolves its namespace
//! from the declarations *in that text*: a payload cut out of a SOAP body must carry (or be
//! given back) the namespace declarations it relies on. Decoding runs in two passes:
//!
//! 1. a structure pass over the raw events (no allocation on the happy path) that resolves the
//!    namespace version, refuses DTDs and processing instructions, and checks element names,
//!    order, repetitions (at most 999 goods items / lines), attributes and mixed content against
//!    the version's content model, reporting each problem with its XPath;
//! 2. serde DTOs for the version, then a conversion to domain values that collects every bad or
//!    missing value with its XPath.
//!
//! Encoding is strict: the current version's namespace as the default namespace on the root,
//! elements in schema order, no XML declaration (the caller adds one when it frames the payload
//! as a MIME part of its own).

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::domain::{InboundDocument, OutboundDocument, ValueError};
use crate::wire::v1_00;
use crate::wire::{EbmsError, ErrorCode};

/// Payload namespace versions this gateway reads, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["1_00"];
/// Every payload namespace is this prefix followed by a version.
pub const NAMESPACE_PREFIX: &str = "urn:th:tisi:nsw:permit:";

/// The version table: one entry per supported namespace version, in the order of
/// [`SUPPORTED_VERSIONS`]. The last one is the version the gateway writes.
pub(super) static VERSIONS: &[&Version] = &[&v1_00::VERSION];

/// Decodes one of the four documents the gateway accepts (`ImportPermitRequest`,
/// `DeclarationCheck`, `DeclarationAmendment`, `PermitStatusQuery`).
pub fn decode_inbound(xml: &str) -> Result<InboundDocument, Vec<EbmsError>> {
    let (version, root, structural, tape) = scan(xml, Direction::Inbound)?;
    merge(
        structural,
        (version.decode_inbound)(xml, root, tape.as_deref()),
    )
}

/// Decodes one of the four documents the gateway sends (`ImportPermitResponse`,
/// `DeclarationCheckResponse`, `DeclarationAmendmentResponse`, `PermitStatusResponse`).
pub fn decode_outbound(xml: &str) -> Result<OutboundDocument, Vec<EbmsError>> {
    let (version, root, structural, tape) = scan(xml, Direction::Outbound)?;
    merge(
        structural,
        (version.decode_outbound)(xml, root, tape.as_deref()),
    )
}

/// [`decode_inbound`] reading the DTOs with serde from the text, never from the tape: the
/// reference the tape is checked against.
#[cfg(test)]
pub(crate) fn decode_inbound_from_text(xml: &str) -> Result<InboundDocument, Vec<EbmsError>> {
    let (version, root, structural, _) = scan(xml, Direction::Inbound)?;
    merge(structural, (version.decode_inbound)(xml, root, None))
}

/// [`decode_outbound`] reading the DTOs with serde from the text, never from the tape.
#[cfg(test)]
pub(crate) fn decode_outbound_from_text(xml: &str) -> Result<OutboundDocument, Vec<EbmsError>> {
    let (version, root, structural, _) = scan(xml, Direction::Outbound)?;
    merge(structural, (version.decode_outbound)(xml, root, None))
}

/// Whether the structure pass recorded a tape for `xml` (read as an inbound or outbound
/// document).
#[cfg(test)]
pub(crate) fn has_tape(xml: &str, inbound: bool) -> bool {
    let dir = if inbound {
        Direction::Inbound
    } else {
        Direction::Outbound
    };
    matches!(scan(xml, dir), Ok((_, _, _, Some(_))))
}

/// Joins the structure problems of a well-formed document with the value problems the
/// conversion found, so that one answer lists them all. A conversion error inside an element
/// already reported, or a document-level read failure caused by the structure problems, adds
/// nothing and is left out.
fn merge<T>(
    structural: Vec<EbmsError>,
    converted: Result<T, Vec<EbmsError>>,
) -> Result<T, Vec<EbmsError>> {
    if structural.is_empty() {
        return converted;
    }
    let mut errors = structural;
    let reported = errors.len();
    if let Err(more) = converted {
        for e in more {
            let root_level =
                e.code == ErrorCode::OtherXml && !e.location.get(1..).unwrap_or("").contains('/');
            let covered = errors[..reported].iter().any(|s| {
                e.location == s.location
                    || e.location
                        .strip_prefix(s.location.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
            if !root_level && !covered {
                errors.push(e);
            }
        }
    }
    errors.truncate(MAX_ERRORS + 1);
    Err(errors)
}

/// Writes an inbound document in the current payload version.
pub fn encode_inbound(doc: &InboundDocument) -> String {
    (current().encode_inbound)(doc)
}

/// Writes an outbound document in the current payload version.
pub fn encode_outbound(doc: &OutboundDocument) -> String {
    (current().encode_outbound)(doc)
}

/// The root element's local name for an inbound document (also its ebMS `Action`).
pub fn root_name_inbound(doc: &InboundDocument) -> &'static str {
    match doc {
        InboundDocument::ImportPermitRequest(_) => "ImportPermitRequest",
        InboundDocument::DeclarationCheck(_) => "DeclarationCheck",
        InboundDocument::DeclarationAmendment(_) => "DeclarationAmendment",
        InboundDocument::PermitStatusQuery(_) => "PermitStatusQuery",
    }
}

/// Where a status query names the importer whose data it asks for: its `Importer/TaxNumber`,
/// or the `PermitNumber` of that importer's permit (the `location` of an error about it).
pub fn status_query_subject(q: &crate::domain::PermitStatusQuery) -> &'static str {
    match q {
        crate::domain::PermitStatusQuery::ByPermit(_) => "/PermitStatusQuery/PermitNumber",
        crate::domain::PermitStatusQuery::ByReference { .. } => {
            "/PermitStatusQuery/Importer/TaxNumber"
        }
    }
}

/// Where an inbound document names whose data it touches (the `location` of an error about
/// the sender's right to act for that importer): the importer's `TaxNumber` of a permit
/// request, the subject of a status query, and the root of a declaration (whose lines name
/// permits of any importer).
pub fn access_subject(doc: &crate::domain::InboundDocument) -> &'static str {
    use crate::domain::InboundDocument as D;
    match doc {
        D::ImportPermitRequest(_) => "/ImportPermitRequest/Importer/TaxNumber",
        D::DeclarationCheck(_) => "/DeclarationCheck",
        D::DeclarationAmendment(_) => "/DeclarationAmendment",
        D::PermitStatusQuery(q) => status_query_subject(q),
    }
}

/// The root element's local name for an outbound document (also its ebMS `Action`).
pub fn root_name_outbound(doc: &OutboundDocument) -> &'static str {
    match doc {
        OutboundDocument::ImportPermitResponse(_) => "ImportPermitResponse",
        OutboundDocument::DeclarationCheckResponse(_) => "DeclarationCheckResponse",
        OutboundDocument::DeclarationAmendmentResponse(_) => "DeclarationAmendmentResponse",
        OutboundDocument::PermitStatusResponse(_) => "PermitStatusResponse",
    }
}

/// The namespace the gateway writes, e.g. `urn:th:tisi:nsw:permit:1_00`.
pub fn current_namespace() -> &'static str {
    current().namespace
}

fn current() -> &'static Version {
    VERSIONS.last().expect("the version table is never empty")
}

// ---------------------------------------------------------------------------------------------
// Version table and content models
// ---------------------------------------------------------------------------------------------

/// One payload namespace version: its content models and its codec.
pub(crate) struct Version {
    pub id: &'static str,
    pub namespace: &'static str,
    pub inbound: &'static [Elem],
    pub outbound: &'static [Elem],
    /// Decodes a document given as text, its root's name and, when the structure pass found
    /// nothing wrong, the [`Tape`] it recorded (the text is then not read again).
    pub decode_inbound: fn(&str, &'static str, Option<&[Tape<'_>]>) -> InboundResult,
    pub decode_outbound: fn(&str, &'static str, Option<&[Tape<'_>]>) -> OutboundResult,
    pub encode_inbound: fn(&InboundDocument) -> String,
    pub encode_outbound: fn(&OutboundDocument) -> String,
}

pub(crate) type InboundResult = Result<InboundDocument, Vec<EbmsError>>;
pub(crate) type OutboundResult = Result<OutboundDocument, Vec<EbmsError>>;

/// What the structure pass saw of a structurally clean document, below its root: each element
/// (its name from the content model and the value of its one allowed attribute, if present),
/// the text of each text-only element (trimmed of XML blanks at both ends and unescaped, left
/// out when empty) and each end of an element. A version fills its DTOs from it exactly as its
/// serde reader would from the text, without reading the text again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tape<'x> {
    Open(&'static str, Option<Cow<'x, str>>),
    Text(Cow<'x, str>),
    Close,
}

/// An element of a content model: its name, how often it may repeat, the attributes it may carry
/// (`unitCode`, `xml:lang`) and what it holds. Which elements are *required* is checked by the
/// conversion, which can say which field is missing.
pub(crate) struct Elem {
    pub name: &'static str,
    pub max: u16,
    pub attrs: &'static [&'static str],
    pub content: Content,
}

pub(crate) enum Content {
    Text,
    /// Child elements in schema order.
    Seq(&'static [Elem]),
}

impl Elem {
    pub const fn text(name: &'static str) -> Elem {
        Elem {
            name,
            max: 1,
            attrs: &[],
            content: Content::Text,
        }
    }
    pub const fn text_with(name: &'static str, max: u16, attrs: &'static [&'static str]) -> Elem {
        Elem {
            name,
            max,
            attrs,
            content: Content::Text,
        }
    }
    pub const fn seq(name: &'static str, max: u16, children: &'static [Elem]) -> Elem {
        Elem {
            name,
            max,
            attrs: &[],
            content: Content::Seq(children),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Structure pass
// ---------------------------------------------------------------------------------------------

/// Nesting limit of spec §1.
pub(super) const MAX_DEPTH: usize = 32;
/// Errors reported for one document at most; the rest are summarised.
const MAX_ERRORS: usize = 100;
const XML_NS: &[u8] = b"http://www.w3.org/XML/1998/namespace";
const XSI_NS: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

fn one(
    code: ErrorCode,
    location: impl Into<String>,
    description: impl Into<String>,
) -> Vec<EbmsError> {
    vec![EbmsError::new(code, location, description)]
}

fn supported_list() -> String {
    VERSIONS
        .iter()
        .map(|v| format!("{} = {}", v.id, v.namespace))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Frame {
    /// `None` for a text-only element.
    children: Option<&'static [Elem]>,
    name: &'static str,
    /// Position of this element among its same-name siblings (1-based), 0 when it cannot repeat.
    index: usize,
    /// Position in `children` of the last child seen.
    last: usize,
    counts: [u16; 24],
}

struct Scan<'r, 'x> {
    reader: &'r mut NsReader<&'x [u8]>,
    stack: Vec<Frame>,
    errors: Vec<EbmsError>,
    ns: &'static str,
    /// The recording of the document; `tape_ok` turns false at anything it does not record
    /// faithfully (CDATA, a comment or split text inside a text element, an attribute value
    /// that cannot be unescaped); the DTOs are then read from the text.
    tape: Vec<Tape<'x>>,
    tape_ok: bool,
    xml: &'x str,
}

impl<'x> Scan<'_, 'x> {
    fn path(&self, leaf: Option<(&str, usize)>) -> String {
        let mut s = String::new();
        for f in &self.stack {
            push_step(&mut s, f.name, f.index);
        }
        if let Some((name, index)) = leaf {
            push_step(&mut s, name, index);
        }
        s
    }

    fn error(&mut self, code: ErrorCode, location: String, description: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push(EbmsError::new(code, location, description));
        } else if self.errors.len() == MAX_ERRORS {
            let at = self.path(None);
            self.errors.push(EbmsError::new(
                ErrorCode::OtherXml,
                at,
                format!("more than {MAX_ERRORS} problems; only the first {MAX_ERRORS} are listed"),
            ));
        }
    }

    fn fatal(&mut self, e: impl fmt::Display) {
        let at = format!("byte {}", self.reader.buffer_position());
        let path = self.path(None);
        self.errors.push(EbmsError::new(
            ErrorCode::OtherXml,
            if path.is_empty() {
                "/".to_owned()
            } else {
                path
            },
            format!("the payload is not well-formed XML ({at}): {e}"),
        ));
    }

    /// Checks the attributes of an element against the names the model allows; returns the
    /// value of the allowed one (for the tape).
    fn attributes(
        &mut self,
        e: &BytesStart<'_>,
        allowed: &[&str],
        is_root: bool,
        name: &str,
        index: usize,
    ) -> Option<Cow<'x, str>> {
        let mut value = None;
        if e.attributes_raw().trim_ascii().is_empty() {
            return None;
        }
        for a in e.attributes().with_checks(true) {
            let a = match a {
                Ok(a) => a,
                Err(err) => {
                    let at = self.path(Some((name, index)));
                    self.error(
                        ErrorCode::OtherXml,
                        at,
                        format!("element {name} has a malformed attribute: {err}"),
                    );
                    continue;
                }
            };
            if a.key.as_namespace_binding().is_some() {
                continue;
            }
            let (ns, local) = self.reader.resolve_attribute(a.key);
            let local = String::from_utf8_lossy(local.as_ref());
            let ok = match ns {
                ResolveResult::Unbound => allowed.contains(&local.as_ref()),
                ResolveResult::Bound(n) if n.as_ref() == XML_NS => {
                    local == "lang" && allowed.contains(&"xml:lang")
                }
                ResolveResult::Bound(n) if n.as_ref() == XSI_NS => {
                    is_root && (local == "schemaLocation" || local == "noNamespaceSchemaLocation")
                }
                _ => false,
            };
            if ok && !is_root && self.tape_ok {
                match a.unescape_value() {
                    Ok(v) => value = Some(Cow::Owned(v.into_owned())),
                    Err(_) => self.tape_ok = false,
                }
            }
            if !ok {
                let qname = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let mut at = self.path(Some((name, index)));
                at.push_str("/@");
                at.push_str(&qname);
                self.error(
                    ErrorCode::OtherXml,
                    at,
                    format!("attribute {qname} is not allowed on element {name}"),
                );
            }
        }
        value
    }
}

impl<'x> Scan<'_, 'x> {
    /// A text event inside the root: text in an element that holds elements is an error;
    /// the text of a text-only element is checked and recorded.
    fn text(&mut self, t: BytesText<'x>) {
        let frame = self.stack.last().expect("inside the root");
        if frame.children.is_some() {
            if !t.iter().all(|b| b.is_ascii_whitespace()) {
                let at = self.path(None);
                let name = frame.name;
                self.error(
                    ErrorCode::OtherXml,
                    at,
                    format!("element {name} may hold only elements, not text"),
                );
            }
        } else if t.contains(&b'&') {
            let checked = t.unescape().map(|_| ()).map_err(|e| e.to_string());
            match checked {
                Err(err) => {
                    let at = self.path(None);
                    self.error(
                        ErrorCode::OtherXml,
                        at,
                        format!("text has an unknown or malformed entity reference: {err}"),
                    );
                }
                Ok(()) if !self.tape_ok => {}
                Ok(()) => {
                    let raw = trim_xml_blanks(&t);
                    match quick_xml::escape::unescape(&String::from_utf8_lossy(raw)) {
                        Ok(v) => self.record_text(Cow::Owned(v.into_owned())),
                        Err(_) => self.tape_ok = false,
                    }
                }
            }
        } else if self.tape_ok {
            match t.into_inner() {
                Cow::Borrowed(raw) => match self.slice_of_input(trim_xml_blanks(raw)) {
                    Some(v) => self.record_text(Cow::Borrowed(v)),
                    None => self.tape_ok = false,
                },
                Cow::Owned(_) => self.tape_ok = false,
            }
        }
    }

    /// `raw`, a slice of the input, as text of the input (no second UTF-8 check).
    fn slice_of_input(&self, raw: &[u8]) -> Option<&'x str> {
        let start = (raw.as_ptr() as usize).checked_sub(self.xml.as_ptr() as usize)?;
        self.xml.get(start..start.checked_add(raw.len())?)
    }

    /// Records the text of a text-only element; a second piece of text in one element (split
    /// by a comment) is not recorded faithfully.
    fn record_text(&mut self, text: Cow<'x, str>) {
        match self.tape.last() {
            Some(Tape::Open(..)) => {
                if !text.is_empty() {
                    self.tape.push(Tape::Text(text));
                }
            }
            _ => self.tape_ok = false,
        }
    }
}

/// `s` without leading and trailing XML blanks (space, tab, CR, LF), as the serde reader trims
/// a text that stands alone between two tags.
pub(super) fn trim_xml_blanks(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or(b"")
}

fn push_step(s: &mut String, name: &str, index: usize) {
    s.push('/');
    s.push_str(name);
    if index > 0 {
        use fmt::Write;
        let _ = write!(s, "[{index}]");
    }
}

/// What the structure pass concludes about a well-formed document: its version, its root, the
/// structure problems found (empty when there are none) and, when there are none, its tape
/// (if it could be recorded).
type Scanned<'x> = (
    &'static Version,
    &'static str,
    Vec<EbmsError>,
    Option<Vec<Tape<'x>>>,
);

/// Resolves the version and the root, then checks the whole document's structure. `Err` holds
/// problems that stop reading altogether (not well-formed, DTD, unknown namespace or document).
fn scan(xml: &str, dir: Direction) -> Result<Scanned<'_>, Vec<EbmsError>> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    // Find the root element.
    loop {
        let (e, empty) =
            match reader.read_event() {
                Ok(Event::Start(e)) => (e, false),
                Ok(Event::Empty(e)) => (e, true),
                Ok(Event::DocType(_)) => {
                    return Err(one(
                        ErrorCode::SecurityFailure,
                        "/",
                        "the payload has a DOCTYPE; DTDs are refused",
                    ))
                }
                Ok(Event::PI(_)) => return Err(one(
                    ErrorCode::SecurityFailure,
                    "/",
                    "the payload has a processing instruction; only the XML declaration is allowed",
                )),
                Ok(Event::Eof) => {
                    return Err(one(
                        ErrorCode::OtherXml,
                        "/",
                        "the payload has no root element",
                    ))
                }
                Ok(Event::Text(t)) if !t.iter().all(|b| b.is_ascii_whitespace()) => {
                    return Err(one(
                        ErrorCode::OtherXml,
                        "/",
                        "the payload has text outside its root element",
                    ))
                }
                Ok(_) => continue,
                Err(e) => {
                    return Err(one(
                        ErrorCode::OtherXml,
                        "/",
                        format!(
                            "the payload is not well-formed XML (byte {}): {e}",
                            reader.buffer_position()
                        ),
                    ))
                }
            };
        let (ns, local) = reader.resolve_element(e.name());
        let local = String::from_utf8_lossy(local.as_ref()).into_owned();
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
            _ => String::new(),
        };
        let at = format!("/{local}");
        let Some(version) = VERSIONS.iter().copied().find(|v| v.namespace == ns) else {
            let why = match ns.strip_prefix(NAMESPACE_PREFIX) {
                Some(v) => format!("payload namespace version '{v}' is not supported"),
                None if ns.is_empty() => format!("payload root {local} has no namespace"),
                None => format!("payload namespace '{ns}' is not a TISI permit namespace"),
            };
            return Err(one(
                ErrorCode::NotSupported,
                at,
                format!("{why}; supported versions: {}", supported_list()),
            ));
        };
        let roots = match dir {
            Direction::Inbound => version.inbound,
            Direction::Outbound => version.outbound,
        };
        let Some(root) = roots.iter().find(|r| r.name == local) else {
            let names: Vec<_> = roots.iter().map(|r| r.name).collect();
            return Err(one(
                ErrorCode::NotSupported,
                at,
                format!(
                    "document {local} is not one accepted here; expected one of {}",
                    names.join(", ")
                ),
            ));
        };
        let mut s = Scan {
            reader: &mut reader,
            stack: Vec::with_capacity(8),
            errors: Vec::new(),
            ns: version.namespace,
            tape: Vec::with_capacity(xml.len() / 16),
            tape_ok: true,
            xml,
        };
        let _ = s.attributes(&e, root.attrs, true, root.name, 0);
        if empty {
            return finish(s, version, root);
        }
        s.stack.push(Frame {
            children: match root.content {
                Content::Seq(c) => Some(c),
                Content::Text => None,
            },
            name: root.name,
            index: 0,
            last: 0,
            counts: [0; 24],
        });
        return walk(s, version, root);
    }
}

fn finish<'x>(
    s: Scan<'_, 'x>,
    version: &'static Version,
    root: &'static Elem,
) -> Result<Scanned<'x>, Vec<EbmsError>> {
    let tape = (s.tape_ok && s.errors.is_empty()).then_some(s.tape);
    Ok((version, root.name, s.errors, tape))
}

fn walk<'x>(
    mut s: Scan<'_, 'x>,
    version: &'static Version,
    root: &'static Elem,
) -> Result<Scanned<'x>, Vec<EbmsError>> {
    loop {
        let ev = s.reader.read_event();
        match ev {
            Ok(Event::Start(e)) => {
                if let Step::Skip = child(&mut s, &e) {
                    // Skip a subtree that was reported (unknown element, child of a text element).
                    if let Err(err) = s.reader.read_to_end(e.name()) {
                        s.fatal(err);
                        return Err(s.errors);
                    }
                }
                if s.stack.len() > MAX_DEPTH {
                    let at = s.path(None);
                    s.errors.push(EbmsError::new(
                        ErrorCode::OtherXml,
                        at,
                        format!("elements are nested deeper than {MAX_DEPTH} levels"),
                    ));
                    return Err(s.errors);
                }
            }
            Ok(Event::Empty(e)) => {
                if let Step::Pushed = child(&mut s, &e) {
                    s.stack.pop();
                    s.tape.push(Tape::Close);
                }
            }
            Ok(Event::End(_)) => {
                s.stack.pop();
                if s.stack.is_empty() {
                    break;
                }
                s.tape.push(Tape::Close);
            }
            Ok(Event::Text(t)) => s.text(t),
            Ok(Event::CData(_)) => {
                s.tape_ok = false;
                let frame = s.stack.last().expect("inside the root");
                if frame.children.is_some() {
                    let at = s.path(None);
                    let name = frame.name;
                    s.error(
                        ErrorCode::OtherXml,
                        at,
                        format!("element {name} may hold only elements, not text"),
                    );
                }
            }
            Ok(Event::DocType(_)) => {
                return Err(one(
                    ErrorCode::SecurityFailure,
                    "/",
                    "the payload has a DOCTYPE; DTDs are refused",
                ))
            }
            Ok(Event::PI(_)) => {
                let at = s.path(None);
                return Err(one(
                    ErrorCode::SecurityFailure,
                    at,
                    "the payload has a processing instruction; only the XML declaration is allowed",
                ));
            }
            Ok(Event::Eof) => {
                s.fatal("the document ends before its root element is closed");
                return Err(s.errors);
            }
            Ok(Event::Comment(_)) | Ok(Event::Decl(_)) => {
                if s.stack.last().is_some_and(|f| f.children.is_none()) {
                    s.tape_ok = false;
                }
            }
            Err(err) => {
                s.fatal(err);
                return Err(s.errors);
            }
        }
    }
    // After the root: only comments and whitespace.
    loop {
        match s.reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Comment(_)) => {}
            Ok(Event::Text(t)) if t.iter().all(|b| b.is_ascii_whitespace()) => {}
            Ok(Event::PI(_)) | Ok(Event::DocType(_)) => {
                return Err(one(
                    ErrorCode::SecurityFailure,
                    "/",
                    "the payload has a processing instruction or DOCTYPE after its root element",
                ))
            }
            Ok(_) => {
                s.error(
                    ErrorCode::OtherXml,
                    "/".into(),
                    "the payload has content after its root element".into(),
                );
                break;
            }
            Err(err) => {
                s.fatal(err);
                break;
            }
        }
    }
    finish(s, version, root)
}

/// A business payload read inside its SOAP envelope by [`walk_embedded`], structurally clean:
/// its version, its root and its tape, the tape's texts kept as byte ranges of the payload
/// element's text so that they can be borrowed again from the payload cut out of the envelope.
#[derive(Clone)]
pub(crate) struct Embedded {
    version: &'static Version,
    root: &'static str,
    marks: Vec<Mark>,
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded")
            .field("version", &self.version.id)
            .field("root", &self.root)
            .field("marks", &self.marks.len())
            .finish()
    }
}

#[derive(Debug, Clone)]
enum Mark {
    Open(&'static str, Option<String>),
    /// Text at these byte offsets of the payload element's text.
    At(usize, usize),
    Owned(String),
    Close,
}

impl Embedded {
    /// [`decode_inbound`] of `payload`, the payload element's text exactly as it stands in the
    /// envelope that [`walk_embedded`] read, without reading it again.
    pub(crate) fn decode_inbound(&self, payload: &str) -> Result<InboundDocument, Vec<EbmsError>> {
        let mut tape = Vec::with_capacity(self.marks.len());
        for m in &self.marks {
            tape.push(match m {
                Mark::Open(name, attr) => Tape::Open(name, attr.clone().map(Cow::Owned)),
                Mark::At(a, b) => match payload.get(*a..*b) {
                    Some(t) => Tape::Text(Cow::Borrowed(t)),
                    // Not the text that was read: read it afresh.
                    None => return decode_inbound(payload),
                },
                Mark::Owned(t) => Tape::Text(Cow::Owned(t.clone())),
                Mark::Close => Tape::Close,
            });
        }
        (self.version.decode_inbound)(payload, self.root, Some(&tape))
    }
}

/// Walks, with the envelope's `reader`, the payload element whose start tag `start` (at byte
/// `base` of `xml`) was just read, up to its end tag, calling `check(event, open)` on every
/// event (`open`: the payload's elements open before it); `Err` when `check` refuses one or the
/// XML is not well-formed. `Some` when the payload is an inbound document of a supported
/// version and its structure pass (the one [`decode_inbound`] runs on the payload alone) finds
/// nothing wrong and records its tape.
pub(crate) fn walk_embedded<'x>(
    reader: &mut NsReader<&'x [u8]>,
    xml: &'x str,
    start: &BytesStart<'x>,
    empty: bool,
    base: usize,
    mut check: impl FnMut(&Event<'x>, usize) -> bool,
) -> Result<Option<Embedded>, ()> {
    let (ns, local) = reader.resolve_element(start.name());
    let found = VERSIONS
        .iter()
        .copied()
        .find(|v| matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == v.namespace.as_bytes()))
        .and_then(|v| {
            v.inbound
                .iter()
                .find(|r| r.name.as_bytes() == local.as_ref())
                .map(|r| (v, r))
        });
    let mut clean = found.is_some();
    let (version, root) = found.unwrap_or((current(), &EMPTY_ROOT));
    let mut s = Scan {
        reader,
        stack: Vec::with_capacity(8),
        errors: Vec::new(),
        ns: version.namespace,
        tape: Vec::with_capacity(xml.len() / 16),
        tape_ok: true,
        xml,
    };
    if clean {
        let _ = s.attributes(start, root.attrs, true, root.name, 0);
        s.stack.push(Frame {
            children: match root.content {
                Content::Seq(c) => Some(c),
                Content::Text => None,
            },
            name: root.name,
            index: 0,
            last: 0,
            counts: [0; 24],
        });
    }
    let mut open = usize::from(!empty);
    while open > 0 {
        let ev = s.reader.read_event().map_err(|_| ())?;
        if !check(&ev, open) {
            return Err(());
        }
        match ev {
            Event::Start(e) => {
                open += 1;
                if clean {
                    clean = matches!(child(&mut s, &e), Step::Pushed) && s.stack.len() <= MAX_DEPTH;
                }
            }
            Event::Empty(e) => {
                if clean {
                    clean = matches!(child(&mut s, &e), Step::Pushed);
                    s.stack.pop();
                    s.tape.push(Tape::Close);
                }
            }
            Event::End(_) => {
                open -= 1;
                if clean {
                    s.stack.pop();
                    if !s.stack.is_empty() {
                        s.tape.push(Tape::Close);
                    }
                }
            }
            Event::Text(t) => {
                if clean && !s.stack.is_empty() {
                    s.text(t);
                }
            }
            Event::Comment(_) => {
                if s.stack.last().is_some_and(|f| f.children.is_none()) {
                    clean = false;
                }
            }
            Event::Eof => return Err(()),
            _ => clean = false,
        }
        clean = clean && s.tape_ok && s.errors.is_empty();
    }
    if !(clean && s.tape_ok && s.errors.is_empty()) {
        return Ok(None);
    }
    let at = |t: &str| {
        let off = (t.as_ptr() as usize).checked_sub(xml.as_ptr() as usize)?;
        let a = off.checked_sub(base)?;
        Some(Mark::At(a, a + t.len()))
    };
    let mut marks = Vec::with_capacity(s.tape.len());
    for t in s.tape {
        marks.push(match t {
            Tape::Open(name, attr) => Mark::Open(name, attr.map(Cow::into_owned)),
            Tape::Text(Cow::Borrowed(t)) => match at(t) {
                Some(m) => m,
                None => return Ok(None),
            },
            Tape::Text(Cow::Owned(t)) => Mark::Owned(t),
            Tape::Close => Mark::Close,
        });
    }
    Ok(Some(Embedded {
        version,
        root: root.name,
        marks,
    }))
}

/// Stands in for the root's model when the payload is not a known document.
static EMPTY_ROOT: Elem = Elem::seq("", 1, &[]);

enum Step {
    /// A frame was pushed for the element (pop it again at once for an empty element).
    Pushed,
    /// The element was reported: skip its subtree.
    Skip,
}

/// Handles a child start tag: checks it against the parent's model and pushes a frame for it.
fn child(s: &mut Scan<'_, '_>, e: &BytesStart<'_>) -> Step {
    let (ns, local) = s.reader.resolve_element(e.name());
    let in_ns = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == s.ns.as_bytes());
    let parent = s.stack.last().expect("inside the root");
    let parent_name = parent.name;
    // The model's position of a known element, found without decoding its name.
    let known = match parent.children {
        Some(children) if in_ns => children
            .iter()
            .position(|c| c.name.as_bytes() == local.as_ref()),
        _ => None,
    };
    let local_s = match known {
        Some(_) => Cow::Borrowed(""),
        None => String::from_utf8_lossy(local.as_ref()),
    };
    let Some(children) = parent.children else {
        let at = s.path(Some((&local_s, 0)));
        s.error(
            ErrorCode::OtherXml,
            at,
            format!("element {parent_name} may hold only text, not element {local_s}"),
        );
        return Step::Skip;
    };
    let Some(pos) = known else {
        let at = s.path(Some((&local_s, 0)));
        let what = match ns {
            ResolveResult::Bound(n) if !in_ns => {
                format!(
                    "element {local_s} in namespace {}",
                    String::from_utf8_lossy(n.as_ref())
                )
            }
            _ if !in_ns => format!("element {local_s} without a namespace"),
            _ => format!("element {local_s}"),
        };
        let expected: Vec<_> = children.iter().map(|c| c.name).collect();
        s.error(
            ErrorCode::OtherXml,
            at,
            format!(
                "{what} is not allowed in {parent_name}; it may contain {}",
                expected.join(", ")
            ),
        );
        return Step::Skip;
    };
    let model = &children[pos];
    let frame = s.stack.last_mut().expect("inside the root");
    let count = frame.counts[pos].saturating_add(1);
    frame.counts[pos] = count;
    let last = frame.last;
    let index = if model.max > 1 { usize::from(count) } else { 0 };
    let mut skip = false;
    if pos < last {
        let at = s.path(Some((model.name, index)));
        let after = children[last].name;
        s.error(
            ErrorCode::OtherXml,
            at,
            format!(
                "element {} is out of order: it must come before {after} in {parent_name}",
                model.name
            ),
        );
    } else {
        s.stack.last_mut().expect("inside the root").last = pos;
    }
    if count > model.max {
        skip = true;
        if count == model.max + 1 {
            let at = s.path(Some((model.name, index)));
            let msg = if model.max == 1 {
                format!(
                    "element {} appears more than once in {parent_name}",
                    model.name
                )
            } else {
                format!(
                    "more than {} {} elements in {parent_name}",
                    model.max, model.name
                )
            };
            s.error(ErrorCode::OtherXml, at, msg);
        }
    }
    if skip {
        return Step::Skip;
    }
    let attr = s.attributes(e, model.attrs, false, model.name, index);
    s.tape.push(Tape::Open(model.name, attr));
    s.stack.push(Frame {
        children: match model.content {
            Content::Seq(c) => Some(c),
            Content::Text => None,
        },
        name: model.name,
        index,
        last: 0,
        counts: [0; 24],
    });
    Step::Pushed
}

// ---------------------------------------------------------------------------------------------
// Conversion helpers shared by the versions
// ---------------------------------------------------------------------------------------------

/// An XPath into the document, rendered only when an error needs it.
#[derive(Clone, Copy)]
pub(crate) struct Loc<'p> {
    parent: Option<&'p Loc<'p>>,
    name: &'static str,
    /// 1-based position among same-name siblings; 0 when the element does not repeat.
    index: usize,
    attribute: bool,
}

impl<'p> Loc<'p> {
    pub fn root(name: &'static str) -> Loc<'static> {
        Loc {
            parent: None,
            name,
            index: 0,
            attribute: false,
        }
    }
    pub fn child(&'p self, name: &'static str) -> Loc<'p> {
        Loc {
            parent: Some(self),
            name,
            index: 0,
            attribute: false,
        }
    }
    /// The `i`-th (0-based) element of a list, written `name[i+1]`.
    pub fn item(&'p self, name: &'static str, i: usize) -> Loc<'p> {
        Loc {
            parent: Some(self),
            name,
            index: i + 1,
            attribute: false,
        }
    }
    pub fn attr(&'p self, name: &'static str) -> Loc<'p> {
        Loc {
            parent: Some(self),
            name,
            index: 0,
            attribute: true,
        }
    }
    pub fn parent_name(&self) -> Option<&'static str> {
        self.parent.map(|p| p.name)
    }
    pub fn render(&self) -> String {
        let mut steps = Vec::with_capacity(6);
        let mut cur = Some(self);
        while let Some(l) = cur {
            steps.push(l);
            cur = l.parent;
        }
        let mut s = String::new();
        for l in steps.iter().rev() {
            if l.attribute {
                s.push_str("/@");
                s.push_str(l.name);
            } else {
                push_step(&mut s, l.name, l.index);
            }
        }
        s
    }
}

/// Collects every problem of a document being converted.
#[derive(Default)]
pub(crate) struct Cx {
    pub errors: Vec<EbmsError>,
}

impl Cx {
    pub fn missing(&mut self, at: Loc<'_>) {
        let what = if at.attribute { "attribute" } else { "element" };
        let description = match at.parent_name() {
            Some(p) => format!("required {what} {} is missing from {p}", at.name),
            None => format!("required {what} {} is missing", at.name),
        };
        self.errors.push(EbmsError::new(
            ErrorCode::ValueNotRecognized,
            at.render(),
            description,
        ));
    }

    pub fn invalid(&mut self, at: Loc<'_>, problem: impl fmt::Display) {
        self.errors.push(EbmsError::new(
            ErrorCode::ValueNotRecognized,
            at.render(),
            format!("{}: {problem}", at.name),
        ));
    }

    pub fn structure(&mut self, at: Loc<'_>, problem: impl Into<String>) {
        self.errors
            .push(EbmsError::new(ErrorCode::OtherXml, at.render(), problem));
    }

    /// A required leaf value.
    pub fn req<T>(
        &mut self,
        v: &Option<Cow<'_, str>>,
        at: Loc<'_>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        match v {
            None => {
                self.missing(at);
                None
            }
            Some(text) => self.value(text, at, parse),
        }
    }

    /// An optional leaf value: `None` when it is bad, `Some(None)` when it is absent.
    pub fn opt<T>(
        &mut self,
        v: &Option<Cow<'_, str>>,
        at: Loc<'_>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        match v {
            None => Some(None),
            Some(text) => self.value(text, at, parse).map(Some),
        }
    }

    fn value<T>(
        &mut self,
        text: &str,
        at: Loc<'_>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let text = collapse(text);
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(at, e);
                None
            }
        }
    }

    /// A leaf whose text may be absent (an empty element): parsed as empty text.
    pub fn value_or_empty<T>(
        &mut self,
        v: &Option<Cow<'_, str>>,
        at: Loc<'_>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        self.value(v.as_deref().unwrap_or(""), at, parse)
    }

    /// A required composite element.
    pub fn node<'d, D>(&mut self, v: &'d Option<D>, at: Loc<'_>) -> Option<&'d D> {
        if v.is_none() {
            self.missing(at);
        }
        v.as_ref()
    }

    pub fn finish<T>(self, v: Option<T>) -> Result<T, Vec<EbmsError>> {
        match v {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ if self.errors.is_empty() => Err(vec![EbmsError::new(
                ErrorCode::OtherXml,
                "/",
                "the payload could not be read",
            )]),
            _ => Err(self.errors),
        }
    }
}

/// Whitespace collapse as `xs:token` does it: trims and turns every run of blanks (space, tab,
/// CR, LF) into one space. Borrows when nothing changes.
pub(crate) fn collapse(s: &str) -> Cow<'_, str> {
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    // The blanks are ASCII, which never occurs inside a multi-byte character: look at bytes.
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let all = s.as_bytes();
    let start = all.iter().position(|c| !blank(c)).unwrap_or(all.len());
    let end = all.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
    let t = s.get(start..end).unwrap_or_default();
    let b = t.as_bytes();
    let clean = if b.len() < 64 {
        // A tab, CR or LF anywhere, or two spaces in a row.
        let mut clean = true;
        let mut space = false;
        for &c in b {
            if matches!(c, b'\t' | b'\r' | b'\n') || (space && c == b' ') {
                clean = false;
                break;
            }
            space = c == b' ';
        }
        clean
    } else {
        memchr::memchr3(b'\t', b'\r', b'\n', b).is_none()
            && memchr::memchr_iter(b' ', b).all(|i| b.get(i + 1) != Some(&b' '))
    };
    if clean {
        return Cow::Borrowed(t);
    }
    let mut out = String::with_capacity(t.len());
    let mut in_ws = false;
    for c in t.chars() {
        if is_ws(c) {
            in_ws = true;
        } else {
            if in_ws {
                out.push(' ');
                in_ws = false;
            }
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;

    fn schemas() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
    }

    fn examples(prefix: &str) -> Vec<(String, String)> {
        let mut v: Vec<_> = std::fs::read_dir(schemas().join("examples"))
            .expect("schemas/examples exists")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with(prefix) && n.ends_with(".xml")
            })
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("example readable"))
            })
            .collect();
        v.sort();
        v
    }

    /// The local name of the root element, found without any of the code under test.
    fn root_local_name(xml: &str) -> String {
        let mut r = quick_xml::Reader::from_str(xml);
        loop {
            match r.read_event().expect("well-formed example") {
                Event::Start(e) | Event::Empty(e) => {
                    return String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
                }
                Event::Eof => panic!("no root element"),
                _ => {}
            }
        }
    }

    const INBOUND_ROOTS: [&str; 4] = [
        "ImportPermitRequest",
        "DeclarationCheck",
        "DeclarationAmendment",
        "PermitStatusQuery",
    ];

    fn rust_decode(xml: &str) -> Result<(), Vec<EbmsError>> {
        if INBOUND_ROOTS.contains(&root_local_name(xml).as_str()) {
            decode_inbound(xml).map(|_| ())
        } else {
            decode_outbound(xml).map(|_| ())
        }
    }

    /// Validates documents with xmllint against `schemas/<root>.xsd`; returns the files that
    /// failed with xmllint's messages.
    pub(crate) fn xmllint(root: &str, docs: &[(String, String)]) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut failed = Vec::new();
        for (name, xml) in docs {
            let path = dir.path().join(name);
            std::fs::write(&path, xml).expect("write temp file");
            let out = Command::new("xmllint")
                .arg("--noout")
                .arg("--nonet")
                .arg("--schema")
                .arg(schemas().join(format!("{root}.xsd")))
                .arg(&path)
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run xmllint ({e}); install it with: apt-get install -y libxml2-utils")
                });
            if !out.status.success() {
                failed.push((
                    name.clone(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
        }
        failed
    }

    #[test]
    fn every_valid_example_passes_xmllint_and_decodes() {
        let valid = examples("valid-");
        assert_eq!(valid.len(), 8, "one valid example per document");
        for (name, xml) in &valid {
            let root = root_local_name(xml);
            let failed = xmllint(&root, &[(name.clone(), xml.clone())]);
            assert!(failed.is_empty(), "xmllint rejects {name}: {failed:?}");
            if let Err(e) = rust_decode(xml) {
                panic!("the gateway rejects {name}: {e:#?}");
            }
        }
    }

    #[test]
    fn every_invalid_example_fails_xmllint_and_decoding() {
        let invalid = examples("invalid-");
        assert!(invalid.len() >= 20, "at least 20 invalid examples");
        for (name, xml) in &invalid {
            let root = root_local_name(xml);
            let failed = xmllint(&root, &[(name.clone(), xml.clone())]);
            assert_eq!(failed.len(), 1, "xmllint accepts {name}");
            assert!(rust_decode(xml).is_err(), "the gateway accepts {name}");
        }
    }

    fn first_errors(xml: &str) -> String {
        match rust_decode(xml) {
            Ok(()) => "ok".into(),
            Err(es) => es
                .iter()
                .map(|e| format!("{} {}", e.code, e.location))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// One invalid example → the errors the gateway reports (code and XPath).
    fn check_example(file: &str, expected: &str) {
        let xml = std::fs::read_to_string(schemas().join("examples").join(file)).expect(file);
        assert_eq!(first_errors(&xml), expected, "{file}");
    }

    #[test]
    fn invalid_examples_are_reported_with_code_and_xpath() {
        use check_example as check;
        check(
            "invalid-tax-number-12-digits.xml",
            "ValueNotRecognized /ImportPermitRequest/Importer/TaxNumber",
        );
        check(
            "invalid-name-only-no-break-spaces.xml",
            "ValueNotRecognized /ImportPermitRequest/Importer/Name",
        );
        check(
            "invalid-discharge-port-not-thai.xml",
            "ValueNotRecognized /ImportPermitRequest/Shipment/DischargePort",
        );
        check(
            "invalid-hs-code-letters.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]/HSCode",
        );
        check(
            "invalid-quantity-4-fraction-digits.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/Quantity",
        );
        check(
            "invalid-quantity-zero.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]/Quantity",
        );
        check(
            "invalid-missing-unit-code.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]/Quantity/@unitCode",
        );
        check(
            "invalid-function-code.xml",
            "ValueNotRecognized /ImportPermitRequest/DocumentControl/Function",
        );
        check(
            "invalid-missing-arrival-date.xml",
            "ValueNotRecognized /ImportPermitRequest/Shipment/ArrivalDate",
        );
        check(
            "invalid-missing-goods-item.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]",
        );
        check(
            "invalid-port-4-letters.xml",
            "ValueNotRecognized /ImportPermitRequest/Shipment/LoadPort",
        );
        check(
            "invalid-item-number-1000.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/ItemNumber",
        );
        check(
            "invalid-duplicate-item-number.xml",
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/ItemNumber",
        );
        check(
            "invalid-duplicate-line-number.xml",
            "ValueNotRecognized /DeclarationCheck/Line[2]/LineNumber",
        );
        check(
            "invalid-reference-36-chars.xml",
            "ValueNotRecognized /ImportPermitRequest/DocumentControl/ReferenceNumber",
        );
        check(
            "invalid-unknown-element.xml",
            "OtherXml /ImportPermitRequest/GoodsItem[2]/Colour",
        );
        check(
            "invalid-unknown-attribute.xml",
            "OtherXml /ImportPermitRequest/GoodsItem[2]/HSCode/@version",
        );
        check(
            "invalid-elements-out-of-order.xml",
            "OtherXml /ImportPermitRequest/GoodsItem[2]/Brand",
        );
        check(
            "invalid-shipment-twice.xml",
            "OtherXml /ImportPermitRequest/Shipment",
        );
        check(
            "invalid-text-in-complex-element.xml",
            "OtherXml /ImportPermitRequest/Invoice",
        );
        check(
            "invalid-element-inside-value.xml",
            "OtherXml /DeclarationCheck/Line[1]/InvoiceNumber/Suffix",
        );
        check(
            "invalid-child-in-foreign-namespace.xml",
            "OtherXml /ImportPermitRequest/Importer/NameEn",
        );
        check(
            "invalid-namespace-version-1_07.xml",
            "NotSupported /ImportPermitRequest",
        );
        check(
            "invalid-foreign-namespace.xml",
            "NotSupported /DeclarationAmendment",
        );
        check(
            "invalid-no-namespace.xml",
            "NotSupported /DeclarationAmendmentResponse",
        );
        check(
            "invalid-status-query-permit-and-importer.xml",
            "OtherXml /PermitStatusQuery/Importer",
        );
        check(
            "invalid-status-query-missing-reference.xml",
            "ValueNotRecognized /PermitStatusQuery/ReferenceNumber",
        );
        check(
            "invalid-response-standard-not-canonical.xml",
            "ValueNotRecognized /ImportPermitResponse/ItemResult[1]/Standard",
        );
        check(
            "invalid-reason-one-message.xml",
            "ValueNotRecognized /DeclarationCheckResponse/Line[2]/Reason[1]",
        );
        check(
            "invalid-reason-message-lang-twice.xml",
            "ValueNotRecognized /DeclarationCheckResponse/Line[2]/Reason[1]/Message[2]/@xml:lang",
        );
        check(
            "invalid-history-actor.xml",
            "ValueNotRecognized /PermitStatusResponse/History/Entry[3]/Actor",
        );
        check(
            "invalid-history-empty.xml",
            "ValueNotRecognized /PermitStatusResponse/History/Entry[1]",
        );
        check(
            "invalid-permit-number-serial-zero.xml",
            "ValueNotRecognized /PermitStatusResponse/Permit/PermitNumber",
        );
    }

    fn valid(doc: &str) -> String {
        std::fs::read_to_string(schemas().join("examples").join(format!("valid-{doc}.xml")))
            .expect(doc)
    }

    /// An edited copy of a valid example → the errors (code and XPath) the gateway reports.
    fn check_edit(doc: &str, edits: &[(&str, &str)], expected: &str) {
        let mut xml = valid(doc);
        for (from, to) in edits {
            assert!(xml.contains(from), "{from} not in {doc}");
            xml = xml.replacen(from, to, 1);
        }
        assert_eq!(first_errors(&xml), expected, "{edits:?}");
    }

    #[test]
    fn conversion_errors_are_all_collected_with_their_xpaths() {
        use check_edit as check;
        let ipr = "ImportPermitRequest";
        check(ipr, &[], "ok");
        // Several problems in one document: every one is reported, in document order.
        check(
            ipr,
            &[
                ("<Branch>00000</Branch>", "<Branch>0</Branch>"),
                ("<HSCode>85163200001</HSCode>", "<HSCode>8516</HSCode>"),
                (
                    "<Quantity unitCode=\"KGM\">350.125</Quantity>",
                    "<Quantity unitCode=\"kg\">-1</Quantity>",
                ),
                (
                    "<IssueDate>2026-10-02</IssueDate>",
                    "<IssueDate>2026-13-02</IssueDate>",
                ),
            ],
            "ValueNotRecognized /ImportPermitRequest/Importer/Branch; \
             ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/HSCode; \
             ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/Quantity/@unitCode; \
             ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/Quantity; \
             ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/TestReport/IssueDate",
        );
        // Structural problems are all listed too.
        check(
            ipr,
            &[
                ("<Brand>PowerOne</Brand>", "<Brand>PowerOne</Brand><Colour/>"),
                ("<Invoice>", "<Invoice><Extra>1</Extra>"),
            ],
            "OtherXml /ImportPermitRequest/Invoice/Extra; OtherXml /ImportPermitRequest/GoodsItem[1]/Colour",
        );
        // Structure problems and value problems of one document are reported together.
        check(
            ipr,
            &[
                (
                    "<Brand>PowerOne</Brand>",
                    "<Brand>PowerOne</Brand><Colour/>",
                ),
                ("<ArrivalDate>2026-12-15</ArrivalDate>", ""),
            ],
            "OtherXml /ImportPermitRequest/GoodsItem[1]/Colour; \
             ValueNotRecognized /ImportPermitRequest/Shipment/ArrivalDate",
        );
        // Agent tax numbers must be fully valid; the importer's keeps its form only (rule 0).
        check(
            ipr,
            &[(
                "<TaxNumber>0994000617721</TaxNumber>",
                "<TaxNumber>0994000617722</TaxNumber>",
            )],
            "ValueNotRecognized /ImportPermitRequest/Agent/TaxNumber",
        );
        check(
            ipr,
            &[(
                "<TaxNumber>0105536112014</TaxNumber>",
                "<TaxNumber>0105536112015</TaxNumber>",
            )],
            "ok",
        );
        // Whitespace is collapsed as xs:token does.
        check(
            ipr,
            &[("<Brand>Breeze</Brand>", "<Brand>\n   Breeze \t </Brand>")],
            "ok",
        );
        check(
            ipr,
            &[("<Model>HD-1800</Model>", "<Model/>")],
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/Model",
        );
        check(
            ipr,
            &[(
                "<Quantity unitCode=\"C62\">1200</Quantity>",
                "<Quantity unitCode=\"C62\"/>",
            )],
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]/Quantity",
        );
        check(
            ipr,
            &[(
                "<Quantity unitCode=\"C62\">1200</Quantity>",
                "<Quantity unitCode=\"C62\">1.</Quantity>",
            )],
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[1]/Quantity",
        );
        check(
            ipr,
            &[(
                "<Quantity unitCode=\"C62\">1200</Quantity>",
                "<Quantity unitCode=\"C62\">1.2500</Quantity>",
            )],
            "ok",
        );
        check(
            ipr,
            &[(
                "<ArrivalDate>2026-12-15</ArrivalDate>",
                "<ArrivalDate>1899-12-31</ArrivalDate>",
            )],
            "ValueNotRecognized /ImportPermitRequest/Shipment/ArrivalDate",
        );
        check(
            ipr,
            &[("<Manufacturer>", "<Manufacturer2/><Manufacturer>")],
            "OtherXml /ImportPermitRequest/GoodsItem[1]/Manufacturer2",
        );
        check(
            ipr,
            &[("<Description>เครื่องเป่าผม</Description>", "")],
            "ValueNotRecognized /ImportPermitRequest/GoodsItem[2]/Description",
        );
        check(
            ipr,
            &[(
                "<Standard>มอก. 2432-2555</Standard>",
                "<Standard>not a standard at all</Standard>",
            )],
            "ok",
        );
        check(
            ipr,
            &[(
                "<Name>บริษัท สยามอิเล็กทรอนิกส์ จำกัด</Name>",
                "<Name>A &bogus; B</Name>",
            )],
            "OtherXml /ImportPermitRequest/Importer/Name",
        );
        check(
            ipr,
            &[("<Shipment>", "<Shipment><!-- arrival by sea -->")],
            "ok",
        );
        check(
            ipr,
            &[("<Shipment>", "<Shipment><?evil x?>")],
            "SecurityFailure /ImportPermitRequest/Shipment",
        );
        check(
            ipr,
            &[(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<!DOCTYPE x [<!ENTITY a \"b\">]>",
            )],
            "SecurityFailure /",
        );
        check(
            ipr,
            &[("</ImportPermitRequest>", "</ImportPermitRequest><More/>")],
            "OtherXml /",
        );
        check(
            ipr,
            &[("</Shipment>", "</Shipmen>")],
            "OtherXml /ImportPermitRequest/Shipment",
        );
        // A request where a response is expected, and the other way round.
        assert_eq!(
            decode_outbound(&valid(ipr)).unwrap_err()[0].code,
            ErrorCode::NotSupported
        );
        assert_eq!(
            decode_inbound(&valid("ImportPermitResponse")).unwrap_err()[0].code,
            ErrorCode::NotSupported
        );

        let resp = "ImportPermitResponse";
        check(
            resp,
            &[(
                "<DecidedAt>2026-11-26T14:03:27.512+07:00</DecidedAt>",
                "<DecidedAt>2026-11-26T14:03:27+15:00</DecidedAt>",
            )],
            "ValueNotRecognized /ImportPermitResponse/DocumentControl/DecidedAt",
        );
        check(
            resp,
            &[(
                "<DecidedAt>2026-11-26T14:03:27.512+07:00</DecidedAt>",
                "<DecidedAt>2026-11-26 14:03:27Z</DecidedAt>",
            )],
            "ValueNotRecognized /ImportPermitResponse/DocumentControl/DecidedAt",
        );
        check(
            resp,
            &[(
                "<Standard>TIS 60335 Part 2(23)-2567</Standard>",
                "<Standard>TIS 60335 Part 2(23)-2024</Standard>",
            )],
            "ValueNotRecognized /ImportPermitResponse/ItemResult[2]/Standard",
        );
        check(
            resp,
            &[("<Message xml:lang=\"en\">", "<Message xml:lang=\"fr\">")],
            "ValueNotRecognized /ImportPermitResponse/ItemResult[2]/Reason[1]/Message[2]/@xml:lang",
        );
        check(
            resp,
            &[("<Message xml:lang=\"th\">", "<Message>")],
            "ValueNotRecognized /ImportPermitResponse/ItemResult[2]/Reason[1]/Message[1]/@xml:lang",
        );

        let psr = "PermitStatusResponse";
        check(
            psr,
            &[(
                "<WrittenOffQuantity unitCode=\"C62\">600",
                "<WrittenOffQuantity unitCode=\"KGM\">600",
            )],
            "ValueNotRecognized /PermitStatusResponse/Item[1]/WrittenOffQuantity/@unitCode",
        );
        check(
            psr,
            &[(
                "<RemainingQuantity unitCode=\"C62\">600</RemainingQuantity>",
                "",
            )],
            "ValueNotRecognized /PermitStatusResponse/Item[1]/RemainingQuantity",
        );
        check(
            psr,
            &[("<Actor>system</Actor>", "<Actor>officer:</Actor>")],
            "ValueNotRecognized /PermitStatusResponse/History/Entry[1]/Actor",
        );

        let psq = "PermitStatusQuery";
        check(
            psq,
            &[(
                "<tisi:TaxNumber>0105536112014</tisi:TaxNumber>",
                "<tisi:TaxNumber>0105536112015</tisi:TaxNumber>",
            )],
            "ValueNotRecognized /PermitStatusQuery/Importer/TaxNumber",
        );
        check(
            psq,
            &[(
                "xmlns:tisi=\"urn:th:tisi:nsw:permit:1_00\"",
                "xmlns:tisi=\"urn:th:tisi:nsw:permit:1_01\"",
            )],
            "NotSupported /PermitStatusQuery",
        );
    }

    fn big_request(items: usize) -> String {
        let xml = valid("ImportPermitRequest");
        let start = xml.find("  <GoodsItem>").expect("goods item");
        let end = xml.find("  </GoodsItem>").expect("goods item end") + "  </GoodsItem>\n".len();
        let item = &xml[start..end];
        let mut out = String::with_capacity(xml.len() + items * item.len());
        out.push_str(&xml[..start]);
        for i in 1..=items {
            out.push_str(&item.replacen(
                "<ItemNumber>1</ItemNumber>",
                &format!("<ItemNumber>{}</ItemNumber>", i.min(999)),
                1,
            ));
        }
        out.push_str(&xml[xml.rfind("</ImportPermitRequest>").expect("end")..]);
        out
    }

    #[test]
    fn at_most_999_goods_items() {
        let ok = big_request(999);
        assert!(decode_inbound(&ok).is_ok());
        let too_many = big_request(1000);
        let errors = decode_inbound(&too_many).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, ErrorCode::OtherXml);
        assert_eq!(errors[0].location, "/ImportPermitRequest/GoodsItem[1000]");
        let failed = xmllint(
            "ImportPermitRequest",
            &[("ok.xml".into(), ok), ("too-many.xml".into(), too_many)],
        );
        let names: Vec<_> = failed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["too-many.xml"]);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut xml = valid("DeclarationAmendment");
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        xml = xml.replacen(
            "<Action>CANCEL</Action>",
            &format!("<Action>CANCEL</Action>{deep}"),
            1,
        );
        let errors = decode_inbound(&xml).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::OtherXml, "{errors:?}");
    }

    #[test]
    fn collapse_trims_and_joins_blank_runs() {
        for (text, expected, borrowed) in [
            ("", "", true),
            ("a b", "a b", true),
            ("  a b \n", "a b", true),
            ("a  b", "a b", false),
            ("a\tb", "a b", false),
            ("a \r\n b", "a b", false),
            ("บริษัท  สยาม\nจำกัด", "บริษัท สยาม จำกัด", false),
            ("\t\n ", "", true),
        ] {
            let got = collapse(text);
            assert_eq!(got, expected, "{text:?}");
            assert_eq!(matches!(got, Cow::Borrowed(_)), borrowed, "{text:?}");
        }
    }

    #[test]
    fn version_table_matches_the_supported_list() {
        let ids: Vec<_> = VERSIONS.iter().map(|v| v.id).collect();
        assert_eq!(ids, SUPPORTED_VERSIONS);
        for v in VERSIONS {
            assert_eq!(v.namespace, format!("{NAMESPACE_PREFIX}{}", v.id));
        }
        assert_eq!(current_namespace(), "urn:th:tisi:nsw:permit:1_00");
    }
}

//! The fast path of [`super::intake::intake`] (and of [`super::reply::parse_reply`]) for
//! business messages that are accepted as they are, inline (packaging B) or as SOAP with
//! attachments (packaging A): one pass of a strict tokenizer over the SOAP text (borrowed
//! slices, no namespace resolver) that tracks the namespace declarations itself, builds the
//! envelope's header elements for the full path's header reader, and records the payload's
//! tape (see [`Tape`]) straight from the envelope's text, or from the payload part's; the
//! payload version's conversion then makes the domain document from the tape, exactly as it
//! does for the full path's structure pass. A multipart body is split into its parts by the
//! full path's MIME reader.
//!
//! It answers only for what the full path accepts, and then with the same value: at anything
//! unusual or wrong (markup the tokenizer does not read, a declaration it does not model, a
//! comment or CDATA where it matters, a structure, value or header problem, a manifest other
//! than one `cid:` reference to a part that is there, any check of the scan) it gives up, and
//! the full path reads the message again and says what is wrong, with every error and its
//! XPath. So it applies exactly the scan's checks (DOCTYPE, processing instructions, XML
//! declaration, depth, item count, one root element), reads names against the exact namespace
//! URIs, and leaves every decision on values to the code the full path runs (`read_envelope`,
//! the version's conversion). The tokenizer accepts a subset of what quick-xml accepts and
//! reads it to the same text: names, attribute values and text are the input's own bytes,
//! unescaped with quick-xml's `unescape`.

use std::borrow::Cow;

use quick_xml::escape::unescape;

use super::encoding::decode_xml;
use super::envelope::{attach, ns_of_uri, read_envelope, Envelope, Node, Ns, SERVICE_PERMIT};
use super::intake::{Inbound, InboundBody, Limits, Packaging, BUSINESS_ACTIONS};
use super::packaging::{cid_of_href, parse_multipart, ContentType};
use super::payload::{trim_xml_blanks, Content, Elem, Tape, Version, MAX_DEPTH, VERSIONS};
use super::reply::Reply;
use crate::domain::documents::OutboundDocument;

const XML_URI: &[u8] = b"http://www.w3.org/XML/1998/namespace";
const XMLNS_URI: &[u8] = b"http://www.w3.org/2000/xmlns/";

/// [`super::intake::intake`] of a message that is accepted as it is; `None` leaves the message
/// to the full path (which may accept it too).
pub(super) fn intake_fast(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Option<Inbound> {
    read_business(content_type, body, limits, Dir::Inbound, |m| {
        let env = m.envelope;
        if !env.header_errors.is_empty() {
            return None;
        }
        let header = env.header?;
        if !BUSINESS_ACTIONS.contains(&header.action.as_str())
            || header.service.value != SERVICE_PERMIT
            || header.action != m.root
            || header.ref_to_message_id.is_some()
        {
            return None;
        }
        let document = (m.version.decode_inbound)(m.payload_xml, m.root, Some(m.tape)).ok()?;
        Some(Inbound {
            header,
            ack_requested: env.ack_requested.map(|a| a.actor),
            sync_reply: env.sync_reply,
            packaging: m.packaging,
            body: InboundBody::Document(document),
            payload_xml: Some(m.payload_xml.to_owned()),
            acknowledgment: env.acknowledgment.map(|a| a.ref_to_message_id),
            aliases: env.aliases,
        })
    })
}

/// [`super::reply::parse_reply`] of a reply that carries a business document and that it
/// accepts as it is; `None` leaves the reply to the full path.
pub(super) fn reply_fast(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Option<Reply<OutboundDocument>> {
    read_business(content_type, body, limits, Dir::Outbound, |m| {
        let env = m.envelope;
        if env.fault.is_some() || !env.header_errors.is_empty() {
            return None;
        }
        let header = env.header?;
        let document = (m.version.decode_outbound)(m.payload_xml, m.root, Some(m.tape)).ok()?;
        Some(Reply {
            packaging: m.packaging,
            header,
            ack_requested: env.ack_requested.map(|a| a.actor),
            acknowledgment: env.acknowledgment,
            error_list: env.error_list,
            payload_xml: Some(m.payload_xml.to_owned()),
            payload: Some(document),
        })
    })
}

/// Which of a version's content models a payload is read against.
#[derive(Clone, Copy)]
enum Dir {
    Inbound,
    Outbound,
}

impl Dir {
    fn models(self, version: &'static Version) -> &'static [Elem] {
        match self {
            Dir::Inbound => version.inbound,
            Dir::Outbound => version.outbound,
        }
    }
}

/// What the fast pass read of a message that carries a business payload.
struct Business<'m, 'x> {
    envelope: Envelope,
    packaging: Packaging,
    /// The payload element (inline) or part (multipart) as a document of its own.
    payload_xml: &'m str,
    version: &'static Version,
    root: &'static str,
    tape: &'m [Tape<'x>],
}

/// Reads a message whose payload is in its body (packaging B) or in the one part its manifest
/// references by `cid:` (packaging A), and hands it to `f`; `None` for anything the full
/// path must read.
fn read_business<T>(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
    dir: Dir,
    f: impl FnOnce(Business<'_, '_>) -> Option<T>,
) -> Option<T> {
    if body.len() > limits.max_body_bytes {
        return None;
    }
    let soap = match content_type.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let ct = ContentType::parse(s)?;
            if ct.is_multipart() {
                return read_multipart(&ct, body, limits, dir, f);
            }
            if !(ct.is_xml() || ct.mime == "text/plain") {
                return None;
            }
            decode_xml(body, ct.param("charset")).ok()?
        }
        None => {
            // Multipart without a Content-Type: the full path finds its boundary.
            let t = body.trim_ascii_start();
            if t.starts_with(b"--") || body.starts_with(b"\r\n--") {
                return None;
            }
            decode_xml(body, None).ok()?
        }
    };
    let read = read(&soap, limits, dir)?;
    let (payload_xml, version, root, tape) = read.payload?;
    f(Business {
        envelope: read.envelope,
        packaging: Packaging::Inline,
        payload_xml: &payload_xml,
        version,
        root,
        tape: &tape,
    })
}

/// [`read_business`] of a multipart body.
fn read_multipart<T>(
    ct: &ContentType,
    body: &[u8],
    limits: &Limits,
    dir: Dir,
    f: impl FnOnce(Business<'_, '_>) -> Option<T>,
) -> Option<T> {
    let mp = parse_multipart(ct, body).ok()?;
    let charset = mp.envelope.charset().or(ct.param("charset"));
    let soap = decode_xml(&mp.envelope.body, charset).ok()?;
    let read = read(&soap, limits, dir)?;
    let env = &read.envelope;
    if read.payload.is_some() || env.payload_count != 0 || env.fault.is_some() {
        return None;
    }
    let [href] = env.manifest.as_ref()?.references.as_slice() else {
        return None;
    };
    cid_of_href(href)?;
    let part = mp.by_cid(href)?;
    let text = decode_xml(&part.body, part.charset()).ok()?;
    let (version, root, tape) = read_part(&text, limits, dir)?;
    f(Business {
        envelope: read.envelope,
        packaging: Packaging::Multipart,
        payload_xml: &text,
        version,
        root,
        tape: &tape,
    })
}

/// What the fast pass read of a message's envelope: the envelope (its payload left out) and,
/// when the body carries the payload, the payload element as a standalone document, with its
/// version, root and tape.
struct FastRead<'x> {
    envelope: Envelope,
    payload: Option<Payload<'x>>,
}

type Payload<'x> = (String, &'static Version, &'static str, Vec<Tape<'x>>);

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// Most attributes on one start tag that the fast path reads.
const MAX_ATTRS: usize = 8;

/// A qualified name: the whole of it and where its first colon is.
#[derive(Clone, Copy)]
struct QName<'x> {
    name: &'x str,
    colon: Option<usize>,
}

impl<'x> QName<'x> {
    fn prefix(&self) -> Option<&'x str> {
        self.colon.and_then(|i| self.name.get(..i))
    }
    fn local(&self) -> &'x str {
        match self.colon {
            Some(i) => self.name.get(i + 1..).unwrap_or_default(),
            None => self.name,
        }
    }
    fn is_decl(&self) -> Option<&'x str> {
        match self.name.strip_prefix("xmlns") {
            Some("") => Some(""),
            Some(rest) => rest.strip_prefix(':'),
            None => None,
        }
    }
}

/// The attributes of a start tag: names and values as written.
struct Attrs<'x> {
    len: usize,
    list: [(QName<'x>, &'x str); MAX_ATTRS],
}

impl<'x> Attrs<'x> {
    fn iter(&self) -> impl Iterator<Item = &(QName<'x>, &'x str)> {
        self.list.iter().take(self.len)
    }
}

/// A token; a start tag's attributes are in [`Lexer::attrs`] until the next one.
enum Tok<'x> {
    Start {
        name: QName<'x>,
        empty: bool,
    },
    /// An end tag: its name is checked with [`Lexer::close`].
    End,
    /// Text, and whether it holds a `&`.
    Text(&'x str, bool),
    Comment,
    /// The XML declaration.
    Decl,
    Eof,
}

/// XML's blanks.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// The bytes of the names the fast path reads: ASCII letters, digits, `_`, `-`, `.`, `:`.
static NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b == b':';
        c += 1;
    }
    t
};

/// A strict tokenizer for the XML that well-behaved partners send: ASCII names, attribute
/// values in quotes without `<`, comments, an XML declaration, text. `None` for anything else
/// (CDATA, DOCTYPE, processing instructions, odd spacing inside tags, malformed markup): the
/// full path's reader then decides. Everything it accepts, quick-xml reads to the same events.
struct Lexer<'x> {
    xml: &'x str,
    pos: usize,
    /// The attributes of the last start tag.
    attrs: Attrs<'x>,
}

impl<'x> Lexer<'x> {
    /// After [`Tok::End`]: the end tag names `name` (the open element's), then closes.
    fn close(&mut self, name: &str) -> Option<()> {
        let b = self.xml.as_bytes();
        let after = self.pos + name.len();
        if b.get(self.pos..after)? != name.as_bytes() || b.get(after) != Some(&b'>') {
            return None;
        }
        self.pos = after + 1;
        Some(())
    }

    fn next(&mut self) -> Option<Tok<'x>> {
        let xml = self.xml;
        let b = xml.as_bytes();
        let byte = |i: usize| b.get(i).copied();
        let at = self.pos;
        if at >= b.len() {
            return Some(Tok::Eof);
        }
        if b[at] != b'<' {
            let rest = &b[at..];
            let (end, amp) = match memchr::memchr2(b'<', b'&', rest) {
                Some(i) if rest[i] == b'&' => (
                    memchr::memchr(b'<', &rest[i..]).map_or(b.len(), |j| at + i + j),
                    true,
                ),
                Some(i) => (at + i, false),
                None => (b.len(), false),
            };
            self.pos = end;
            return Some(Tok::Text(xml.get(at..end)?, amp));
        }
        match byte(at + 1)? {
            b'/' => {
                self.pos = at + 2;
                Some(Tok::End)
            }
            b'!' => {
                if !b[at..].starts_with(b"<!--") {
                    return None;
                }
                let body = at + 4;
                let end = body + memchr::memmem::find(b.get(body..)?, b"-->")?;
                let content = &b[body..end];
                if memchr::memmem::find(content, b"--").is_some() || content.ends_with(b"-") {
                    return None;
                }
                self.pos = end + 3;
                Some(Tok::Comment)
            }
            b'?' => {
                if !(b[at..].starts_with(b"<?xml") && is_blank(byte(at + 5)?)) {
                    return None;
                }
                let end = at + 5 + memchr::memmem::find(b.get(at + 5..)?, b"?>")?;
                self.pos = end + 2;
                Some(Tok::Decl)
            }
            _ => {
                let (name, mut i) = name_at(xml, at + 1)?;
                let attrs = &mut self.attrs;
                attrs.len = 0;
                loop {
                    match byte(i)? {
                        b'>' => {
                            self.pos = i + 1;
                            return Some(Tok::Start { name, empty: false });
                        }
                        b'/' => {
                            if byte(i + 1)? != b'>' {
                                return None;
                            }
                            self.pos = i + 2;
                            return Some(Tok::Start { name, empty: true });
                        }
                        c if is_blank(c) => {
                            while is_blank(byte(i)?) {
                                i += 1;
                            }
                            if matches!(byte(i)?, b'>' | b'/') {
                                continue;
                            }
                            let (key, j) = name_at(xml, i)?;
                            if byte(j)? != b'=' {
                                return None;
                            }
                            let quote = byte(j + 1)?;
                            if quote != b'"' && quote != b'\'' {
                                return None;
                            }
                            let v = j + 2;
                            let close = v + memchr::memchr(quote, b.get(v..)?)?;
                            let value = xml.get(v..close)?;
                            if value.as_bytes().contains(&b'<')
                                || attrs.iter().any(|(k, _)| k.name == key.name)
                            {
                                return None;
                            }
                            *attrs.list.get_mut(attrs.len)? = (key, value);
                            attrs.len += 1;
                            i = close + 1;
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
}

/// The name starting at byte `i` of `xml` and the index after it.
fn name_at(xml: &str, i: usize) -> Option<(QName<'_>, usize)> {
    {
        let rest = xml.as_bytes().get(i..)?;
        if !is_name_start(*rest.first()?) {
            return None;
        }
        let mut len = rest.len();
        let mut colon = None;
        for (j, &c) in rest.iter().enumerate() {
            if !NAME_BYTE[usize::from(c)] {
                len = j;
                break;
            }
            if c == b':' {
                // A prefix and a local name, both non-empty, at most one colon.
                if colon.is_some() {
                    return None;
                }
                colon = Some(j);
            }
        }
        if colon.is_some_and(|c| c + 1 == len) {
            return None;
        }
        let name = xml.get(i..i + len)?;
        Some((QName { name, colon }, i + len))
    }
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/// One namespace declaration in force: prefix (empty for the default namespace), URI as
/// written, and the depth of the element that declares it.
struct Decl<'x> {
    prefix: &'x str,
    uri: &'x [u8],
    /// Which of the envelope's namespaces `uri` is.
    ns: Ns,
    depth: usize,
}

/// What a name resolves to, as quick-xml's resolver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resolved<'x> {
    Unbound,
    Bound(&'x [u8], Ns),
    Unknown,
}

/// The namespace declarations in force.
struct Scope<'x> {
    decls: Vec<Decl<'x>>,
}

impl<'x> Scope<'x> {
    fn new() -> Self {
        Scope {
            decls: Vec::with_capacity(8),
        }
    }

    /// Records the declarations among `attrs`, of an element opened with `depth` elements
    /// around it. `Some(true)` when there are other attributes too; `None` for a declaration
    /// left to the full path (of a reserved prefix or URI, or an empty URI).
    fn enter(&mut self, attrs: &Attrs<'x>, depth: usize) -> Option<bool> {
        let mut others = false;
        for (key, value) in attrs.iter() {
            let Some(prefix) = key.is_decl() else {
                others = true;
                continue;
            };
            let uri = value.as_bytes();
            if prefix.len() >= 3 && prefix.as_bytes()[..3].eq_ignore_ascii_case(b"xml")
                || uri.is_empty()
                || uri == XML_URI
                || uri == XMLNS_URI
            {
                return None;
            }
            self.decls.push(Decl {
                prefix,
                uri,
                ns: ns_of_uri(uri),
                depth,
            });
        }
        Some(others)
    }

    /// Drops the declarations of the element closed at `depth`.
    fn leave(&mut self, depth: usize) {
        while self.decls.last().is_some_and(|d| d.depth >= depth) {
            self.decls.pop();
        }
    }

    fn prefix(&self, p: &str) -> Resolved<'x> {
        match p {
            "xml" => Resolved::Bound(XML_URI, Ns::Xml),
            "xmlns" => Resolved::Bound(XMLNS_URI, Ns::Other),
            _ => self
                .decls
                .iter()
                .rev()
                .find(|d| d.prefix == p)
                .map_or(Resolved::Unknown, |d| Resolved::Bound(d.uri, d.ns)),
        }
    }

    /// An element name's namespace.
    fn element(&self, q: &QName<'_>) -> Resolved<'x> {
        match q.prefix() {
            Some(p) => self.prefix(p),
            None => self
                .decls
                .iter()
                .rev()
                .find(|d| d.prefix.is_empty())
                .map_or(Resolved::Unbound, |d| Resolved::Bound(d.uri, d.ns)),
        }
    }

    /// An attribute name's namespace (no default namespace for attributes).
    fn attribute(&self, q: &QName<'_>) -> Resolved<'x> {
        match q.prefix() {
            Some(p) => self.prefix(p),
            None => Resolved::Unbound,
        }
    }
}

fn ns_of(r: Resolved<'_>) -> Ns {
    match r {
        Resolved::Bound(_, ns) => ns,
        Resolved::Unbound => Ns::None,
        Resolved::Unknown => Ns::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// The scan's checks
// ---------------------------------------------------------------------------------------------

/// The checks of [`super::intake::scan`] (as `envelope::Checks` applies them event by event).
struct Limited<'l> {
    limits: &'l Limits,
    /// Only blank text seen so far (an XML declaration may come now).
    first: bool,
    items: usize,
    roots: usize,
}

impl Limited<'_> {
    /// A start tag with `depth` elements open around it.
    fn start(&mut self, name: &QName<'_>, depth: usize) -> Option<()> {
        self.first = false;
        if depth == 0 {
            self.roots += 1;
            if self.roots > 1 {
                return None;
            }
        }
        if self.limits.too_deep(depth) {
            return None;
        }
        let local = name.local();
        if local == "GoodsItem" || local == "Line" {
            self.items += 1;
            if self.items > self.limits.max_items {
                return None;
            }
        }
        Some(())
    }

    /// Text with `depth` elements open around it.
    fn text(&mut self, t: &str, depth: usize) -> Option<()> {
        let blank = t.bytes().all(|b| b.is_ascii_whitespace());
        self.first &= blank;
        (depth > 0 || blank).then_some(())
    }

    fn decl(&mut self) -> Option<()> {
        let was_first = self.first;
        self.first = false;
        was_first.then_some(())
    }

    fn other(&mut self) {
        self.first = false;
    }
}

// ---------------------------------------------------------------------------------------------
// The pass
// ---------------------------------------------------------------------------------------------

/// An envelope element as the full path builds it (its namespace declarations left out).
fn node<'x>(scope: &Scope<'x>, name: &QName<'x>, ns: Ns, attrs: &Attrs<'x>) -> Option<Node<'x>> {
    let mut list = Vec::new();
    for (key, value) in attrs.iter() {
        if key.is_decl().is_some() {
            continue;
        }
        let r = scope.attribute(key);
        let v = unescape(value).ok()?;
        list.push((ns_of(r), Cow::Borrowed(key.local()), keep_str(value, v)));
    }
    Some(Node {
        ns: Some(ns),
        local: Cow::Borrowed(name.local()),
        attrs: list,
        ..Node::default()
    })
}

/// The unescaped `v` of raw text `raw`: borrowed from the input when nothing was replaced.
fn keep_str<'x>(raw: &'x str, v: Cow<'_, str>) -> Cow<'x, str> {
    match v {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

impl<'x> Lexer<'x> {
    fn new(xml: &'x str) -> Self {
        Lexer {
            xml,
            pos: 0,
            attrs: Attrs {
                len: 0,
                list: [(
                    QName {
                        name: "",
                        colon: None,
                    },
                    "",
                ); MAX_ATTRS],
            },
        }
    }
}

impl<'l> Limited<'l> {
    fn new(limits: &'l Limits) -> Self {
        Limited {
            limits,
            first: true,
            items: 0,
            roots: 0,
        }
    }
}

/// The fast pass over a message's envelope (whose `Envelope` and `Body` do not count towards
/// the nesting limit: [`Limits::around_payload`]).
fn read<'x>(xml: &'x str, limits: &Limits, dir: Dir) -> Option<FastRead<'x>> {
    let mut lexer = Lexer::new(xml);
    let limits = &limits.around_payload();
    let mut checks = Limited::new(limits);
    let mut scope = Scope::new();
    // Declarations on the envelope and its children, in document order (what the full path
    // copies onto a payload that uses them).
    let mut outer: Vec<&'x str> = Vec::new();
    let mut stack: Vec<Node<'x>> = Vec::with_capacity(8);
    let mut names: Vec<&'x str> = Vec::with_capacity(8);
    let mut root: Option<Node<'x>> = None;
    let mut payload: Option<Payload<'x>> = None;
    loop {
        let before = lexer.pos;
        match lexer.next()? {
            Tok::Start { name, empty } => {
                let attrs = &lexer.attrs;
                let depth = stack.len();
                checks.start(&name, depth)?;
                if payload.is_some() {
                    return None;
                }
                let first_decl = scope.decls.len();
                scope.enter(attrs, depth)?;
                let own = first_decl..scope.decls.len();
                if depth <= 1 {
                    outer.extend(scope.decls.get(own.clone())?.iter().map(|d| d.prefix));
                }
                let ns = ns_of(scope.element(&name));
                let local = name.local();
                if depth == 0 && (ns != Ns::Soap || local != "Envelope") {
                    return None;
                }
                let in_body =
                    depth == 2 && stack[1].ns == Some(Ns::Soap) && stack[1].local == "Body";
                if in_body && ns != Ns::Eb && !(ns == Ns::Soap && local == "Fault") {
                    let (version, root_name, tape) = walk_payload(
                        &mut lexer,
                        &mut scope,
                        &mut checks,
                        &name,
                        empty,
                        depth,
                        dir,
                    )?;
                    let text = xml.get(before..lexer.pos)?;
                    // The full path copies the declarations the payload relies on onto it;
                    // leave such a payload to it.
                    let own = scope.decls.get(own)?;
                    for p in &outer {
                        let declared = own.iter().any(|d| d.prefix == *p);
                        if !declared && (p.is_empty() || uses_prefix(text, p)) {
                            return None;
                        }
                    }
                    scope.leave(depth);
                    payload = Some((text.to_owned(), version, root_name, tape));
                    continue;
                }
                let node = node(&scope, &name, ns, attrs)?;
                if empty {
                    scope.leave(depth);
                    attach(&mut stack, &mut root, node);
                } else {
                    stack.push(node);
                    names.push(name.name);
                }
            }
            Tok::End => {
                checks.other();
                lexer.close(names.pop()?)?;
                let node = stack.pop()?;
                scope.leave(stack.len());
                attach(&mut stack, &mut root, node);
            }
            Tok::Text(t, amp) => {
                checks.text(t, stack.len())?;
                if let Some(top) = stack.last_mut() {
                    let v = if amp {
                        unescape(t).ok()?
                    } else {
                        Cow::Borrowed(t)
                    };
                    if top.text.is_empty() {
                        top.text = keep_str(t, v);
                    } else {
                        top.text.to_mut().push_str(&v);
                    }
                }
            }
            Tok::Comment => checks.other(),
            Tok::Decl => checks.decl()?,
            Tok::Eof => break,
        }
    }
    if !stack.is_empty() {
        return None;
    }
    let root = root?;
    let mut envelope = Envelope::default();
    read_envelope(&root, &mut envelope).ok()?;
    Some(FastRead { envelope, payload })
}

/// The fast pass over a payload part: a document whose one element is a business document
/// (an XML declaration, comments and blanks around it).
fn read_part<'x>(
    xml: &'x str,
    limits: &Limits,
    dir: Dir,
) -> Option<(&'static Version, &'static str, Vec<Tape<'x>>)> {
    let mut lexer = Lexer::new(xml);
    let mut checks = Limited::new(limits);
    let mut scope = Scope::new();
    let mut payload = None;
    loop {
        match lexer.next()? {
            Tok::Start { name, empty } => {
                checks.start(&name, 0)?;
                scope.enter(&lexer.attrs, 0)?;
                payload = Some(walk_payload(
                    &mut lexer,
                    &mut scope,
                    &mut checks,
                    &name,
                    empty,
                    0,
                    dir,
                )?);
                scope.leave(0);
            }
            Tok::End => return None,
            Tok::Text(t, _) => checks.text(t, 0)?,
            Tok::Comment => checks.other(),
            Tok::Decl => checks.decl()?,
            Tok::Eof => break,
        }
    }
    payload
}

/// Whether `text` holds `prefix:` (as the full path looks for the prefixes a payload uses).
fn uses_prefix(text: &str, prefix: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr_iter(b':', b)
        .any(|i| i >= prefix.len() && b.get(i - prefix.len()..i) == Some(prefix.as_bytes()))
}

/// Where the walk is in the payload: the children the current element may hold (`None`: it
/// holds text), the position of its last child in them and how often each appeared.
struct Frame<'x> {
    name: &'x str,
    children: Option<&'static [Elem]>,
    last: usize,
    counts: [u16; 24],
}

impl<'x> Frame<'x> {
    fn of(name: &'x str, model: &'static Elem) -> Frame<'x> {
        Frame {
            name,
            children: match model.content {
                Content::Seq(c) => Some(c),
                Content::Text => None,
            },
            last: 0,
            counts: [0; 24],
        }
    }
}

/// The tape of the payload whose start tag (`name`, `attrs`, `empty`, with `depth` elements
/// around it) was just read, reading on to its end tag; `None` when it is not a structurally
/// clean inbound document of a supported version that the tape records faithfully, or when
/// the scan's checks refuse it.
#[allow(clippy::too_many_arguments)]
fn walk_payload<'x>(
    lexer: &mut Lexer<'x>,
    scope: &mut Scope<'x>,
    checks: &mut Limited<'_>,
    name: &QName<'x>,
    empty: bool,
    depth: usize,
    dir: Dir,
) -> Option<(&'static Version, &'static str, Vec<Tape<'x>>)> {
    let Resolved::Bound(uri, _) = scope.element(name) else {
        return None;
    };
    let version = VERSIONS
        .iter()
        .copied()
        .find(|v| v.namespace.as_bytes() == uri)?;
    let local = name.local();
    let model = dir.models(version).iter().find(|m| m.name == local)?;
    // The root may carry namespace declarations only.
    if lexer.attrs.iter().any(|(k, _)| k.is_decl().is_none()) {
        return None;
    }
    let mut tape = Vec::with_capacity(lexer.xml.len() / 16);
    let mut stack: Vec<Frame<'x>> = Vec::with_capacity(8);
    stack.push(Frame::of(name.name, model));
    let mut open = usize::from(!empty);
    while open > 0 {
        match lexer.next()? {
            Tok::Start { name, empty } => {
                let attrs = &lexer.attrs;
                let at = depth + open;
                checks.start(&name, at)?;
                if !empty {
                    open += 1;
                }
                let others = scope.enter(attrs, at)?;
                match scope.element(&name) {
                    // The root's declaration, or another one of the same namespace.
                    Resolved::Bound(u, _) if std::ptr::eq(u, uri) || u == uri => {}
                    _ => return None,
                }
                let local = name.local();
                let frame = stack.last_mut()?;
                let children = frame.children?;
                // In order: at or after the last child seen.
                let pos = frame.last
                    + children
                        .get(frame.last..)?
                        .iter()
                        .position(|c| c.name == local)?;
                let model = children.get(pos)?;
                frame.last = pos;
                let count = frame.counts.get_mut(pos)?;
                *count = count.saturating_add(1);
                if *count > model.max {
                    return None;
                }
                let attr = if others {
                    attribute(scope, attrs, model.attrs)?
                } else {
                    None
                };
                tape.push(Tape::Open(model.name, attr));
                if empty {
                    tape.push(Tape::Close);
                    scope.leave(at);
                } else {
                    stack.push(Frame::of(name.name, model));
                    if stack.len() > MAX_DEPTH {
                        return None;
                    }
                }
            }
            Tok::End => {
                checks.other();
                open -= 1;
                lexer.close(stack.pop()?.name)?;
                if !stack.is_empty() {
                    tape.push(Tape::Close);
                }
                if open > 0 {
                    scope.leave(depth + open);
                }
            }
            Tok::Text(t, amp) => {
                checks.text(t, depth + open)?;
                let frame = stack.last()?;
                if frame.children.is_some() {
                    if !t.bytes().all(|b| b.is_ascii_whitespace()) {
                        return None;
                    }
                    continue;
                }
                let raw = trim_xml_blanks(t.as_bytes());
                let trimmed = t
                    .get(raw.as_ptr() as usize - t.as_ptr() as usize..)?
                    .get(..raw.len())?;
                let text = if amp {
                    unescape(t).ok()?;
                    Cow::Owned(unescape(trimmed).ok()?.into_owned())
                } else {
                    Cow::Borrowed(trimmed)
                };
                // One piece of text per element, right after its start.
                if !matches!(tape.last(), Some(Tape::Open(..))) {
                    return None;
                }
                if !text.is_empty() {
                    tape.push(Tape::Text(text));
                }
            }
            Tok::Comment => {
                checks.other();
                // Not inside a text element (the tape would not record its text whole).
                stack.last()?.children?;
            }
            Tok::Decl | Tok::Eof => return None,
        }
    }
    Some((version, model.name, tape))
}

/// The value of the one attribute a payload element may carry (`unitCode`, `xml:lang`), as
/// the structure pass records it; `None` for any other attribute or a value it cannot read.
fn attribute<'x>(
    scope: &Scope<'x>,
    attrs: &Attrs<'x>,
    allowed: &[&str],
) -> Option<Option<Cow<'x, str>>> {
    let mut value = None;
    for (key, raw) in attrs.iter() {
        if key.is_decl().is_some() {
            continue;
        }
        let local = key.local();
        let ok = match scope.attribute(key) {
            Resolved::Unbound => allowed.contains(&local),
            Resolved::Bound(_, Ns::Xml) => local == "lang" && allowed.contains(&"xml:lang"),
            _ => false,
        };
        if !ok {
            return None;
        }
        value = Some(keep_str(raw, unescape(raw).ok()?));
    }
    Some(value)
}

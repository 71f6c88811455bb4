//! Message packaging (spec §1): A = `multipart/related` (SOAP part + payload part referenced
//! by `cid:`), B = inline `text/xml` (payload inside `SOAP:Body`).
//!
//! Liberal reading of packaging A, as real ebMS 2.0 stacks vary:
//! - header names are case-insensitive; MIME parameters may be quoted or not, in any order,
//!   with blanks around `=` and `;`, and with a trailing `;`;
//! - lines may end in CRLF or a bare LF; a preamble and an epilogue are ignored; a missing
//!   close delimiter is tolerated; header lines may be folded;
//! - `start` may be absent (or name no part): the first part is then the envelope;
//! - `Content-ID` may be written with or without `<>`; a `cid:` reference may be URL-encoded;
//! - `Content-Transfer-Encoding` `7bit`, `8bit`, `binary` are taken as is, `base64` (some
//!   stacks base64 every attachment) and `quoted-printable` (as JavaMail-based ones may
//!   write text parts) are decoded; anything else is refused with a clear message;
//! - a `charset` parameter on a part is honoured (see [`super::encoding`]).
//!
//! What the gateway writes is strict: CRLF everywhere, quoted parameters, `<>` around ids.

use base64::Engine as _;

/// A parsed MIME media type: lower-case `type/subtype` and its parameters (names lower-case,
/// values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub mime: String,
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// Parses a `Content-Type` value. Returns `None` when there is no `type/subtype`.
    pub fn parse(s: &str) -> Option<ContentType> {
        let (mime, mut rest) = match s.find(';') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let mime = mime.trim().to_ascii_lowercase();
        if !mime.contains('/') {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
            if rest.is_empty() {
                break;
            }
            let eq = rest.find(['=', ';']).unwrap_or(rest.len());
            let name = rest[..eq].trim().to_ascii_lowercase();
            if eq == rest.len() || rest.as_bytes()[eq] == b';' {
                // A parameter without a value: skip it.
                rest = &rest[eq..];
                continue;
            }
            let v = rest[eq + 1..].trim_start();
            let (value, after) = if let Some(q) = v.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        _ => out.push(c),
                    }
                }
                (out, &q[end.min(q.len())..])
            } else {
                let e = v.find(';').unwrap_or(v.len());
                (v[..e].trim().to_owned(), &v[e..])
            };
            if !name.is_empty() {
                params.push((name, value));
            }
            rest = after;
        }
        Some(ContentType { mime, params })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_multipart(&self) -> bool {
        self.mime.starts_with("multipart/")
    }

    pub fn is_xml(&self) -> bool {
        matches!(
            self.mime.as_str(),
            "text/xml" | "application/xml" | "application/soap+xml" | "application/ebxml+xml"
        ) || self.mime.ends_with("+xml")
    }
}

/// One MIME part, its content already decoded from its transfer encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `Content-ID` without `<>`.
    pub content_id: Option<String>,
    pub content_type: Option<ContentType>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn charset(&self) -> Option<&str> {
        self.content_type.as_ref().and_then(|c| c.param("charset"))
    }
}

/// Why a multipart body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeError(pub String);

impl std::fmt::Display for MimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed `multipart/related` body: the envelope part first, then the others in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    pub envelope: Part,
    pub attachments: Vec<Part>,
}

impl Multipart {
    /// The attachment a `cid:` reference points at.
    pub fn by_cid(&self, href: &str) -> Option<&Part> {
        let id = cid_of_href(href)?;
        self.attachments
            .iter()
            .find(|p| p.content_id.as_deref() == Some(id.as_str()))
            .or_else(|| {
                self.attachments.iter().find(|p| {
                    p.content_id
                        .as_deref()
                        .is_some_and(|c| c.eq_ignore_ascii_case(&id))
                })
            })
    }
}

/// The Content-ID a `cid:` URL names (RFC 2392: URL-encoded), without `<>`.
pub fn cid_of_href(href: &str) -> Option<String> {
    let h = href.trim();
    if h.len() < 4 || !h[..4].eq_ignore_ascii_case("cid:") {
        return None;
    }
    let decoded = percent_decode(&h[4..]);
    Some(strip_angle(&decoded).to_owned())
}

fn strip_angle(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(s)
        .trim()
}

/// The byte of two hex digits (either case) at the start of `b`, as `%XX` and `=XX` write it.
fn hex_byte(b: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    let pair = b.get(..2)?;
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(byte) = hex_byte(&b[i + 1..]) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// First position of `needle` in `hay` at or after `from`: skips to candidates by the
/// needle's first byte, then compares (linear in practice for MIME boundaries).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// Positions of delimiter lines `--boundary` that start a line: (start of the line ending
/// before it, i.e. where the previous part's content ends; index just after `--boundary`).
fn delimiters(body: &[u8], boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut dash = Vec::with_capacity(boundary.len() + 2);
    dash.extend_from_slice(b"--");
    dash.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&dash);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = finder.find(&body[from..]).map(|p| p + from) {
        let at_line_start = p == 0 || body[p - 1] == b'\n';
        if at_line_start {
            let content_end = if p == 0 {
                0
            } else if p >= 2 && body[p - 2] == b'\r' {
                p - 2
            } else {
                p - 1
            };
            out.push((content_end, p + dash.len()));
        }
        from = p + dash.len();
    }
    out
}

/// Splits a `multipart/related` body. `ct` is the outer content type (it carries `boundary`
/// and `start`).
pub fn parse_multipart(ct: &ContentType, body: &[u8]) -> Result<Multipart, MimeError> {
    let boundary = ct
        .param("boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| MimeError("the multipart Content-Type has no boundary parameter".into()))?;
    let delims = delimiters(body, boundary.as_bytes());
    if delims.is_empty() {
        return Err(MimeError(format!(
            "the body contains no MIME boundary line '--{boundary}'"
        )));
    }
    let mut parts = Vec::new();
    for (k, &(_, after)) in delims.iter().enumerate() {
        let rest = &body[after..];
        if rest.starts_with(b"--") {
            break; // close delimiter; what follows is the epilogue
        }
        // Transport padding, then the end of the delimiter line.
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            break;
        };
        if rest[..nl]
            .iter()
            .any(|c| !matches!(c, b' ' | b'\t' | b'\r'))
        {
            return Err(MimeError(format!(
                "unexpected text after the MIME boundary '--{boundary}'"
            )));
        }
        let start = after + nl + 1;
        let end = delims
            .get(k + 1)
            .map(|d| d.0)
            .unwrap_or(body.len())
            .max(start);
        parts.push(parse_part(&body[start..end])?);
    }
    if parts.is_empty() {
        return Err(MimeError("the multipart body has no parts".into()));
    }
    let start_id = ct.param("start").map(strip_angle).filter(|s| !s.is_empty());
    let idx = start_id
        .and_then(|id| {
            parts
                .iter()
                .position(|p| p.content_id.as_deref() == Some(id))
        })
        .unwrap_or(0);
    let envelope = parts.remove(idx);
    Ok(Multipart {
        envelope,
        attachments: parts,
    })
}

fn parse_part(raw: &[u8]) -> Result<Part, MimeError> {
    // Headers end at the first empty line (CRLF CRLF or LF LF). A part without headers starts
    // with an empty line.
    let (head, body) = if raw.starts_with(b"\r\n") {
        (&raw[..0], &raw[2..])
    } else if raw.starts_with(b"\n") {
        (&raw[..0], &raw[1..])
    } else {
        let crlf = find(raw, b"\r\n\r\n", 0).map(|p| (p, p + 4));
        // An LF LF after the CRLF CRLF is not looked for: the body is not scanned again.
        let lf = find(&raw[..crlf.map_or(raw.len(), |c| c.0)], b"\n\n", 0).map(|p| (p, p + 2));
        let sep = match (crlf, lf) {
            (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        match sep {
            Some((h, b)) => (&raw[..h], &raw[b..]),
            None => (raw, &raw[raw.len()..]),
        }
    };
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        } else if !line.trim().is_empty() {
            return Err(MimeError(format!(
                "malformed MIME part header line '{line}'"
            )));
        }
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let content_id = get("content-id").map(|v| strip_angle(v).to_owned());
    let content_type = get("content-type").and_then(ContentType::parse);
    let cte = get("content-transfer-encoding").map(|v| v.trim().to_ascii_lowercase());
    let body = match cte.as_deref() {
        None | Some("7bit" | "8bit" | "binary" | "") => body.to_vec(),
        Some("base64") => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .map_err(|e| MimeError(format!("a base64 MIME part cannot be decoded: {e}")))?
        }
        Some("quoted-printable") => decode_quoted_printable(body).map_err(|e| {
            MimeError(format!(
                "a quoted-printable MIME part cannot be decoded: {e}"
            ))
        })?,
        Some(other) => {
            return Err(MimeError(format!(
                "Content-Transfer-Encoding '{other}' is not supported; use 8bit, binary, base64 \
                 or quoted-printable"
            )))
        }
    };
    Ok(Part {
        content_id,
        content_type,
        body,
    })
}

/// Decodes a quoted-printable body (RFC 2045 §6.7): `=XX` is the byte XX (hex digits in either
/// case), `=` at the end of a line joins it to the next (a soft line break), and blanks at the
/// end of a line, which transport may add, are dropped. Line breaks are kept as they are.
fn decode_quoted_printable(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut start = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let (text, brk) = match line {
            [t @ .., b'\r', b'\n'] => (t, &b"\r\n"[..]),
            [t @ .., b'\n'] => (t, &b"\n"[..]),
            t => (t, &b""[..]),
        };
        let end = text
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |i| i + 1);
        let text = &text[..end];
        let (text, soft) = match text {
            [t @ .., b'='] => (t, true),
            t => (t, false),
        };
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'=' {
                let Some(byte) = hex_byte(&text[i + 1..]) else {
                    return Err(format!(
                        "'=' at byte {} is not followed by two hex digits",
                        start + i
                    ));
                };
                out.push(byte);
                i += 3;
            } else {
                out.push(text[i]);
                i += 1;
            }
        }
        if !soft {
            out.extend_from_slice(brk);
        }
        start += line.len();
    }
    Ok(out)
}

/// Picks a boundary that occurs nowhere in the parts.
fn boundary_for(seed: &str, parts: &[&[u8]]) -> String {
    let clean: String = seed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    let mut b = format!("=_MIMEBoundary_{clean}");
    while parts.iter().any(|p| find(p, b.as_bytes(), 0).is_some()) {
        b.push('_');
    }
    b
}

/// Builds packaging A. `seed` (the message id) makes the ids and the boundary unique;
/// `soap_charset`/`payload_charset` label the parts' encodings (e.g. `UTF-8`, `TIS-620`).
/// Returns (Content-Type value, body); the payload's id is `content_ids(seed).1`.
pub fn build_multipart(
    seed: &str,
    soap: &[u8],
    payload: &[u8],
    soap_charset: &str,
    payload_charset: &str,
) -> (String, Vec<u8>) {
    let (env_id, pay_id) = content_ids(seed);
    let boundary = boundary_for(seed, &[soap, payload]);
    let mut body = Vec::with_capacity(soap.len() + payload.len() + 400);
    let mut push = |s: &str| body.extend_from_slice(s.as_bytes());
    push(&format!(
        "--{boundary}\r\nContent-Type: text/xml; charset={soap_charset}\r\nContent-ID: <{env_id}>\r\n\r\n"
    ));
    body.extend_from_slice(soap);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/xml; charset={payload_charset}\r\nContent-ID: <{pay_id}>\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(payload);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!(
        "multipart/related; type=\"text/xml\"; boundary=\"{boundary}\"; start=\"<{env_id}>\""
    );
    (ct, body)
}

/// The Content-IDs used for the envelope and the payload part of a message with this seed.
pub fn content_ids(seed: &str) -> (String, String) {
    let clean: String = seed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        .collect();
    let clean = if clean.contains('@') {
        clean
    } else {
        format!("{clean}@nsw-gateway")
    };
    (format!("envelope.{clean}"), format!("payload.{clean}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters() {
        let check = |s: &str, mime: &str, params: &[(&str, &str)]| {
            let ct = ContentType::parse(s).expect(s);
            assert_eq!(ct.mime, mime, "{s}");
            let want: Vec<(String, String)> = params
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            assert_eq!(ct.params, want, "{s}");
        };
        check("text/xml", "text/xml", &[]);
        check(
            "Text/XML; Charset=TIS-620",
            "text/xml",
            &[("charset", "TIS-620")],
        );
        check(
            r#"multipart/related; type="text/xml"; boundary="b=1;2"; start="<a@b>""#,
            "multipart/related",
            &[
                ("type", "text/xml"),
                ("boundary", "b=1;2"),
                ("start", "<a@b>"),
            ],
        );
        check(
            "multipart/related;boundary=abc ;type=text/xml;start=<x@y>;",
            "multipart/related",
            &[
                ("boundary", "abc"),
                ("type", "text/xml"),
                ("start", "<x@y>"),
            ],
        );
        check(
            r#"a/b; x = "q\"uo\\te"; flag; y=1"#,
            "a/b",
            &[("x", "q\"uo\\te"), ("y", "1")],
        );
        check(r#"a/b; x="unterminated"#, "a/b", &[("x", "unterminated")]);
        assert_eq!(ContentType::parse("garbage"), None);
        assert_eq!(ContentType::parse(""), None);
    }

    #[test]
    fn quoted_printable() {
        let check = |qp: &str, want: Result<&[u8], &str>| {
            let got = decode_quoted_printable(qp.as_bytes());
            match want {
                Ok(w) => assert_eq!(got.as_deref(), Ok(w), "{qp:?}"),
                Err(e) => assert!(
                    got.as_ref().is_err_and(|g| g.contains(e)),
                    "{qp:?}: {got:?}"
                ),
            }
        };
        check("<a>plain</a>", Ok(b"<a>plain</a>"));
        check("<a x=3D\"1\"/>", Ok(b"<a x=\"1\"/>"));
        check("=E0=B8=81 =e0=b8=82", Ok("ก ข".as_bytes()));
        check("<long>ab=\r\ncd</long>\r\n", Ok(b"<long>abcd</long>\r\n"));
        check("ab=  \ncd", Ok(b"abcd"));
        check("trailing   \r\nnext\t\n", Ok(b"trailing\r\nnext\n"));
        check("end=", Ok(b"end"));
        check("", Ok(b""));
        check("a=4", Err("'=' at byte 1"));
        check("ok\r\nb=G1", Err("'=' at byte 5"));
        check("a= b", Err("'=' at byte 1"));
    }

    #[test]
    fn cid_references() {
        let check = |href: &str, want: Option<&str>| {
            assert_eq!(cid_of_href(href).as_deref(), want, "{href}")
        };
        check("cid:payload-1@nsw.go.th", Some("payload-1@nsw.go.th"));
        check("CID:payload%2D1%40nsw.go.th", Some("payload-1@nsw.go.th"));
        check("cid:%3Cp@x%3E", Some("p@x"));
        check("cid:%", Some("%"));
        check("cid:%4", Some("%4"));
        check("http://example.com/p", None);
        check("", None);
    }

    fn parts_of(ct: &str, body: &str) -> Result<(Part, Vec<Part>), String> {
        let ct = ContentType::parse(ct).unwrap();
        parse_multipart(&ct, body.as_bytes())
            .map(|m| (m.envelope, m.attachments))
            .map_err(|e| e.0)
    }

    #[test]
    fn multipart_variants() {
        // (content type, body, envelope body, attachment ids and bodies)
        let check = |ct: &str, body: &str, env: &str, atts: &[(Option<&str>, &str)]| {
            let (e, a) = parts_of(ct, body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
            assert_eq!(String::from_utf8(e.body).unwrap(), env, "{body:?}");
            let got: Vec<(Option<String>, String)> = a
                .into_iter()
                .map(|p| (p.content_id, String::from_utf8(p.body).unwrap()))
                .collect();
            let want: Vec<(Option<String>, String)> = atts
                .iter()
                .map(|(i, b)| (i.map(str::to_owned), b.to_string()))
                .collect();
            assert_eq!(got, want, "{body:?}");
        };
        let ct = r#"multipart/related; type="text/xml"; boundary="BB"; start="<e@x>""#;
        // CRLF, preamble, epilogue
        check(ct, "preamble\r\n--BB\r\nContent-ID: <e@x>\r\n\r\n<E/>\r\n--BB\r\nContent-ID: <p@x>\r\n\r\n<P/>\r\n--BB--\r\nepilogue", "<E/>", &[(Some("p@x"), "<P/>")]);
        // bare LF, lower-case headers, unbracketed id, start names the second part
        check(
            ct,
            "--BB\ncontent-id: p@x\n\n<P/>\n--BB\nCONTENT-ID: e@x\n\n<E/>\n--BB--\n",
            "<E/>",
            &[(Some("p@x"), "<P/>")],
        );
        // no start: the first part is the envelope; no close delimiter; padding after boundary
        check("multipart/related; boundary=BB", "--BB  \r\n\r\n<E/>\r\n--BB\r\nContent-Id: <p>\r\nContent-Transfer-Encoding: base64\r\n\r\nPFAv\r\nPg==\r\n", "<E/>", &[(Some("p"), "<P/>")]);
        // folded header, boundary-like text inside a line is content
        check(
            ct,
            "--BB\r\nContent-ID:\r\n <e@x>\r\n\r\n<E>x--BB</E>\r\n--BB--",
            "<E>x--BB</E>",
            &[],
        );
        // start that names no part: first part
        check(
            "multipart/related; boundary=BB; start=\"<zz>\"",
            "--BB\r\n\r\n<E/>\r\n--BB--",
            "<E/>",
            &[],
        );
    }

    #[test]
    fn multipart_refusals() {
        let check = |ct: &str, body: &str, want: &str| {
            let e = parts_of(ct, body).unwrap_err();
            assert!(e.contains(want), "{e} !~ {want}");
        };
        check("multipart/related", "--BB\r\n\r\nx", "no boundary");
        check(
            "multipart/related; boundary=BB",
            "hello",
            "no MIME boundary line",
        );
        check("multipart/related; boundary=BB", "--BB--", "no parts");
        check(
            "multipart/related; boundary=BB",
            "--BBx\r\n\r\nx",
            "unexpected text",
        );
        check(
            "multipart/related; boundary=BB",
            "--BB\r\nbad header\r\n\r\nx",
            "malformed MIME part header",
        );
        check(
            "multipart/related; boundary=BB",
            "--BB\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=4",
            "quoted-printable MIME part cannot be decoded: '=' at byte 1",
        );
        check(
            "multipart/related; boundary=BB",
            "--BB\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nx",
            "'x-uuencode' is not supported",
        );
        check(
            "multipart/related; boundary=BB",
            "--BB\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
            "base64",
        );
    }

    #[test]
    fn finds() {
        let check = |hay: &str, needle: &str, from: usize, want: Option<usize>| {
            assert_eq!(
                find(hay.as_bytes(), needle.as_bytes(), from),
                want,
                "{hay} {needle} {from}"
            );
        };
        check("abc--b--bd", "--bd", 0, Some(6));
        check("--bd", "--bd", 0, Some(0));
        check("--bd", "--bd", 1, None);
        check("--b", "--bd", 0, None);
        check("", "x", 0, None);
        check("x", "", 0, None);
        check("xx", "x", 5, None);
    }

    #[test]
    fn build_then_parse() {
        let (ct, body) = build_multipart(
            "abc@host",
            b"<E/>",
            b"<P>--=_MIMEBoundary_abchost</P>",
            "UTF-8",
            "UTF-8",
        );
        let ct = ContentType::parse(&ct).unwrap();
        assert_eq!(ct.param("type"), Some("text/xml"));
        let m = parse_multipart(&ct, &body).unwrap();
        assert_eq!(m.envelope.body, b"<E/>");
        assert_eq!(m.envelope.content_id.as_deref(), Some("envelope.abc@host"));
        let p = m.by_cid("cid:payload.abc@host").unwrap();
        assert_eq!(p.body, b"<P>--=_MIMEBoundary_abchost</P>");
        assert_eq!(p.charset(), Some("UTF-8"));
    }
}

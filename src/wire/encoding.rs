//! Character encodings of incoming XML (spec §1 "encodings").
//!
//! UTF-8 is the default. The Thai single-byte encodings `TIS-620`, `ISO-8859-11` and
//! `windows-874` are transcoded to UTF-8 with encoding_rs (its `windows-874` decoder is a
//! superset of the other two). Any other encoding is refused.
//!
//! Which label counts: the encoding named by the document's own XML declaration wins; without
//! one, the `charset` parameter of the MIME type; without either, UTF-8. A UTF-8 byte order mark
//! is skipped; a UTF-16/UTF-32 one is refused.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_874};

/// The encodings the gateway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// TIS-620 / ISO-8859-11 / windows-874.
    Thai,
}

impl Charset {
    /// Recognises a label (case-insensitive, surrounding blanks ignored).
    pub fn from_label(label: &str) -> Option<Charset> {
        let l = label.trim().trim_matches(|c| c == '"' || c == '\'');
        if l.eq_ignore_ascii_case("us-ascii") || l.eq_ignore_ascii_case("ascii") {
            return Some(Charset::Utf8);
        }
        match Encoding::for_label(l.as_bytes()) {
            Some(e) if e == UTF_8 => Some(Charset::Utf8),
            Some(e) if e == WINDOWS_874 => Some(Charset::Thai),
            _ => None,
        }
    }
}

/// Why bytes could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodingError {
    /// The declared encoding is not one the gateway reads.
    Unsupported(String),
    /// The bytes are not valid in the encoding (for UTF-8: invalid sequences).
    Invalid(String),
}

impl std::fmt::Display for EncodingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodingError::Unsupported(m) | EncodingError::Invalid(m) => f.write_str(m),
        }
    }
}

/// The value of `encoding="…"` in the XML declaration at the start of `bytes`, if any.
pub fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let b = b.trim_ascii_start().strip_prefix(b"<?xml")?;
    let end = b.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&b[..end]).ok()?;
    let i = decl.find("encoding")?;
    let rest = decl[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let close = rest.find(quote)?;
    Some(&rest[..close])
}

/// Decodes an XML document to UTF-8 text. `charset` is the MIME `charset` parameter, if any.
/// When the document was transcoded, its XML declaration is rewritten to say UTF-8 so that the
/// text is honest about itself when stored.
pub fn decode_xml<'a>(
    bytes: &'a [u8],
    charset: Option<&str>,
) -> Result<Cow<'a, str>, EncodingError> {
    if bytes.starts_with(b"\xFE\xFF")
        || bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\0\0\xFE\xFF")
    {
        return Err(EncodingError::Unsupported(
            "the document is UTF-16 or UTF-32 encoded; only UTF-8, TIS-620, ISO-8859-11 and windows-874 are accepted"
                .into(),
        ));
    }
    let label = declared_encoding(bytes).or(charset);
    let cs = match label {
        None => Charset::Utf8,
        Some(l) => Charset::from_label(l).ok_or_else(|| {
            EncodingError::Unsupported(format!(
                "encoding '{}' is not supported; use UTF-8, TIS-620, ISO-8859-11 or windows-874",
                l.trim()
            ))
        })?,
    };
    match cs {
        Charset::Utf8 => {
            let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            let text = std::str::from_utf8(b).map_err(|e| {
                EncodingError::Invalid(format!(
                    "the document is not valid UTF-8 (invalid byte at offset {}); declare encoding=\"TIS-620\" if it is Thai single-byte text",
                    e.valid_up_to()
                ))
            })?;
            xml_chars(text).map_err(EncodingError::Invalid)?;
            Ok(Cow::Borrowed(text))
        }
        Charset::Thai => {
            let (text, had_errors) = WINDOWS_874.decode_without_bom_handling(bytes);
            if had_errors {
                return Err(EncodingError::Invalid(
                    "the document contains bytes that are not valid TIS-620/windows-874".into(),
                ));
            }
            xml_chars(&text).map_err(EncodingError::Invalid)?;
            Ok(Cow::Owned(rewrite_declaration(&text)))
        }
    }
}

/// Refuses the characters that XML 1.0 does not allow (the C0 controls but tab, line feed and
/// carriage return; U+FFFE and U+FFFF), written as they are or as character references: the
/// XML reader would pass them on, and no reply that echoed one would be well-formed. Text in
/// a CDATA section or a comment is not a reference.
fn xml_chars(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    let flag =
        |c: u8| (c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r') | (c == b'&') | (c == 0xEF);
    const CHUNK: usize = 64;
    for (n, chunk) in b.chunks(CHUNK).enumerate() {
        // Most chunks have nothing to look at; this test of a whole chunk vectorises (under
        // one instruction a byte: 4 % of the intake of a 5-item request, see BENCHMARKS.md).
        if !chunk.iter().fold(false, |any, &c| any | flag(c)) {
            continue;
        }
        for (k, &c) in chunk.iter().enumerate() {
            let i = n * CHUNK + k;
            let bad = match c {
                _ if !flag(c) => None,
                b'&' => char_ref(&b[i..])
                    .filter(|&v| !is_xml_char(v) && !in_cdata_or_comment(&text[..i]))
                    .map(|v| (v, "a character reference to ")),
                0xEF => match b.get(i + 1..i + 3) {
                    Some([0xBF, 0xBE]) => Some((0xFFFE, "")),
                    Some([0xBF, 0xBF]) => Some((0xFFFF, "")),
                    _ => None,
                },
                _ => Some((u32::from(c), "")),
            };
            if let Some((v, how)) = bad {
                return Err(format!(
                    "the document is not well-formed: it holds {how}U+{v:04X} at byte {i}, a \
                     character that XML does not allow"
                ));
            }
        }
    }
    Ok(())
}

/// The code point of the character reference at the start of `s` (`&#65;`, `&#x41;`); `None`
/// where there is none to read (the XML reader judges a malformed one). One too large for a
/// code point reads as `u32::MAX`.
fn char_ref(s: &[u8]) -> Option<u32> {
    let s = s.strip_prefix(b"&#")?;
    let (digits, radix) = match s.strip_prefix(b"x") {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let end = digits.iter().position(|&c| c == b';')?;
    let d = std::str::from_utf8(&digits[..end]).ok()?;
    if d.is_empty() || !d.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(u32::from_str_radix(d, radix).unwrap_or(u32::MAX))
}

fn is_xml_char(v: u32) -> bool {
    matches!(v, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Whether the end of `before` lies inside a CDATA section or a comment.
fn in_cdata_or_comment(before: &str) -> bool {
    let open = |start: &str, end: &str| {
        before
            .rfind(start)
            .is_some_and(|at| !before[at..].contains(end))
    };
    open("<![CDATA[", "]]>") || open("<!--", "-->")
}

/// Replaces the encoding named in the XML declaration by UTF-8.
fn rewrite_declaration(text: &str) -> String {
    if let Some(old) = declared_encoding(text.as_bytes()) {
        // `declared_encoding` returns a slice of `text`: find its offset.
        let start = old.as_ptr() as usize - text.as_ptr() as usize;
        let mut s = String::with_capacity(text.len());
        s.push_str(&text[..start]);
        s.push_str("UTF-8");
        s.push_str(&text[start + old.len()..]);
        s
    } else {
        text.to_owned()
    }
}

/// Encodes UTF-8 text as TIS-620 (windows-874). Characters outside the repertoire become
/// numeric character references, which any XML reader understands.
pub fn encode_thai(text: &str) -> Vec<u8> {
    let (bytes, _, _) = WINDOWS_874.encode(text);
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], charset: Option<&str>, expected: Result<&str, &str>) {
        let got = decode_xml(bytes, charset);
        match (got, expected) {
            (Ok(t), Ok(want)) => assert_eq!(t, want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e} !~ {want}"),
            (got, want) => panic!("{bytes:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn decodes() {
        // "ไทย" in TIS-620: ไ=0xE4, ท=0xB7, ย=0xC2.
        let thai = b"<?xml version=\"1.0\" encoding=\"TIS-620\"?><a>\xE4\xB7\xC2</a>";
        check(
            thai,
            None,
            Ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>ไทย</a>"),
        );
        check(
            b"<a>\xE4\xB7\xC2</a>",
            Some("windows-874"),
            Ok("<a>ไทย</a>"),
        );
        check(
            b"<a>\xE4\xB7\xC2</a>",
            Some("ISO-8859-11"),
            Ok("<a>ไทย</a>"),
        );
        check(
            b"<?xml version='1.0' encoding='iso-8859-11'?><a>\xE4</a>",
            Some("utf-8"),
            Ok("<?xml version='1.0' encoding='UTF-8'?><a>ไ</a>"),
        );
        check("<a>ไทย</a>".as_bytes(), None, Ok("<a>ไทย</a>"));
        check(b"\xEF\xBB\xBF<a/>", None, Ok("<a/>"));
        check(b"<a/>", Some("\"UTF-8\""), Ok("<a/>"));
        check(b"<a/>", Some("us-ascii"), Ok("<a/>"));
        check(
            b"\r\n<?xml version='1.0' encoding='TIS-620'?><a>\xE4</a>",
            None,
            Ok("\r\n<?xml version='1.0' encoding='UTF-8'?><a>ไ</a>"),
        );
        check(
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
            None,
            Err("'ISO-8859-1' is not supported"),
        );
        check(
            b"<a/>",
            Some("Shift_JIS"),
            Err("'Shift_JIS' is not supported"),
        );
        check(b"\xFF\xFE<\0a\0/\0>\0", None, Err("UTF-16"));
        check(b"<a>\xE4\xB7</a>", None, Err("not valid UTF-8"));
    }

    #[test]
    fn refuses_what_xml_does_not_allow() {
        let bad =
            |v: &str, at: usize| format!("U+{v} at byte {at}, a character that XML does not allow");
        check(b"<a>x\x01</a>", None, Err(&bad("0001", 4)));
        check(b"<a>\x00</a>", None, Err(&bad("0000", 3)));
        check(
            b"<a>&#1;</a>",
            None,
            Err(&format!("a character reference to {}", bad("0001", 3))),
        );
        check(b"<a>&#x1F;</a>", None, Err(&bad("001F", 3)));
        check(b"<a>&#xFFFE;</a>", None, Err(&bad("FFFE", 3)));
        check(b"<a>&#xD800;</a>", None, Err(&bad("D800", 3)));
        check(b"<a>&#99999999999;</a>", None, Err(&bad("FFFFFFFF", 3)));
        check("<a>\u{FFFF}</a>".as_bytes(), None, Err(&bad("FFFF", 3)));
        check(b"<a>\x1B</a>", Some("TIS-620"), Err(&bad("001B", 3)));
        // beyond the first chunk of 64 bytes
        let long = format!("<a>{}&#8;</a>", "x".repeat(100));
        check(long.as_bytes(), None, Err(&bad("0008", 103)));
        for ok in [
            "<a>\t\r\n&#9;&#10;&#13;&#x20;&#xE01;&#x10FFFF;&amp;&#;&#x;&#12a;</a>",
            "<a>\u{FFFD}\u{E000}\u{10000}ไทย</a>",
            "<a><![CDATA[&#1;]]></a>",
            "<a><!-- &#1; --></a>",
        ] {
            check(ok.as_bytes(), None, Ok(ok));
        }
        check(
            b"<a><![CDATA[x]]>&#1;</a>",
            None,
            Err("a character reference to U+0001"),
        );
    }

    #[test]
    fn round_trips_thai() {
        let s = "<x>สวัสดี มอก. 2432-2555</x>";
        assert_eq!(decode_xml(&encode_thai(s), Some("TIS-620")).unwrap(), s);
    }
}

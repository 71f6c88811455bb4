//! Escaping for the XML the gateway writes: envelopes and payloads alike.
//!
//! A reader replaces every CR and CRLF in the document with LF before it sees the text, and in
//! an attribute's value every tab, CR and LF with a space: so such a character is written as a
//! character reference (`&#13;`; in attributes `&#9;` and `&#10;` too) to come through as
//! itself. Every character replaced is ASCII, which never occurs inside a multi-byte
//! character: the runs between them are copied whole.

/// Element content: `&`, `<` and `>` replaced, and a carriage return.
pub fn text(s: &str, out: &mut String) {
    let b = s.as_bytes();
    if memchr::memchr(b'\r', b).is_some() {
        return replace(s, out, false);
    }
    // Found with memchr's searchers rather than byte by byte (Thai text is three bytes a
    // letter).
    let mut from = 0;
    for i in memchr::memchr3_iter(b'&', b'<', b'>', b) {
        out.push_str(s.get(from..i).unwrap_or_default());
        out.push_str(match b.get(i) {
            Some(b'&') => "&amp;",
            Some(b'<') => "&lt;",
            _ => "&gt;",
        });
        from = i + 1;
    }
    out.push_str(s.get(from..).unwrap_or_default());
}

/// A double-quoted attribute value: as [`text`], and `"`, a tab and a line feed too.
pub fn attr(s: &str, out: &mut String) {
    replace(s, out, true)
}

/// `attr`: an attribute's value, else element content.
fn replace(s: &str, out: &mut String, attr: bool) {
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#13;",
            b'"' if attr => "&quot;",
            b'\t' if attr => "&#9;",
            b'\n' if attr => "&#10;",
            _ => continue,
        };
        out.push_str(s.get(from..i).unwrap_or_default());
        out.push_str(rep);
        from = i + 1;
    }
    out.push_str(s.get(from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(escape: fn(&str, &mut String), input: &str, expected: &str) {
        let mut out = String::from("x");
        escape(input, &mut out);
        assert_eq!(out, format!("x{expected}"), "{input:?}");
    }

    #[test]
    fn text_replaces_markup_and_carriage_returns() {
        check(text, "", "");
        check(text, "plain", "plain");
        check(text, "a&b<c>d\"e'f\ng\th", "a&amp;b&lt;c&gt;d\"e'f\ng\th");
        check(text, "a&b\r\nc\"", "a&amp;b&#13;\nc\"");
        check(text, "บริษัท & <จำกัด>", "บริษัท &amp; &lt;จำกัด&gt;");
        check(text, "&&\r\r", "&amp;&amp;&#13;&#13;");
        check(text, ">", "&gt;");
    }

    #[test]
    fn attr_replaces_quotes_and_blanks_too() {
        check(attr, "", "");
        check(
            attr,
            "a&b<c>d\"e'f\rg\nh\ti j",
            "a&amp;b&lt;c&gt;d&quot;e'f&#13;g&#10;h&#9;i j",
        );
        check(attr, "บริษัท \"สยาม\"", "บริษัท &quot;สยาม&quot;");
    }

    /// What is written reads back as the text it was, after the normalisation every XML
    /// reader does (quick-xml, which reads the references here, does not do it).
    #[test]
    fn written_text_reads_back_after_a_readers_normalisation() {
        let line_ends = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
        let in_attr = |s: &str| line_ends(s).replace(['\t', '\n'], " ");
        for s in [
            "a\r\nb",
            "\r",
            "x & y < z > \"w\"",
            "บริษัท\r\nจำกัด\t.",
            "a\tb\nc",
        ] {
            let (mut t, mut a) = (String::new(), String::new());
            text(s, &mut t);
            attr(s, &mut a);
            assert_eq!(
                quick_xml::escape::unescape(&line_ends(&t)).unwrap(),
                s,
                "{t:?}"
            );
            assert_eq!(
                quick_xml::escape::unescape(&in_attr(&a)).unwrap(),
                s,
                "{a:?}"
            );
        }
    }
}

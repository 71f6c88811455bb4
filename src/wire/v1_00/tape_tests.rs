//! The DTOs filled from the structure pass's tape give exactly what serde reading the text
//! gives: same documents, same errors, for clean documents, their variations in blanks,
//! entities, comments, CDATA, empty elements and attribute values, and the schema examples.

use std::path::Path;

use proptest::prelude::*;

use super::roundtrip_tests::{inbound, outbound};
use crate::wire::payload::{
    decode_inbound, decode_inbound_from_text, decode_outbound, decode_outbound_from_text,
    encode_inbound, encode_outbound, has_tape,
};

/// Decodes `xml` both ways (as inbound when `inbound`) and compares the answers.
fn check(xml: &str, inbound: bool) {
    if inbound {
        assert_eq!(
            decode_inbound(xml),
            decode_inbound_from_text(xml),
            "inbound document:\n{xml}"
        );
    } else {
        assert_eq!(
            decode_outbound(xml),
            decode_outbound_from_text(xml),
            "outbound document:\n{xml}"
        );
    }
}

const SNIPPETS: &[&str] = &[
    " ",
    "\n    ",
    "\t",
    "\r\n",
    "&amp;",
    "&#x41;",
    "&#32;",
    "&lt;x&gt;",
    "<!-- note -->",
    "<![CDATA[x]]>",
    "<![CDATA[ ]]>",
    "&unknown;",
    "ก",
];

/// Applies one edit, chosen by `kind` at the position picked by `at`, to `xml`.
fn mutate(xml: &str, kind: usize, at: usize, snippet: &str) -> String {
    let positions: Vec<usize> = match kind % 5 {
        // After a start tag that is followed by text.
        0 => xml
            .match_indices('>')
            .map(|(i, _)| i + 1)
            .filter(|&i| xml[i..].chars().next().is_some_and(|c| c != '<'))
            .collect(),
        // Before an end tag.
        1 => xml.match_indices("</").map(|(i, _)| i).collect(),
        // Between two tags.
        2 => xml.match_indices("><").map(|(i, _)| i + 1).collect(),
        // A leaf's text replaced by nothing.
        3 => xml
            .match_indices('>')
            .map(|(i, _)| i + 1)
            .filter(|&i| xml[i..].chars().next().is_some_and(|c| c != '<'))
            .collect(),
        // Inside an attribute value.
        _ => xml.match_indices("=\"").map(|(i, _)| i + 2).collect(),
    };
    if positions.is_empty() {
        return xml.to_owned();
    }
    let p = positions[at % positions.len()];
    let mut out = String::with_capacity(xml.len() + 16);
    out.push_str(&xml[..p]);
    match kind % 5 {
        3 => {
            let end = xml[p..].find('<').map_or(xml.len(), |e| p + e);
            out.push_str(&xml[end..]);
            return out;
        }
        4 => out.push_str(match snippet {
            "<!-- note -->" | "<![CDATA[x]]>" | "<![CDATA[ ]]>" => "&quot;",
            s => s,
        }),
        _ => out.push_str(snippet),
    }
    out.push_str(&xml[p..]);
    out
}

/// The schema examples: file name and text, in name order.
fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("examples")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("readable"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn schema_examples_decode_the_same_from_the_tape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut taped = 0;
    for entry in std::fs::read_dir(dir).expect("examples") {
        let path = entry.expect("entry").path();
        let xml = std::fs::read_to_string(&path).expect("readable");
        for inbound in [true, false] {
            check(&xml, inbound);
            taped += usize::from(has_tape(&xml, inbound));
        }
    }
    assert!(taped >= 8, "the valid examples are read from the tape");
}

#[test]
fn empty_and_blank_elements_decode_the_same_from_the_tape() {
    let doc = |inner: &str| {
        format!(
            "<DeclarationAmendment xmlns=\"urn:th:tisi:nsw:permit:1_00\">{inner}</DeclarationAmendment>"
        )
    };
    for inner in [
        "<DeclarationNumber/><Action>CANCEL</Action>",
        "<DeclarationNumber></DeclarationNumber><Action>CANCEL</Action>",
        "<DeclarationNumber>  </DeclarationNumber><Action>CANCEL</Action>",
        "<DeclarationNumber> D&amp;1 </DeclarationNumber><Action> CANCEL\n</Action>",
        "<DeclarationNumber>D<!-- x -->1</DeclarationNumber><Action>CANCEL</Action>",
        "<DeclarationNumber><![CDATA[ D1 ]]></DeclarationNumber><Action>CANCEL</Action>",
        "\n  <DeclarationNumber>D1</DeclarationNumber>\n  <!-- c -->\n  <Action>CANCEL</Action>\n",
        "<Action>CANCEL</Action>",
        "",
    ] {
        let xml = doc(inner);
        check(&xml, true);
    }
    let xml = "<p:DeclarationAmendment xmlns:p=\"urn:th:tisi:nsw:permit:1_00\"><p:DeclarationNumber>D1</p:DeclarationNumber><p:Action>CANCEL</p:Action></p:DeclarationAmendment>";
    assert!(has_tape(xml, true));
    check(xml, true);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encoded_inbound_documents_decode_the_same_from_the_tape(
        doc in inbound(),
        edits in proptest::collection::vec((0usize..5, any::<usize>(), 0usize..SNIPPETS.len()), 0..4),
    ) {
        let mut xml = encode_inbound(&doc);
        for (kind, at, s) in edits {
            xml = mutate(&xml, kind, at, SNIPPETS[s]);
        }
        check(&xml, true);
    }

    #[test]
    fn encoded_outbound_documents_decode_the_same_from_the_tape(
        doc in outbound(),
        edits in proptest::collection::vec((0usize..5, any::<usize>(), 0usize..SNIPPETS.len()), 0..4),
    ) {
        let mut xml = encode_outbound(&doc);
        for (kind, at, s) in edits {
            xml = mutate(&xml, kind, at, SNIPPETS[s]);
        }
        check(&xml, false);
    }
}

// ------------------------------------------------------------------ the writer

mod writer {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::super::convert::{encode_inbound_serde, encode_outbound_serde};
    use super::super::dto::*;
    use crate::wire::payload::{encode_inbound, encode_outbound};
    use crate::wire::v1_00::roundtrip_tests::{inbound, outbound};

    /// The serializer leaves a carriage return as it is, which every XML reader turns into a
    /// line feed; the gateway writes it as a character reference (`wire::escape`).
    fn as_the_gateway_writes(serde: String) -> String {
        serde.replace('\r', "&#13;")
    }

    /// The hand-written writer gives the serde serializer's bytes.
    fn check<T: serde::Serialize + RootXml>(dto: &T) {
        let serde = quick_xml::se::to_string(dto).expect("serializes");
        assert_eq!(dto.to_xml(), as_the_gateway_writes(serde));
    }

    fn t(s: &str) -> Txt<'_> {
        Some(Cow::Borrowed(s))
    }

    #[test]
    fn edge_values_are_written_as_serde_writes_them() {
        check(&ImportPermitResponseDto::default());
        check(&DeclarationAmendmentDto {
            xmlns: "urn:a&b\"<>'",
            declaration_number: t(""),
            action: t("a&b<c>d\"e'f\r\n\tg  h"),
        });
        check(&ImportPermitResponseDto {
            xmlns: "urn:x",
            decision: t("APPROVED"),
            permit: Some(PermitDto::default()),
            importer: Some(PartyDto {
                tax_number: t(""),
                branch: None,
            }),
            item_results: vec![
                ItemResultDto::default(),
                ItemResultDto {
                    approved_quantity: Some(QuantityDto {
                        unit_code: t("C\"62&"),
                        value: t(""),
                    }),
                    reasons: vec![ReasonDto {
                        code: t("X"),
                        field: None,
                        messages: vec![
                            MessageDto {
                                lang: t("th"),
                                text: None,
                            },
                            MessageDto {
                                lang: None,
                                text: t("<b>"),
                            },
                            MessageDto::default(),
                        ],
                    }],
                    ..ItemResultDto::default()
                },
            ],
            ..ImportPermitResponseDto::default()
        });
        check(&PermitStatusResponseDto {
            history: Some(HistoryDto {
                entries: vec![HistoryEntryDto {
                    reason: Some(HistoryReasonDto::default()),
                    ..HistoryEntryDto::default()
                }],
            }),
            ..PermitStatusResponseDto::default()
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn inbound_documents_are_written_as_serde_writes_them(doc in inbound()) {
            prop_assert_eq!(encode_inbound(&doc), as_the_gateway_writes(encode_inbound_serde(&doc)));
        }

        #[test]
        fn outbound_documents_are_written_as_serde_writes_them(doc in outbound()) {
            prop_assert_eq!(encode_outbound(&doc), as_the_gateway_writes(encode_outbound_serde(&doc)));
        }
    }
}

// ------------------------------------------------------------------ the one-pass intake

mod one_pass_intake {
    use proptest::prelude::*;

    use super::{mutate, SNIPPETS};
    use crate::wire::intake::test_support::header;
    use crate::wire::intake::{intake, intake_with, Limits, Packaging};
    use crate::wire::payload::{decode_inbound, encode_inbound, root_name_inbound};
    use crate::wire::reply::{build_request_xml, RequestOptions};
    use crate::wire::v1_00::roundtrip_tests::inbound;

    /// `intake`, which decodes an inline payload from the envelope pass, answers as
    /// `intake_with` the payload decoder, which reads the payload cut out of the envelope.
    fn check(content_type: Option<&str>, body: &[u8]) {
        let limits = Limits::default();
        assert_eq!(
            intake(content_type, body, &limits),
            intake_with(content_type, body, &limits, decode_inbound),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    fn message(action: &str, payload: &str, packaging: Packaging) -> (String, Vec<u8>) {
        let opts = RequestOptions {
            ack_requested: false,
            sync_reply: true,
            tis620: false,
        };
        let b = build_request_xml(&header(action), payload, packaging, opts);
        (b.content_type, b.body)
    }

    #[test]
    fn payload_namespace_variants_answer_the_same() {
        let ns = "urn:th:tisi:nsw:permit:1_00";
        let body = "<DeclarationNumber>D1</DeclarationNumber><Action>CANCEL</Action>";
        for payload in [
            format!("<DeclarationAmendment xmlns=\"{ns}\">{body}</DeclarationAmendment>"),
            format!("<p:DeclarationAmendment xmlns:p=\"{ns}\"><p:DeclarationNumber>D1</p:DeclarationNumber><p:Action>CANCEL</p:Action></p:DeclarationAmendment>"),
            format!("<eb:DeclarationAmendment xmlns:eb=\"{ns}\"><eb:DeclarationNumber>D1</eb:DeclarationNumber><eb:Action>CANCEL</eb:Action></eb:DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"><SOAP:DeclarationNumber>D1</SOAP:DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"),
            format!("<DeclarationAmendment>{body}</DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"urn:th:tisi:nsw:permit:1_07\">{body}</DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber> D&amp;1 </DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"><Action>CANCEL</Action>{body}</DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"/>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber>D<!-- c -->1</DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"),
            format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber><![CDATA[D1]]></DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"),
        ] {
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                let (ct, b) = message("DeclarationAmendment", &payload, packaging);
                check(Some(&ct), &b);
            }
        }
    }

    #[test]
    fn a_clean_inline_payload_is_decoded_from_the_envelope_pass() {
        let ns = "urn:th:tisi:nsw:permit:1_00";
        let cases = [
            (format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber>D1</DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"), true),
            (format!("<p:DeclarationAmendment xmlns:p=\"{ns}\"><p:DeclarationNumber>D1</p:DeclarationNumber><p:Action>CANCEL</p:Action></p:DeclarationAmendment>"), true),
            // Uses a prefix of the envelope: the payload alone gets its declaration.
            (format!("<DeclarationAmendment xmlns=\"{ns}\"><DeclarationNumber>D1</DeclarationNumber><Action eb:x=\"1\">CANCEL</Action></DeclarationAmendment>"), false),
            (format!("<DeclarationAmendment xmlns=\"{ns}\"><Action>CANCEL</Action></DeclarationAmendment>"), true),
            (format!("<DeclarationAmendment xmlns=\"{ns}\"><Action>CANCEL</Action><Action>CANCEL</Action></DeclarationAmendment>"), false),
        ];
        for (payload, one_pass) in cases {
            let (_, b) = message("DeclarationAmendment", &payload, Packaging::Inline);
            let soap = String::from_utf8(b.clone()).expect("UTF-8");
            let (_, embedded) =
                crate::wire::envelope::parse_envelope_checked(&soap, &Limits::default())
                    .expect("a well-formed envelope");
            assert_eq!(embedded.is_some(), one_pass, "{payload}");
            check(None, &b);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn inline_requests_answer_the_same(
            doc in inbound(),
            edits in proptest::collection::vec((0usize..5, any::<usize>(), 0usize..SNIPPETS.len()), 0..3),
            multipart in any::<bool>(),
        ) {
            let mut xml = encode_inbound(&doc);
            for (kind, at, s) in edits {
                xml = mutate(&xml, kind, at, SNIPPETS[s]);
            }
            let packaging = if multipart { Packaging::Multipart } else { Packaging::Inline };
            let (ct, b) = message(root_name_inbound(&doc), &xml, packaging);
            check(Some(&ct), &b);
        }
    }
}

// ------------------------------------------------------------------ the fast path of intake

mod fast_intake {
    use proptest::prelude::*;

    use super::{examples, mutate, SNIPPETS};
    use crate::wire::fast::intake_fast;
    use crate::wire::intake::test_support::header;
    use crate::wire::intake::{intake, intake_full, Limits, Packaging};
    use crate::wire::payload::{encode_inbound, root_name_inbound};
    use crate::wire::reply::{build_request_xml, RequestOptions};
    use crate::wire::v1_00::roundtrip_tests::inbound;

    /// `intake` (fast path first) answers as `intake_full` (the full path alone); whether the
    /// fast path answered.
    fn check_with(content_type: Option<&str>, body: &[u8], limits: &Limits) -> bool {
        let full = intake_full(content_type, body, limits);
        assert_eq!(
            intake(content_type, body, limits),
            full,
            "{}",
            String::from_utf8_lossy(body)
        );
        let fast = intake_fast(content_type, body, limits);
        if let Some(f) = &fast {
            assert_eq!(Ok(f), full.as_ref(), "{}", String::from_utf8_lossy(body));
        }
        fast.is_some()
    }

    fn check(content_type: Option<&str>, body: &[u8]) -> bool {
        check_with(content_type, body, &Limits::default())
    }

    fn inline(action: &str, payload: &str, tis620: bool) -> (String, Vec<u8>) {
        packaged(action, payload, tis620, Packaging::Inline)
    }

    fn packaged(
        action: &str,
        payload: &str,
        tis620: bool,
        packaging: Packaging,
    ) -> (String, Vec<u8>) {
        let opts = RequestOptions {
            ack_requested: true,
            sync_reply: true,
            tis620,
        };
        let b = build_request_xml(&header(action), payload, packaging, opts);
        (b.content_type, b.body)
    }

    /// The example's root element, when it is one of the inbound documents.
    fn root_of(xml: &str) -> Option<&'static str> {
        let start = xml
            .match_indices('<')
            .map(|(i, _)| i + 1)
            .find(|&i| !matches!(xml.as_bytes().get(i), Some(b'?' | b'!')))?;
        let name: String = xml[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        [
            "ImportPermitRequest",
            "DeclarationCheck",
            "DeclarationAmendment",
            "PermitStatusQuery",
        ]
        .into_iter()
        .find(|r| name.rsplit(':').next() == Some(*r))
    }

    /// Rewrites of a whole inline message that keep it valid: other prefixes, declarations in
    /// other places, blanks and comments between the header's elements, escaped text.
    fn envelope_variants(body: &str) -> Vec<String> {
        let payload_at = body.find("<SOAP:Body>").expect("a body");
        let (head, tail) = body.split_at(payload_at);
        let eb =
            "xmlns:eb=\"http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd\"";
        vec![
            body.replace("SOAP:", "s:")
                .replace("xmlns:SOAP=", "xmlns:s="),
            body.replace("eb:", "ebxml:")
                .replace("xmlns:eb=", "xmlns:ebxml="),
            format!("{}{tail}", head.replace("><", ">\n  <")),
            format!(
                "{}{tail}",
                head.replace("<eb:From>", "<!-- from --><eb:From>")
            ),
            format!("{}{tail}", head.replace("<eb:CPAId>", "<eb:CPAId> ")),
            body.replace(&format!(" {eb}"), "")
                .replace("<SOAP:Header>", &format!("<SOAP:Header {eb}>")),
            body.replace(&format!(" {eb}"), "")
                .replace("<eb:MessageHeader ", &format!("<eb:MessageHeader {eb} ")),
            body.replace("conv-42", "conv&amp;42&#x41;"),
            body.replace(
                "<SOAP:Body>",
                "<SOAP:Body xmlns:p=\"urn:th:tisi:nsw:permit:1_00\">",
            ),
            body.replace(
                "<SOAP:Body>",
                "<SOAP:Body xmlns=\"urn:th:tisi:nsw:permit:1_00\">",
            ),
            body.replace("<SOAP:Body>", "<SOAP:Body>\n<!-- payload -->\n"),
            body.replace("</SOAP:Body>", "\n</SOAP:Body>"),
            body.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", ""),
            body.replace("eb:version=\"2.0\"", "eb:version=\"2.1\""),
            body.replace("SOAP:mustUnderstand=\"1\"", ""),
            body.replace(
                "xmlns:eb=\"http://www.oasis",
                "xmlns:eb=\"https://www.oasis",
            ),
            body.replace("<eb:Action>", "<eb:Action>Ping</eb:Action><eb:Action>"),
            body.replace(
                "<eb:DuplicateElimination/>",
                "<eb:DuplicateElimination/><eb:Extra><x/></eb:Extra>",
            ),
            body.replace("</SOAP:Body>", "<eb:Manifest/></SOAP:Body>"),
            body.replace("</SOAP:Envelope>", "</SOAP:Envelope><!-- after -->"),
            body.replace("<SOAP:Body>", "<SOAP:Body><![CDATA[ ]]>"),
            body.replace("ebxml-msg:actor:toPartyMSH", "ebxml-msg:actor:nextMSH"),
            body.replace(
                " SOAP:actor=\"urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH\"",
                "",
            ),
        ]
    }

    #[test]
    fn schema_examples_answer_the_same_and_the_valid_ones_take_the_fast_path() {
        let mut fast = 0;
        for (name, xml) in examples() {
            let Some(root) = root_of(&xml) else { continue };
            for tis620 in [false, true] {
                let (ct, body) = packaged(root, &xml, tis620, Packaging::Multipart);
                let took = check(Some(&ct), &body);
                assert_eq!(
                    took,
                    name.starts_with("valid-"),
                    "{name} multipart tis620={tis620}"
                );
                let (ct, body) = inline(root, &xml, tis620);
                let took = check(Some(&ct), &body);
                if name.starts_with("valid-") {
                    assert!(took, "{name} tis620={tis620}");
                    fast += 1;
                }
                let text = String::from_utf8_lossy(&body).into_owned();
                if !tis620 {
                    for v in envelope_variants(&text) {
                        check(Some(&ct), v.as_bytes());
                        check(None, v.as_bytes());
                    }
                }
            }
        }
        assert!(fast >= 8, "the valid inbound examples take the fast path");
    }

    #[test]
    fn envelope_variants_that_stay_valid_take_the_fast_path() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitRequest.xml");
        let (ct, body) = inline("ImportPermitRequest", xml, false);
        let text = String::from_utf8(body).unwrap();
        let v = envelope_variants(&text);
        for (i, want) in [
            true, true, true, true, true, true, true, true, true, true, true, true, true, false,
            false, false, false, true, false, true, false,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(
                check(Some(&ct), v[i].as_bytes()),
                want,
                "variant {i}:\n{}",
                v[i]
            );
        }
    }

    #[test]
    fn the_limits_hold_on_the_fast_path() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitRequest.xml");
        let (ct, body) = inline("ImportPermitRequest", xml, false);
        let d = Limits::default();
        assert!(check_with(Some(&ct), &body, &d));
        for limits in [
            // ImportPermitRequest/GoodsItem/Manufacturer/Name: four levels (the envelope's
            // do not count).
            Limits { max_depth: 3, ..d },
            Limits { max_items: 0, ..d },
            Limits {
                max_body_bytes: body.len() - 1,
                ..d
            },
        ] {
            assert!(!check_with(Some(&ct), &body, &limits), "{limits:?}");
            assert!(intake(Some(&ct), &body, &limits).is_err(), "{limits:?}");
        }
        let text = String::from_utf8(body).unwrap();
        for bad in [
            text.replacen(
                "<SOAP:Envelope",
                "<!DOCTYPE x [<!ENTITY e \"x\">]><SOAP:Envelope",
                1,
            ),
            text.replace("<SOAP:Body>", "<SOAP:Body><?pi x?>"),
            text.replace("<GoodsItem>", "<GoodsItem><?pi x?>"),
            text.replace("</SOAP:Envelope>", "</SOAP:Envelope><SOAP:Envelope/>"),
            text.replace("</SOAP:Envelope>", "</SOAP:Envelope>x"),
            text.replace("<SOAP:Body>", "<SOAP:Body><?xml version=\"1.0\"?>"),
            text.replace("<Brand>", "<Brand>&e;"),
        ] {
            assert!(!check(Some(&ct), bad.as_bytes()), "{bad}");
            assert!(intake(Some(&ct), bad.as_bytes(), &d).is_err(), "{bad}");
        }
        // Other content types, and an inline body labelled multipart, are left to the full
        // path.
        assert!(!check(Some("image/png"), text.as_bytes()));
        assert!(!check(
            Some("multipart/related; boundary=x"),
            text.as_bytes()
        ));
        assert!(check(Some("text/plain"), text.as_bytes()));
        assert!(check(
            Some("application/soap+xml; charset=utf-8"),
            text.as_bytes()
        ));
        let undeclared = text.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "");
        assert!(check(
            Some("text/xml; charset=utf-8"),
            undeclared.as_bytes()
        ));
        assert!(!check(
            Some("text/xml; charset=utf-16"),
            undeclared.as_bytes()
        ));
        assert!(!check(
            Some("text/xml; charset=ebcdic"),
            undeclared.as_bytes()
        ));
    }

    #[test]
    fn structure_and_value_problems_are_left_to_the_full_path() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitRequest.xml");
        let (ct, body) = inline("ImportPermitRequest", xml, false);
        let text = String::from_utf8(body).unwrap();
        let item = {
            let a = text.find("<GoodsItem>").unwrap();
            let b = text.find("</GoodsItem>").unwrap() + "</GoodsItem>".len();
            text[a..b].to_owned()
        };
        for bad in [
            text.replace("<Brand>", "<Model>x</Model><Brand>"),
            text.replace("<Brand>", "<Brand>x</Brand><Brand>"),
            text.replace("<Brand>", "<Colour>red</Colour><Brand>"),
            text.replace(
                "<Brand>",
                "<x:Brand xmlns:x=\"urn:other\">x</x:Brand><Brand>",
            ),
            text.replace("<DocumentControl>", "<DocumentControl>text"),
            text.replace("<Brand>", "<Brand lang=\"th\">"),
            text.replace("<Quantity unitCode=", "<Quantity unit=\"x\" unitCode="),
            text.replace("<Brand>", "<Brand><b/>"),
            text.replace("<HSCode>85044090", "<HSCode>8504409"),
            text.replace("</GoodsItem>", &format!("</GoodsItem>{item}")),
            text.replace("<Invoice>", "<Invoice><Number>1</Number>"),
            text.replace(
                "ImportPermitRequest xmlns=",
                "ImportPermitRequest xsi:x=\"1\" xmlns=",
            ),
            text.replace(
                "<eb:Action>ImportPermitRequest",
                "<eb:Action>DeclarationCheck",
            ),
            text.replace("urn:th:tisi:nsw:permit", "urn:th:tisi:nsw:permit:"),
        ] {
            assert!(!check(Some(&ct), bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn mutated_messages_answer_the_same() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitRequest.xml");
        // Each packaging, with how many places to mutate and how far apart.
        for (packaging, places, step) in
            [(Packaging::Inline, 97, 7), (Packaging::Multipart, 61, 11)]
        {
            let (ct, body) = packaged("ImportPermitRequest", xml, false, packaging);
            let text = String::from_utf8(body).unwrap();
            for kind in 0..5 {
                for at in 0..places {
                    for s in SNIPPETS {
                        let m = mutate(&text, kind, at * step, s);
                        check(Some(&ct), m.as_bytes());
                    }
                }
            }
        }
    }

    /// A multipart message's parts: what the fast path reads itself and what it leaves to the
    /// full path.
    #[test]
    fn multipart_messages_take_the_fast_path_only_as_they_are() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitRequest.xml");
        let (ct, body) = packaged("ImportPermitRequest", xml, false, Packaging::Multipart);
        let text = String::from_utf8(body).unwrap();
        let href = {
            let a = text.find("xlink:href=\"").unwrap() + "xlink:href=\"".len();
            text[a..a + text[a..].find('"').unwrap()].to_owned()
        };
        let cid = href.strip_prefix("cid:").unwrap().to_owned();
        let payload_at = text.find("<ImportPermitRequest").unwrap();
        let declaration = {
            let a = text[..payload_at].rfind("<?xml").unwrap();
            text[a..payload_at].to_owned()
        };
        let reference = {
            let a = text.find("<eb:Reference").unwrap();
            let b = text.find("</eb:Manifest>").unwrap();
            text[a..b].to_owned()
        };
        let document = &xml[xml.find("<ImportPermitRequest").unwrap()..];
        // Each rewrite, and whether the fast path still answers.
        for (i, (m, want)) in [
            (text.clone(), true),
            // Comments and blanks around the payload's root; no XML declaration.
            (
                format!("{}<!-- p -->\n{}", &text[..payload_at], &text[payload_at..]),
                true,
            ),
            (
                text.replace(
                    "</ImportPermitRequest>",
                    "</ImportPermitRequest>\n<!-- end -->",
                ),
                true,
            ),
            (text.replace(&declaration, ""), true),
            // The manifest: no reference, two, not a cid: URL, a part that is not there.
            (text.replace(&reference, ""), false),
            (
                text.replace(&reference, &format!("{reference}{reference}")),
                false,
            ),
            (
                text.replace(&format!("\"{href}\""), "\"http://example.com/p.xml\""),
                false,
            ),
            (
                text.replace(&format!("\"{href}\""), "\"cid:missing@x\""),
                false,
            ),
            (text.replace(&format!("<{cid}>"), "<other@x>"), false),
            // The payload in the body as well; a fault in the body.
            (
                text.replace("</SOAP:Body>", &format!("{document}</SOAP:Body>")),
                false,
            ),
            (
                text.replace(
                    "</SOAP:Body>",
                    "<SOAP:Fault><faultcode>SOAP:Client</faultcode>\
                     <faultstring>x</faultstring></SOAP:Fault></SOAP:Body>",
                ),
                false,
            ),
            // What the scan refuses in the payload part, and a second root.
            (
                text.replacen(
                    "<ImportPermitRequest",
                    "<!DOCTYPE x [<!ENTITY e \"x\">]><ImportPermitRequest",
                    1,
                ),
                false,
            ),
            (
                text.replace("</ImportPermitRequest>", "</ImportPermitRequest><?pi x?>"),
                false,
            ),
            (
                text.replace(
                    "</ImportPermitRequest>",
                    "</ImportPermitRequest><ImportPermitRequest/>",
                ),
                false,
            ),
            (
                text.replace("</ImportPermitRequest>", "</ImportPermitRequest>x"),
                false,
            ),
            (
                text.replace(&declaration, &format!("<!-- p -->{declaration}")),
                false,
            ),
            // A payload of another action; a value the conversion refuses.
            (
                text.replace(
                    "<eb:Action>ImportPermitRequest",
                    "<eb:Action>DeclarationCheck",
                ),
                false,
            ),
            (text.replace("<HSCode>85044090", "<HSCode>8504409"), false),
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(check(Some(&ct), m.as_bytes()), want, "rewrite {i}:\n{m}");
        }
        // Without a Content-Type, the full path finds the boundary.
        assert!(!check(None, text.as_bytes()));
        // The limits hold on the payload part.
        let d = Limits::default();
        for limits in [Limits { max_depth: 2, ..d }, Limits { max_items: 0, ..d }] {
            assert!(
                !check_with(Some(&ct), text.as_bytes(), &limits),
                "{limits:?}"
            );
            assert!(
                intake(Some(&ct), text.as_bytes(), &limits).is_err(),
                "{limits:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn inline_requests_answer_the_same_as_the_full_path(
            doc in inbound(),
            edits in proptest::collection::vec((0usize..5, any::<usize>(), 0usize..SNIPPETS.len()), 0..3),
            whole in any::<bool>(),
            tis620 in any::<bool>(),
            multipart in any::<bool>(),
        ) {
            let clean = edits.is_empty();
            let payload = encode_inbound(&doc);
            let mut xml = payload.clone();
            if !whole {
                for &(kind, at, s) in &edits {
                    xml = mutate(&xml, kind, at, SNIPPETS[s]);
                }
            }
            let packaging = if multipart { Packaging::Multipart } else { Packaging::Inline };
            let (ct, body) = packaged(root_name_inbound(&doc), &xml, tis620, packaging);
            let body = if whole && !tis620 {
                let mut t = String::from_utf8(body).unwrap();
                for &(kind, at, s) in &edits {
                    t = mutate(&t, kind, at, SNIPPETS[s]);
                }
                t.into_bytes()
            } else {
                body
            };
            let took = check(Some(&ct), &body);
            let uses_outer_prefix =
                !multipart && ["SOAP:", "eb:", "xlink:"].iter().any(|p| payload.contains(p));
            if clean && !uses_outer_prefix && intake_full(Some(&ct), &body, &Limits::default()).is_ok() {
                prop_assert!(took, "a clean accepted request takes the fast path");
            }
        }

        #[test]
        fn byte_edits_answer_the_same(
            doc in inbound(),
            pos in any::<usize>(),
            len in 0usize..40,
            byte in any::<u8>(),
            copy in 0usize..300,
            multipart in any::<bool>(),
        ) {
            let packaging = if multipart { Packaging::Multipart } else { Packaging::Inline };
            let payload = encode_inbound(&doc);
            let (ct, body) = packaged(root_name_inbound(&doc), &payload, false, packaging);
            let at = pos % body.len();
            let end = (at + len).min(body.len());
            let mut edited = body.clone();
            edited.drain(at..end);
            edited.insert(at.min(edited.len()), byte);
            check(Some(&ct), &edited);
            check(None, &edited);
            // A stretch repeated: elements twice, out of order, tags cut.
            let end = (at + copy).min(body.len());
            let mut repeated = body.clone();
            repeated.splice(end..end, body[at..end].iter().copied());
            check(Some(&ct), &repeated);
        }
    }
}

/// `parse_reply` (fast path first) answers as the full path alone, and takes the fast path for
/// the replies the gateway sends.
mod fast_reply {
    use proptest::prelude::*;

    use super::{examples, mutate, SNIPPETS};
    use crate::wire::envelope::AckActor;
    use crate::wire::fast::reply_fast;
    use crate::wire::intake::test_support::header;
    use crate::wire::intake::{Limits, Packaging};
    use crate::wire::payload::{decode_outbound, encode_outbound, root_name_outbound};
    use crate::wire::reply::{build_business_xml, parse_reply, parse_reply_with};
    use crate::wire::v1_00::roundtrip_tests::outbound;

    /// Whether the fast path answered.
    fn check(content_type: Option<&str>, body: &[u8]) -> bool {
        let full = parse_reply_with(content_type, body, decode_outbound);
        let text = String::from_utf8_lossy(body);
        assert_eq!(parse_reply(content_type, body), full, "{text}");
        let limits = Limits {
            max_body_bytes: usize::MAX,
            ..Limits::default()
        };
        let fast = reply_fast(content_type, body, &limits);
        if let Some(f) = &fast {
            assert_eq!(Ok(f), full.as_ref(), "{text}");
        }
        fast.is_some()
    }

    /// The gateway's reply carrying `payload` (a document whose root is `action`), with an
    /// acknowledgment of the request.
    fn reply(action: &str, payload: &str, packaging: Packaging) -> (String, Vec<u8>) {
        let request = header("ImportPermitRequest");
        let mut h = header(action);
        std::mem::swap(&mut h.from, &mut h.to);
        h.message_id = "5c1d2e3f-0a1b-4c2d-8e3f-405162738495@tisi.go.th".into();
        h.ref_to_message_id = Some(request.message_id.clone());
        let b = build_business_xml(
            &h,
            Some((&request, AckActor::ToPartyMsh)),
            payload,
            packaging,
        );
        (b.content_type, b.body)
    }

    const RESPONSES: [&str; 4] = [
        "ImportPermitResponse",
        "DeclarationCheckResponse",
        "DeclarationAmendmentResponse",
        "PermitStatusResponse",
    ];

    #[test]
    fn schema_examples_answer_the_same_and_the_valid_ones_take_the_fast_path() {
        let mut fast = 0;
        for (name, xml) in examples() {
            let Some(action) = RESPONSES
                .into_iter()
                .find(|r| xml.contains(&format!("<{r} ")) || xml.contains(&format!(":{r} ")))
            else {
                continue;
            };
            for packaging in [Packaging::Inline, Packaging::Multipart] {
                let (ct, body) = reply(action, &xml, packaging);
                let took = check(Some(&ct), &body);
                assert_eq!(took, name.starts_with("valid-"), "{name} {packaging:?}");
                fast += usize::from(took);
            }
        }
        assert_eq!(fast, 8, "the four valid responses in both packagings");
    }

    #[test]
    fn what_the_fast_path_leaves_to_the_full_path() {
        let xml = include_str!("../../../schemas/examples/valid-ImportPermitResponse.xml");
        for packaging in [Packaging::Inline, Packaging::Multipart] {
            let (ct, body) = reply("ImportPermitResponse", xml, packaging);
            let text = String::from_utf8(body).unwrap();
            assert!(check(Some(&ct), text.as_bytes()), "{packaging:?}");
            for (i, m) in [
                text.replace(
                    "</SOAP:Body>",
                    "<SOAP:Fault><faultcode>SOAP:Server</faultcode>\
                     <faultstring>x</faultstring></SOAP:Fault></SOAP:Body>",
                ),
                text.replace("<eb:Timestamp>", "<eb:Timestamp>x"),
                text.replace("<Decision>", "<Decision>X"),
                text.replace("</SOAP:Envelope>", "</SOAP:Envelope><?pi x?>"),
                text.replace("<eb:CPAId>", "<eb:CPAId><![CDATA[x]]>"),
            ]
            .into_iter()
            .enumerate()
            {
                assert!(
                    !check(Some(&ct), m.as_bytes()),
                    "{packaging:?} rewrite {i}:\n{m}"
                );
            }
            for kind in 0..5 {
                for at in 0..41 {
                    for s in SNIPPETS {
                        check(Some(&ct), mutate(&text, kind, at * 13, s).as_bytes());
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn replies_answer_the_same_as_the_full_path(
            doc in outbound(),
            multipart in any::<bool>(),
            pos in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let packaging = if multipart { Packaging::Multipart } else { Packaging::Inline };
            let payload = encode_outbound(&doc);
            let (ct, body) = reply(root_name_outbound(&doc), &payload, packaging);
            let uses_outer_prefix =
                !multipart && ["SOAP:", "eb:", "xlink:"].iter().any(|p| payload.contains(p));
            let took = check(Some(&ct), &body);
            prop_assert!(took || uses_outer_prefix, "a reply as built takes the fast path");
            let mut edited = body.clone();
            let at = pos % edited.len();
            edited[at] = byte;
            check(Some(&ct), &edited);
        }
    }
}

//! Version 1.00 DTOs ↔ domain documents. Reading collects every bad or missing value with its
//! XPath; writing borrows the domain's text and formats numbers and dates canonically.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use serde::{Deserialize, Serialize};

use super::dto::*;
use super::NAMESPACE;
use crate::domain::*;
use crate::wire::payload::{collapse, Cx, Loc, Tape};
use crate::wire::{EbmsError, ErrorCode};

// =============================================================================================
// Entry points
// =============================================================================================

pub(crate) fn decode_inbound(
    xml: &str,
    root: &'static str,
    tape: Option<&[Tape<'_>]>,
) -> Result<InboundDocument, Vec<EbmsError>> {
    let mut cx = Cx::default();
    let doc = match root {
        "ImportPermitRequest" => {
            let d: ImportPermitRequestDto = de(xml, root, tape)?;
            import_permit_request(&mut cx, &d).map(InboundDocument::ImportPermitRequest)
        }
        "DeclarationCheck" => {
            let d: DeclarationCheckDto = de(xml, root, tape)?;
            declaration_check(&mut cx, &d).map(InboundDocument::DeclarationCheck)
        }
        "DeclarationAmendment" => {
            let d: DeclarationAmendmentDto = de(xml, root, tape)?;
            declaration_amendment(&mut cx, &d).map(InboundDocument::DeclarationAmendment)
        }
        "PermitStatusQuery" => {
            let d: PermitStatusQueryDto = de(xml, root, tape)?;
            permit_status_query(&mut cx, &d).map(InboundDocument::PermitStatusQuery)
        }
        other => return Err(unknown_root(other)),
    };
    cx.finish(doc)
}

pub(crate) fn decode_outbound(
    xml: &str,
    root: &'static str,
    tape: Option<&[Tape<'_>]>,
) -> Result<OutboundDocument, Vec<EbmsError>> {
    let mut cx = Cx::default();
    let doc = match root {
        "ImportPermitResponse" => {
            let d: ImportPermitResponseDto = de(xml, root, tape)?;
            import_permit_response(&mut cx, &d).map(OutboundDocument::ImportPermitResponse)
        }
        "DeclarationCheckResponse" => {
            let d: DeclarationCheckResponseDto = de(xml, root, tape)?;
            declaration_check_response(&mut cx, &d).map(OutboundDocument::DeclarationCheckResponse)
        }
        "DeclarationAmendmentResponse" => {
            let d: DeclarationAmendmentResponseDto = de(xml, root, tape)?;
            declaration_amendment_response(&mut cx, &d)
                .map(OutboundDocument::DeclarationAmendmentResponse)
        }
        "PermitStatusResponse" => {
            let d: PermitStatusResponseDto = de(xml, root, tape)?;
            permit_status_response(&mut cx, &d).map(OutboundDocument::PermitStatusResponse)
        }
        other => return Err(unknown_root(other)),
    };
    cx.finish(doc)
}

pub(crate) fn encode_inbound(doc: &InboundDocument) -> String {
    encode_inbound_by::<Hand>(doc)
}

pub(crate) fn encode_outbound(doc: &OutboundDocument) -> String {
    encode_outbound_by::<Hand>(doc)
}

/// [`encode_inbound`] with the serde serializer: the reference the hand-written writer is
/// checked against.
#[cfg(test)]
pub(super) fn encode_inbound_serde(doc: &InboundDocument) -> String {
    encode_inbound_by::<Serde>(doc)
}

/// [`encode_outbound`] with the serde serializer.
#[cfg(test)]
pub(super) fn encode_outbound_serde(doc: &OutboundDocument) -> String {
    encode_outbound_by::<Serde>(doc)
}

/// How a document DTO becomes text.
trait Writer {
    fn write<T: Serialize + RootXml>(dto: &T) -> String;
}

/// The DTOs' own writer (what the serde serializer writes, without its per-call overhead).
struct Hand;

impl Writer for Hand {
    fn write<T: Serialize + RootXml>(dto: &T) -> String {
        dto.to_xml()
    }
}

/// The serde serializer.
#[cfg(test)]
struct Serde;

#[cfg(test)]
impl Writer for Serde {
    fn write<T: Serialize + RootXml>(dto: &T) -> String {
        ser(dto)
    }
}

fn encode_inbound_by<W: Writer>(doc: &InboundDocument) -> String {
    match doc {
        InboundDocument::ImportPermitRequest(d) => W::write(&import_permit_request_dto(d)),
        InboundDocument::DeclarationCheck(d) => W::write(&declaration_check_dto(d)),
        InboundDocument::DeclarationAmendment(d) => W::write(&DeclarationAmendmentDto {
            xmlns: NAMESPACE,
            declaration_number: b(&d.declaration_number),
            action: b(match d.action {
                AmendmentAction::Cancel => "CANCEL",
            }),
        }),
        InboundDocument::PermitStatusQuery(d) => W::write(&permit_status_query_dto(d)),
    }
}

fn encode_outbound_by<W: Writer>(doc: &OutboundDocument) -> String {
    match doc {
        OutboundDocument::ImportPermitResponse(d) => W::write(&import_permit_response_dto(d)),
        OutboundDocument::DeclarationCheckResponse(d) => {
            W::write(&declaration_check_response_dto(d))
        }
        OutboundDocument::DeclarationAmendmentResponse(d) => {
            W::write(&DeclarationAmendmentResponseDto {
                xmlns: NAMESPACE,
                declaration_number: b(&d.declaration_number),
                result: b(d.result.code()),
            })
        }
        OutboundDocument::PermitStatusResponse(d) => W::write(&permit_status_response_dto(d)),
    }
}

/// The DTO of a document: from the structure pass's tape when there is one (the document is
/// then structurally clean), else read from the text with serde.
fn de<'a, T: Deserialize<'a> + FromTape<'a>>(
    xml: &'a str,
    root: &str,
    tape: Option<&[Tape<'a>]>,
) -> Result<T, Vec<EbmsError>> {
    if let Some(tape) = tape {
        return Ok(T::from_tape(tape));
    }
    quick_xml::de::from_str(xml).map_err(|e| {
        vec![EbmsError::new(
            ErrorCode::OtherXml,
            format!("/{root}"),
            format!("the {root} document cannot be read: {e}"),
        )]
    })
}

#[cfg(test)]
fn ser<T: Serialize>(dto: &T) -> String {
    // The DTOs hold only structs, sequences, options and strings, which the serializer always
    // accepts: a failure here is a bug in the DTO definitions.
    quick_xml::se::to_string(dto).expect("payload DTOs always serialize")
}

fn unknown_root(root: &str) -> Vec<EbmsError> {
    vec![EbmsError::new(
        ErrorCode::NotSupported,
        format!("/{root}"),
        format!("document {root} is not part of payload version 1_00"),
    )]
}

// =============================================================================================
// Value parsers (wire rules on top of the domain's `parse` functions)
// =============================================================================================

fn bad<T>(msg: String) -> Result<T, ValueError> {
    Err(ValueError(msg))
}

fn an(max: usize, what: &'static str) -> impl Fn(&str) -> Result<String, ValueError> {
    move |s| parse_an(s, max, what)
}

/// The importer's tax number in a request keeps only its form: the check digit is rule 0.
fn tax_number_form(s: &str) -> Result<String, ValueError> {
    if TaxNumber::has_form(s) {
        Ok(s.to_owned())
    } else {
        TaxNumber::parse(s).map(|t| t.to_string())
    }
}

fn small_number(s: &str, digits: usize, max: u16, what: &str) -> Result<u16, ValueError> {
    if s.is_empty() || s.len() > digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!(
            "{what} '{s}' must be a whole number from 1 to {max}"
        ));
    }
    match s.parse::<u16>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => bad(format!(
            "{what} '{s}' must be a whole number from 1 to {max}"
        )),
    }
}

fn item_number(s: &str) -> Result<u16, ValueError> {
    small_number(s, 3, 999, "item number")
}

fn line_number(s: &str) -> Result<u16, ValueError> {
    small_number(s, 3, 999, "line number")
}

fn invoice_item_number(s: &str) -> Result<u16, ValueError> {
    small_number(s, 4, 9999, "invoice item number")
}

fn date_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

fn date(s: &str) -> Result<NaiveDate, ValueError> {
    if !(s.len() == 10 && date_shape(s)) {
        return bad(format!(
            "date '{s}' must be YYYY-MM-DD, without a time zone"
        ));
    }
    parse_date(s)
}

/// Most time-zone offset `xs:dateTime` allows.
const MAX_OFFSET_SECS: i32 = 14 * 3600;

fn date_time(s: &str) -> Result<DateTime<FixedOffset>, ValueError> {
    let b = s.as_bytes();
    let shape = date_shape(s)
        && b.len() >= 20
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && [11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && (s.ends_with('Z') || matches!(b.get(b.len() - 6), Some(b'+' | b'-')));
    if !shape {
        return bad(format!(
            "date-time '{s}' must be YYYY-MM-DDThh:mm:ss[.fff] followed by Z or an offset such as +07:00"
        ));
    }
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|_| ValueError(format!("date-time '{s}' is not a real date and time")))?;
    if t.offset().local_minus_utc().abs() > MAX_OFFSET_SECS {
        return bad(format!(
            "date-time '{s}' has a time-zone offset beyond 14 hours"
        ));
    }
    if !(1900..2400).contains(&t.year()) {
        return bad(format!(
            "date-time '{s}' must be in a Gregorian year from 1900 to 2399"
        ));
    }
    if t.nanosecond() >= 1_000_000_000 {
        return bad(format!("date-time '{s}' has a leap second"));
    }
    Ok(t)
}

fn write_date_time(t: &DateTime<FixedOffset>) -> String {
    super::super::envelope::format_date_time(t)
}

fn amount(s: &str) -> Result<Amount, ValueError> {
    let (int, frac) = s.split_once('.').unwrap_or((s, "1"));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return bad(format!(
            "'{s}' is not a plain decimal number such as 12 or 0.125"
        ));
    }
    Amount::parse(s)
}

fn code<T>(
    s: &str,
    what: &str,
    allowed: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<T, ValueError> {
    f(s).ok_or_else(|| ValueError(format!("{what} '{s}' is not one of {allowed}")))
}

fn function(s: &str) -> Result<Function, ValueError> {
    code(
        s,
        "function",
        "9 (original), 5 (replacement), 1 (cancellation)",
        Function::from_code,
    )
}

fn request_type(s: &str) -> Result<RequestType, ValueError> {
    code(
        s,
        "request type",
        "LICENSED, SPECIAL",
        RequestType::from_code,
    )
}

fn transport_mode(s: &str) -> Result<TransportMode, ValueError> {
    code(
        s,
        "transport mode",
        "1 (sea), 2 (rail), 3 (road), 4 (air), 5 (post)",
        TransportMode::from_code,
    )
}

fn destination(s: &str) -> Result<Country, ValueError> {
    let c = Country::parse(s)?;
    if c != Country::TH {
        return bad(format!("country of destination '{s}' must be TH"));
    }
    Ok(c)
}

/// The discharge port of an import: in Thailand, as the country of destination is TH.
fn thai_port(s: &str) -> Result<Port, ValueError> {
    let p = Port::parse(s)?;
    if p.country() != Country::TH {
        return bad(format!(
            "discharge port '{s}' is not in Thailand; the goods are imported into Thailand, so \
             it must be a Thai port (TH…, e.g. THLCH or THBKK)"
        ));
    }
    Ok(p)
}

fn decision(s: &str) -> Result<RequestDecision, ValueError> {
    code(
        s,
        "decision",
        "APPROVED, HOLD_FOR_INSPECTION, UNDER_REVIEW, REJECTED, NOT_REQUIRED, CANCELLED",
        RequestDecision::from_code,
    )
}

fn item_status(s: &str) -> Result<ItemStatus, ValueError> {
    code(
        s,
        "status",
        "APPROVED, HOLD_FOR_INSPECTION, UNDER_REVIEW, REJECTED, NOT_REQUIRED",
        ItemStatus::from_code,
    )
}

fn reason_code(s: &str) -> Result<ReasonCode, ValueError> {
    ReasonCode::from_code(s)
        .ok_or_else(|| ValueError(format!("reason code '{s}' is not a known reason code")))
}

fn declaration_result(s: &str) -> Result<DeclarationResult, ValueError> {
    code(
        s,
        "result",
        "ACCEPTED, REFUSED, HOLD",
        DeclarationResult::from_code,
    )
}

fn line_result(s: &str) -> Result<LineResult, ValueError> {
    code(
        s,
        "result",
        "MATCHED, MISMATCH, PERMIT_NOT_FOUND, PERMIT_NOT_VALID, QUANTITY_EXCEEDED, HOLD",
        LineResult::from_code,
    )
}

fn amendment_action(s: &str) -> Result<AmendmentAction, ValueError> {
    code(s, "action", "CANCEL", |s| {
        (s == "CANCEL").then_some(AmendmentAction::Cancel)
    })
}

fn amendment_result(s: &str) -> Result<AmendmentResult, ValueError> {
    code(
        s,
        "result",
        "RESTORED, UNKNOWN_DECLARATION",
        AmendmentResult::from_code,
    )
}

fn query_result(s: &str) -> Result<StatusQueryResult, ValueError> {
    code(s, "result", "FOUND, NOT_FOUND", |s| match s {
        "FOUND" => Some(StatusQueryResult::Found),
        "NOT_FOUND" => Some(StatusQueryResult::NotFound),
        _ => None,
    })
}

fn query_result_code(r: StatusQueryResult) -> &'static str {
    match r {
        StatusQueryResult::Found => "FOUND",
        StatusQueryResult::NotFound => "NOT_FOUND",
    }
}

fn actor(s: &str) -> Result<Actor, ValueError> {
    if s.chars().count() > 70 || s.chars().any(char::is_control) {
        return bad(format!(
            "actor '{s}' must be at most 70 characters without control characters"
        ));
    }
    Actor::parse(s).ok_or_else(|| {
        ValueError(format!(
            "actor '{s}' must be system, customs or officer:<id>"
        ))
    })
}

/// A standard in a response: canonical form only.
fn canonical_standard(s: &str) -> Result<StandardRef, ValueError> {
    let r = StandardRef::parse(s)?;
    if r.canonical() != s {
        return bad(format!(
            "standard '{s}' must be written in canonical form, here '{}'",
            r.canonical()
        ));
    }
    Ok(r)
}

fn required_message(s: &str) -> Result<String, ValueError> {
    parse_an(s, 1000, "message")
}

/// Optional message text (history reasons): may be empty, at most 1000 characters.
fn optional_message(s: &str) -> Result<String, ValueError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    parse_an(s, 1000, "message")
}

// =============================================================================================
// Shared composites
// =============================================================================================

fn quantity(
    cx: &mut Cx,
    q: &Option<QuantityDto<'_>>,
    at: Loc<'_>,
    positive: bool,
) -> Option<Quantity> {
    let q = cx.node(q, at)?;
    let unit = cx.req(&q.unit_code, at.attr("unitCode"), UnitCode::parse);
    let amount = match &q.value {
        Some(v) if !v.trim().is_empty() => cx.req(&q.value, at, |s| {
            let a = amount(s)?;
            if positive && a == Amount::ZERO {
                return bad("quantity must be greater than 0".into());
            }
            Ok(a)
        }),
        _ => {
            cx.invalid(at, "the quantity has no value");
            None
        }
    };
    Some(Quantity {
        amount: amount?,
        unit: unit?,
    })
}

fn party(cx: &mut Cx, p: &Option<PartyDto<'_>>, at: Loc<'_>) -> Option<PartyKey> {
    let p = cx.node(p, at)?;
    let tax_number = cx.req(&p.tax_number, at.child("TaxNumber"), TaxNumber::parse);
    let branch = cx.req(&p.branch, at.child("Branch"), Branch::parse);
    Some(PartyKey {
        tax_number: tax_number?,
        branch: branch?,
    })
}

/// A permit the document may carry: `Some(None)` when it carries none.
fn optional_permit(
    cx: &mut Cx,
    p: &Option<PermitDto<'_>>,
    root: Loc<'_>,
) -> Option<Option<Permit>> {
    match p {
        None => Some(None),
        Some(p) => permit(cx, p, root.child("Permit")).map(Some),
    }
}

fn permit(cx: &mut Cx, p: &PermitDto<'_>, at: Loc<'_>) -> Option<Permit> {
    let number = cx.req(
        &p.permit_number,
        at.child("PermitNumber"),
        PermitNumber::parse,
    );
    let issue_date = cx.req(&p.issue_date, at.child("IssueDate"), date);
    let effective_date = cx.req(&p.effective_date, at.child("EffectiveDate"), date);
    let expiry_date = cx.req(&p.expiry_date, at.child("ExpiryDate"), date);
    let arrival_date = cx.req(&p.arrival_date, at.child("ArrivalDate"), date);
    let invoice_number = cx.req(
        &p.invoice_number,
        at.child("InvoiceNumber"),
        an(35, "invoice number"),
    );
    let invoice_date = cx.req(&p.invoice_date, at.child("InvoiceDate"), date);
    let load_port = cx.req(&p.load_port, at.child("LoadPort"), Port::parse);
    let discharge_port = cx.req(&p.discharge_port, at.child("DischargePort"), Port::parse);
    let country_of_destination = cx.req(
        &p.country_of_destination,
        at.child("CountryOfDestination"),
        Country::parse,
    );
    Some(Permit {
        number: number?,
        issue_date: issue_date?,
        effective_date: effective_date?,
        expiry_date: expiry_date?,
        arrival_date: arrival_date?,
        invoice_number: invoice_number?,
        invoice_date: invoice_date?,
        load_port: load_port?,
        discharge_port: discharge_port?,
        country_of_destination: country_of_destination?,
    })
}

/// Exactly one Thai and one English message; empty texts allowed only when `allow_empty`.
fn messages(
    cx: &mut Cx,
    ms: &[MessageDto<'_>],
    at: Loc<'_>,
    allow_empty: bool,
) -> Option<(String, String)> {
    let (mut th, mut en) = (None, None);
    let mut ok = true;
    for (i, m) in ms.iter().enumerate() {
        let m_at = at.item("Message", i);
        let lang = cx.req(&m.lang, m_at.attr("xml:lang"), |l| {
            if l.eq_ignore_ascii_case("th") {
                Ok(true)
            } else if l.eq_ignore_ascii_case("en") {
                Ok(false)
            } else {
                bad(format!("language '{l}' must be th or en"))
            }
        });
        let parse: fn(&str) -> Result<String, ValueError> = if allow_empty {
            optional_message
        } else {
            required_message
        };
        let text = cx.value_or_empty(&m.text, m_at, parse);
        match lang {
            Some(is_th) => {
                let slot = if is_th { &mut th } else { &mut en };
                if slot.is_some() {
                    cx.invalid(
                        m_at.attr("xml:lang"),
                        format!("a second message in {}", if is_th { "th" } else { "en" }),
                    );
                    ok = false;
                } else {
                    *slot = Some(text);
                }
            }
            None => ok = false,
        }
    }
    for (slot, lang) in [(&th, "th"), (&en, "en")] {
        if slot.is_none() && ok {
            cx.invalid(
                at,
                format!("a Message with xml:lang=\"{lang}\" is required"),
            );
        }
    }
    match (th, en) {
        (Some(Some(th)), Some(Some(en))) if ok => Some((th, en)),
        _ => None,
    }
}

fn reasons(cx: &mut Cx, rs: &[ReasonDto<'_>], at: Loc<'_>) -> Option<Vec<Reason>> {
    each(cx, rs, at, "Reason", |cx, r, r_at| {
        let code = cx.req(&r.code, r_at.child("Code"), reason_code);
        let field = cx.req(&r.field, r_at.child("Field"), an(512, "field"));
        let (message_th, message_en) = messages(cx, &r.messages, r_at, false)?;
        Some(Reason {
            code: code?,
            field: field?,
            message_th,
            message_en,
        })
    })
}

/// Checks a list's length (`min`..=999) and that the numbers `number` picks out of its
/// entries (`number_name`, where readable) are unique.
fn list_rules<D>(
    cx: &mut Cx,
    entries: &[D],
    root: Loc<'_>,
    name: &'static str,
    min: usize,
    number_name: &'static str,
    number: impl Fn(&D) -> Option<u16>,
) {
    let len = entries.len();
    if len < min {
        cx.missing(root.item(name, 0));
    }
    if len > 999 {
        cx.structure(
            root.item(name, 999),
            format!("more than 999 {name} elements"),
        );
    }
    let mut seen = [0u16; 1000];
    for (i, e) in entries.iter().enumerate() {
        let Some(n) = number(e) else { continue };
        let slot = &mut seen[usize::from(n).min(999)];
        if *slot != 0 {
            let at = root.item(name, i);
            cx.invalid(
                at.child(number_name),
                format!(
                    "{number_name} {n} is also used by {name}[{}]; it must be unique",
                    *slot
                ),
            );
        } else {
            *slot = (i + 1).min(usize::from(u16::MAX)) as u16;
        }
    }
}

fn number_of(v: &Option<Cow<'_, str>>, parse: fn(&str) -> Result<u16, ValueError>) -> Option<u16> {
    v.as_deref().and_then(|s| parse(&collapse(s)).ok())
}

/// Reads every entry of a repeated element, the `i`-th at `name[i+1]` under `at`. All are
/// read, so that each bad entry reports its own errors; the list is `None` if any was bad.
fn each<'d, D, T>(
    cx: &mut Cx,
    entries: &'d [D],
    at: Loc<'_>,
    name: &'static str,
    mut read: impl FnMut(&mut Cx, &'d D, Loc<'_>) -> Option<T>,
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (i, e) in entries.iter().enumerate() {
        match read(cx, e, at.item(name, i)) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

// =============================================================================================
// Inbound documents
// =============================================================================================

fn import_permit_request(
    cx: &mut Cx,
    d: &ImportPermitRequestDto<'_>,
) -> Option<ImportPermitRequest> {
    let r = Loc::root("ImportPermitRequest");
    let dc_at = r.child("DocumentControl");
    let (reference, function_, request_type_) = match cx.node(&d.document_control, dc_at) {
        Some(dc) => (
            cx.req(
                &dc.reference_number,
                dc_at.child("ReferenceNumber"),
                ReferenceNumber::parse,
            ),
            cx.req(&dc.function, dc_at.child("Function"), function),
            cx.req(&dc.request_type, dc_at.child("RequestType"), request_type),
        ),
        None => (None, None, None),
    };

    let imp_at = r.child("Importer");
    let importer = cx.node(&d.importer, imp_at).and_then(|i| {
        let tax_number = cx.req(&i.tax_number, imp_at.child("TaxNumber"), tax_number_form);
        let branch = cx.req(&i.branch, imp_at.child("Branch"), Branch::parse);
        let name = cx.req(&i.name, imp_at.child("Name"), an(256, "name"));
        let name_en = cx.opt(&i.name_en, imp_at.child("NameEn"), an(256, "English name"));
        Some(Importer {
            tax_number: tax_number?,
            branch: branch?,
            name: name?,
            name_en: name_en?,
        })
    });

    let ag_at = r.child("Agent");
    let agent = match &d.agent {
        None => Some(None),
        Some(a) => {
            let tax_number = cx.req(&a.tax_number, ag_at.child("TaxNumber"), TaxNumber::parse);
            let branch = cx.req(&a.branch, ag_at.child("Branch"), Branch::parse);
            let name = cx.req(&a.name, ag_at.child("Name"), an(256, "name"));
            (|| {
                Some(Some(Agent {
                    tax_number: tax_number?,
                    branch: branch?,
                    name: name?,
                }))
            })()
        }
    };

    let sh_at = r.child("Shipment");
    let shipment = cx.node(&d.shipment, sh_at).and_then(|s| {
        let arrival_date = cx.req(&s.arrival_date, sh_at.child("ArrivalDate"), date);
        let transport_mode_ = cx.req(
            &s.transport_mode,
            sh_at.child("TransportMode"),
            transport_mode,
        );
        let load_port = cx.req(&s.load_port, sh_at.child("LoadPort"), Port::parse);
        let discharge_port = cx.req(&s.discharge_port, sh_at.child("DischargePort"), thai_port);
        let country_of_destination = cx.req(
            &s.country_of_destination,
            sh_at.child("CountryOfDestination"),
            destination,
        );
        Some(Shipment {
            arrival_date: arrival_date?,
            transport_mode: transport_mode_?,
            load_port: load_port?,
            discharge_port: discharge_port?,
            country_of_destination: country_of_destination?,
        })
    });

    let inv_at = r.child("Invoice");
    let invoice = cx.node(&d.invoice, inv_at).and_then(|i| {
        let number = cx.req(&i.number, inv_at.child("Number"), an(35, "invoice number"));
        let date_ = cx.req(&i.date, inv_at.child("Date"), date);
        Some(Invoice {
            number: number?,
            date: date_?,
        })
    });

    list_rules(cx, &d.goods_items, r, "GoodsItem", 1, "ItemNumber", |g| {
        number_of(&g.item_number, item_number)
    });
    let items = each(cx, &d.goods_items, r, "GoodsItem", goods_item);

    Some(ImportPermitRequest {
        reference: reference?,
        function: function_?,
        request_type: request_type_?,
        importer: importer?,
        agent: agent?,
        shipment: shipment?,
        invoice: invoice?,
        items: items?,
    })
}

fn goods_item(cx: &mut Cx, g: &GoodsItemDto<'_>, at: Loc<'_>) -> Option<GoodsItem> {
    let item_number_ = cx.req(&g.item_number, at.child("ItemNumber"), item_number);
    let invoice_item_number_ = cx.req(
        &g.invoice_item_number,
        at.child("InvoiceItemNumber"),
        invoice_item_number,
    );
    let hs_code = cx.req(&g.hs_code, at.child("HSCode"), HsCode::parse);
    let description = cx.req(
        &g.description,
        at.child("Description"),
        an(512, "description"),
    );
    let description_en = cx.opt(
        &g.description_en,
        at.child("DescriptionEn"),
        an(512, "English description"),
    );
    let brand = cx.req(&g.brand, at.child("Brand"), an(70, "brand"));
    let model = cx.req(&g.model, at.child("Model"), an(70, "model"));
    let m_at = at.child("Manufacturer");
    let manufacturer = cx.node(&g.manufacturer, m_at).and_then(|m| {
        let name = cx.req(&m.name, m_at.child("Name"), an(256, "manufacturer name"));
        let country = cx.req(&m.country, m_at.child("Country"), Country::parse);
        Some(Manufacturer {
            name: name?,
            country: country?,
        })
    });
    let country_of_origin = cx.req(
        &g.country_of_origin,
        at.child("CountryOfOrigin"),
        Country::parse,
    );
    let quantity_ = quantity(cx, &g.quantity, at.child("Quantity"), true);
    let standard = cx.opt(&g.standard, at.child("Standard"), an(70, "standard"));
    let licence_number = cx.opt(
        &g.licence_number,
        at.child("LicenceNumber"),
        an(35, "licence number"),
    );
    let special_purpose = cx.opt(
        &g.special_purpose,
        at.child("SpecialPurpose"),
        an(35, "special purpose"),
    );
    let tr_at = at.child("TestReport");
    let test_report = match &g.test_report {
        None => Some(None),
        Some(t) => {
            let lab_id = cx.req(&t.lab_id, tr_at.child("LabId"), an(35, "lab id"));
            let report_number = cx.req(
                &t.report_number,
                tr_at.child("ReportNumber"),
                an(35, "report number"),
            );
            let issue_date = cx.req(&t.issue_date, tr_at.child("IssueDate"), date);
            (|| {
                Some(Some(TestReport {
                    lab_id: lab_id?,
                    report_number: report_number?,
                    issue_date: issue_date?,
                }))
            })()
        }
    };
    Some(GoodsItem {
        item_number: item_number_?,
        invoice_item_number: invoice_item_number_?,
        hs_code: hs_code?,
        description: description?,
        description_en: description_en?,
        brand: brand?,
        model: model?,
        manufacturer: manufacturer?,
        country_of_origin: country_of_origin?,
        quantity: quantity_?,
        standard: standard?,
        licence_number: licence_number?,
        special_purpose: special_purpose?,
        test_report: test_report?,
    })
}

fn declaration_check(cx: &mut Cx, d: &DeclarationCheckDto<'_>) -> Option<DeclarationCheck> {
    let r = Loc::root("DeclarationCheck");
    let declaration_number = cx.req(
        &d.declaration_number,
        r.child("DeclarationNumber"),
        an(35, "declaration number"),
    );
    let declaration_date = cx.req(&d.declaration_date, r.child("DeclarationDate"), date);
    let importer = party(cx, &d.importer, r.child("Importer"));
    let arrival_date = cx.req(&d.arrival_date, r.child("ArrivalDate"), date);
    list_rules(cx, &d.lines, r, "Line", 1, "LineNumber", |l| {
        number_of(&l.line_number, line_number)
    });
    let lines = each(cx, &d.lines, r, "Line", |cx, l, at| {
        let line_number_ = cx.req(&l.line_number, at.child("LineNumber"), line_number);
        let permit_number = cx.req(
            &l.permit_number,
            at.child("PermitNumber"),
            PermitNumber::parse,
        );
        let permit_issue_date = cx.req(&l.permit_issue_date, at.child("PermitIssueDate"), date);
        let issuing = cx.req(
            &l.issuing_authority_tax_number,
            at.child("IssuingAuthorityTaxNumber"),
            TaxNumber::parse,
        );
        let invoice_number = cx.req(
            &l.invoice_number,
            at.child("InvoiceNumber"),
            an(35, "invoice number"),
        );
        let invoice_date = cx.req(&l.invoice_date, at.child("InvoiceDate"), date);
        let inv_item = cx.req(
            &l.invoice_item_number,
            at.child("InvoiceItemNumber"),
            invoice_item_number,
        );
        let hs_code = cx.req(&l.hs_code, at.child("HSCode"), HsCode::parse);
        let quantity_ = quantity(cx, &l.quantity, at.child("Quantity"), true);
        let load_port = cx.req(&l.load_port, at.child("LoadPort"), Port::parse);
        let discharge_port = cx.req(&l.discharge_port, at.child("DischargePort"), Port::parse);
        let country_of_origin = cx.req(
            &l.country_of_origin,
            at.child("CountryOfOrigin"),
            Country::parse,
        );
        Some(DeclarationLine {
            line_number: line_number_?,
            permit_number: permit_number?,
            permit_issue_date: permit_issue_date?,
            issuing_authority_tax_number: issuing?,
            invoice_number: invoice_number?,
            invoice_date: invoice_date?,
            invoice_item_number: inv_item?,
            hs_code: hs_code?,
            quantity: quantity_?,
            load_port: load_port?,
            discharge_port: discharge_port?,
            country_of_origin: country_of_origin?,
        })
    });
    Some(DeclarationCheck {
        declaration_number: declaration_number?,
        declaration_date: declaration_date?,
        importer: importer?,
        arrival_date: arrival_date?,
        lines: lines?,
    })
}

fn declaration_amendment(
    cx: &mut Cx,
    d: &DeclarationAmendmentDto<'_>,
) -> Option<DeclarationAmendment> {
    let r = Loc::root("DeclarationAmendment");
    let declaration_number = cx.req(
        &d.declaration_number,
        r.child("DeclarationNumber"),
        an(35, "declaration number"),
    );
    let action = cx.req(&d.action, r.child("Action"), amendment_action);
    Some(DeclarationAmendment {
        declaration_number: declaration_number?,
        action: action?,
    })
}

fn permit_status_query(cx: &mut Cx, d: &PermitStatusQueryDto<'_>) -> Option<PermitStatusQuery> {
    let r = Loc::root("PermitStatusQuery");
    if d.permit_number.is_some() {
        if d.importer.is_some() || d.reference_number.is_some() {
            let at = r.child(if d.importer.is_some() {
                "Importer"
            } else {
                "ReferenceNumber"
            });
            cx.structure(
                at,
                "PermitStatusQuery takes either PermitNumber or Importer with ReferenceNumber, not both",
            );
            return None;
        }
        let n = cx.req(
            &d.permit_number,
            r.child("PermitNumber"),
            PermitNumber::parse,
        )?;
        return Some(PermitStatusQuery::ByPermit(n));
    }
    if d.importer.is_none() && d.reference_number.is_none() {
        cx.missing(r.child("PermitNumber"));
        return None;
    }
    let importer = party(cx, &d.importer, r.child("Importer"));
    let reference = cx.req(
        &d.reference_number,
        r.child("ReferenceNumber"),
        ReferenceNumber::parse,
    );
    Some(PermitStatusQuery::ByReference {
        importer: importer?,
        reference: reference?,
    })
}

// =============================================================================================
// Outbound documents
// =============================================================================================

fn import_permit_response(
    cx: &mut Cx,
    d: &ImportPermitResponseDto<'_>,
) -> Option<ImportPermitResponse> {
    let r = Loc::root("ImportPermitResponse");
    let dc_at = r.child("DocumentControl");
    let (reference, function_, request_id, decided_at) = match cx.node(&d.document_control, dc_at) {
        Some(dc) => (
            cx.req(
                &dc.reference_number,
                dc_at.child("ReferenceNumber"),
                ReferenceNumber::parse,
            ),
            cx.req(&dc.function, dc_at.child("Function"), function),
            cx.req(
                &dc.request_id,
                dc_at.child("RequestId"),
                an(64, "request id"),
            ),
            cx.req(&dc.decided_at, dc_at.child("DecidedAt"), date_time),
        ),
        None => (None, None, None, None),
    };
    let ia_at = r.child("IssuingAuthority");
    let (ia_tax, ia_name) = match cx.node(&d.issuing_authority, ia_at) {
        Some(ia) => (
            cx.req(&ia.tax_number, ia_at.child("TaxNumber"), TaxNumber::parse),
            cx.req(&ia.name, ia_at.child("Name"), an(256, "name")),
        ),
        None => (None, None),
    };
    let imp_at = r.child("Importer");
    let (imp_tax, imp_branch) = match cx.node(&d.importer, imp_at) {
        Some(i) => (
            cx.req(&i.tax_number, imp_at.child("TaxNumber"), tax_number_form),
            cx.req(&i.branch, imp_at.child("Branch"), Branch::parse),
        ),
        None => (None, None),
    };
    let decision_ = cx.req(&d.decision, r.child("Decision"), decision);
    let permit_ = optional_permit(cx, &d.permit, r);
    list_rules(cx, &d.item_results, r, "ItemResult", 1, "ItemNumber", |g| {
        number_of(&g.item_number, item_number)
    });
    let items = each(cx, &d.item_results, r, "ItemResult", |cx, it, at| {
        let item_number_ = cx.req(&it.item_number, at.child("ItemNumber"), item_number);
        let inv_item = cx.req(
            &it.invoice_item_number,
            at.child("InvoiceItemNumber"),
            invoice_item_number,
        );
        let hs_code = cx.req(&it.hs_code, at.child("HSCode"), HsCode::parse);
        let country_of_origin = cx.req(
            &it.country_of_origin,
            at.child("CountryOfOrigin"),
            Country::parse,
        );
        let status = cx.req(&it.status, at.child("Status"), item_status);
        let standard = cx.opt(&it.standard, at.child("Standard"), canonical_standard);
        let approved_quantity = match &it.approved_quantity {
            None => Some(None),
            Some(_) => quantity(
                cx,
                &it.approved_quantity,
                at.child("ApprovedQuantity"),
                true,
            )
            .map(Some),
        };
        let reasons_ = reasons(cx, &it.reasons, at);
        Some(ItemResult {
            item_number: item_number_?,
            invoice_item_number: inv_item?,
            hs_code: hs_code?,
            country_of_origin: country_of_origin?,
            status: status?,
            standard: standard?,
            approved_quantity: approved_quantity?,
            reasons: reasons_?,
        })
    });
    Some(ImportPermitResponse {
        reference: reference?,
        function: function_?,
        request_id: request_id?,
        decided_at: decided_at?,
        issuing_authority_tax_number: ia_tax?,
        issuing_authority_name: ia_name?,
        importer_tax_number: imp_tax?,
        importer_branch: imp_branch?,
        decision: decision_?,
        permit: permit_?,
        items: items?,
    })
}

fn declaration_check_response(
    cx: &mut Cx,
    d: &DeclarationCheckResponseDto<'_>,
) -> Option<DeclarationCheckResponse> {
    let r = Loc::root("DeclarationCheckResponse");
    let declaration_number = cx.req(
        &d.declaration_number,
        r.child("DeclarationNumber"),
        an(35, "declaration number"),
    );
    let result = cx.req(&d.result, r.child("Result"), declaration_result);
    list_rules(cx, &d.lines, r, "Line", 1, "LineNumber", |l| {
        number_of(&l.line_number, line_number)
    });
    let lines = each(cx, &d.lines, r, "Line", |cx, l, at| {
        let line_number_ = cx.req(&l.line_number, at.child("LineNumber"), line_number);
        let result_ = cx.req(&l.result, at.child("Result"), line_result);
        let remaining = match &l.remaining_quantity {
            None => Some(None),
            Some(_) => quantity(
                cx,
                &l.remaining_quantity,
                at.child("RemainingQuantity"),
                false,
            )
            .map(Some),
        };
        let reasons_ = reasons(cx, &l.reasons, at);
        Some(DeclarationLineResult {
            line_number: line_number_?,
            result: result_?,
            remaining: remaining?,
            reasons: reasons_?,
        })
    });
    Some(DeclarationCheckResponse {
        declaration_number: declaration_number?,
        result: result?,
        lines: lines?,
    })
}

fn declaration_amendment_response(
    cx: &mut Cx,
    d: &DeclarationAmendmentResponseDto<'_>,
) -> Option<DeclarationAmendmentResponse> {
    let r = Loc::root("DeclarationAmendmentResponse");
    let declaration_number = cx.req(
        &d.declaration_number,
        r.child("DeclarationNumber"),
        an(35, "declaration number"),
    );
    let result = cx.req(&d.result, r.child("Result"), amendment_result);
    Some(DeclarationAmendmentResponse {
        declaration_number: declaration_number?,
        result: result?,
    })
}

fn permit_status_response(
    cx: &mut Cx,
    d: &PermitStatusResponseDto<'_>,
) -> Option<PermitStatusResponse> {
    let r = Loc::root("PermitStatusResponse");
    let result = cx.req(&d.result, r.child("Result"), query_result);
    let reference = cx.opt(
        &d.reference_number,
        r.child("ReferenceNumber"),
        ReferenceNumber::parse,
    );
    let request_id = cx.opt(&d.request_id, r.child("RequestId"), an(64, "request id"));
    let decision_ = cx.opt(&d.decision, r.child("Decision"), decision);
    let permit_ = optional_permit(cx, &d.permit, r);
    list_rules(cx, &d.items, r, "Item", 0, "ItemNumber", |g| {
        number_of(&g.item_number, item_number)
    });
    let items = each(cx, &d.items, r, "Item", |cx, it, at| {
        let item_number_ = cx.req(&it.item_number, at.child("ItemNumber"), item_number);
        let inv_item = cx.req(
            &it.invoice_item_number,
            at.child("InvoiceItemNumber"),
            invoice_item_number,
        );
        let status = cx.req(&it.status, at.child("Status"), item_status);
        let approved = quantity(
            cx,
            &it.approved_quantity,
            at.child("ApprovedQuantity"),
            false,
        );
        let written_off = quantity(
            cx,
            &it.written_off_quantity,
            at.child("WrittenOffQuantity"),
            false,
        );
        let remaining = quantity(
            cx,
            &it.remaining_quantity,
            at.child("RemainingQuantity"),
            false,
        );
        let mut units_ok = true;
        if let Some(a) = &approved {
            for (q, name) in [
                (&written_off, "WrittenOffQuantity"),
                (&remaining, "RemainingQuantity"),
            ] {
                if let Some(q) = q {
                    if q.unit != a.unit {
                        cx.invalid(
                            at.child(name).attr("unitCode"),
                            format!(
                                "unit '{}' differs from the approved quantity's unit '{}'",
                                q.unit, a.unit
                            ),
                        );
                        units_ok = false;
                    }
                }
            }
        }
        let approved = approved?;
        let item = ItemQuantities {
            item_number: item_number_?,
            invoice_item_number: inv_item?,
            status: status?,
            unit: approved.unit,
            approved: approved.amount,
            written_off: written_off?.amount,
            remaining: remaining?.amount,
        };
        units_ok.then_some(item)
    });
    let h_at = r.child("History");
    let history = match &d.history {
        None => Some(Vec::new()),
        Some(h) => {
            let empty = h.entries.is_empty();
            if empty {
                cx.missing(h_at.item("Entry", 0));
            }
            let entries = each(cx, &h.entries, h_at, "Entry", |cx, e, at| {
                let at_ = cx.req(&e.at, at.child("At"), date_time);
                let actor_ = cx.req(&e.actor, at.child("Actor"), actor);
                let state = cx.req(&e.state, at.child("State"), an(64, "state"));
                let (reason_th, reason_en) = match &e.reason {
                    None => (String::new(), String::new()),
                    Some(rs) => messages(cx, &rs.messages, at.child("Reason"), true)?,
                };
                Some(HistoryEntry {
                    at: at_?,
                    actor: actor_?,
                    state: state?,
                    reason_th,
                    reason_en,
                })
            });
            entries.filter(|_| !empty)
        }
    };
    Some(PermitStatusResponse {
        result: result?,
        reference: reference?,
        request_id: request_id?,
        decision: decision_?,
        permit: permit_?,
        items: items?,
        history: history?,
    })
}

// =============================================================================================
// Domain → DTO
// =============================================================================================

fn b(s: &str) -> Txt<'_> {
    Some(Cow::Borrowed(s))
}

fn o<'a>(s: String) -> Txt<'a> {
    Some(Cow::Owned(s))
}

fn d<'a>(date: NaiveDate) -> Txt<'a> {
    o(date_text(date))
}

/// [`format_date`] without the format-string machinery for years 0 to 9999.
fn date_text(date: NaiveDate) -> String {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return format_date(date);
    }
    let mut s = String::with_capacity(10);
    for (v, width) in [
        (year.unsigned_abs(), 1000),
        (date.month(), 10),
        (date.day(), 10),
    ] {
        if width == 10 {
            s.push('-');
        }
        let mut w = width;
        while w > 0 {
            s.push(char::from(b'0' + ((v / w) % 10) as u8));
            w /= 10;
        }
    }
    s
}

fn n<'a>(v: impl ToString) -> Txt<'a> {
    o(v.to_string())
}

fn q(q: &Quantity) -> Option<QuantityDto<'_>> {
    Some(QuantityDto {
        unit_code: b(q.unit.as_str()),
        value: n(q.amount),
    })
}

fn amount_dto(unit: &UnitCode, a: Amount) -> Option<QuantityDto<'_>> {
    Some(QuantityDto {
        unit_code: b(unit.as_str()),
        value: n(a),
    })
}

fn messages_dto<'a>(th: &'a str, en: &'a str) -> Vec<MessageDto<'a>> {
    vec![
        MessageDto {
            lang: b("th"),
            text: b(th),
        },
        MessageDto {
            lang: b("en"),
            text: b(en),
        },
    ]
}

fn reasons_dto(rs: &[Reason]) -> Vec<ReasonDto<'_>> {
    rs.iter()
        .map(|r| ReasonDto {
            code: b(r.code.code()),
            field: b(&r.field),
            messages: messages_dto(&r.message_th, &r.message_en),
        })
        .collect()
}

fn party_dto<'a>(tax_number: Txt<'a>, branch: &Branch) -> Option<PartyDto<'a>> {
    Some(PartyDto {
        tax_number,
        branch: n(branch),
    })
}

fn permit_dto(p: &Permit) -> PermitDto<'_> {
    PermitDto {
        permit_number: n(p.number),
        issue_date: d(p.issue_date),
        effective_date: d(p.effective_date),
        expiry_date: d(p.expiry_date),
        arrival_date: d(p.arrival_date),
        invoice_number: b(&p.invoice_number),
        invoice_date: d(p.invoice_date),
        load_port: b(p.load_port.as_str()),
        discharge_port: b(p.discharge_port.as_str()),
        country_of_destination: b(p.country_of_destination.as_str()),
    }
}

fn import_permit_request_dto(r: &ImportPermitRequest) -> ImportPermitRequestDto<'_> {
    ImportPermitRequestDto {
        xmlns: NAMESPACE,
        document_control: Some(RequestControlDto {
            reference_number: b(r.reference.as_str()),
            function: b(r.function.code()),
            request_type: b(r.request_type.code()),
        }),
        importer: Some(ImporterDto {
            tax_number: b(&r.importer.tax_number),
            branch: n(r.importer.branch),
            name: b(&r.importer.name),
            name_en: r.importer.name_en.as_deref().and_then(b),
        }),
        agent: r.agent.as_ref().map(|a| AgentDto {
            tax_number: n(a.tax_number),
            branch: n(a.branch),
            name: b(&a.name),
        }),
        shipment: Some(ShipmentDto {
            arrival_date: d(r.shipment.arrival_date),
            transport_mode: n(r.shipment.transport_mode.code()),
            load_port: b(r.shipment.load_port.as_str()),
            discharge_port: b(r.shipment.discharge_port.as_str()),
            country_of_destination: b(r.shipment.country_of_destination.as_str()),
        }),
        invoice: Some(InvoiceDto {
            number: b(&r.invoice.number),
            date: d(r.invoice.date),
        }),
        goods_items: r
            .items
            .iter()
            .map(|g| GoodsItemDto {
                item_number: n(g.item_number),
                invoice_item_number: n(g.invoice_item_number),
                hs_code: b(g.hs_code.as_str()),
                description: b(&g.description),
                description_en: g.description_en.as_deref().and_then(b),
                brand: b(&g.brand),
                model: b(&g.model),
                manufacturer: Some(ManufacturerDto {
                    name: b(&g.manufacturer.name),
                    country: b(g.manufacturer.country.as_str()),
                }),
                country_of_origin: b(g.country_of_origin.as_str()),
                quantity: q(&g.quantity),
                standard: g.standard.as_deref().and_then(b),
                licence_number: g.licence_number.as_deref().and_then(b),
                special_purpose: g.special_purpose.as_deref().and_then(b),
                test_report: g.test_report.as_ref().map(|t| TestReportDto {
                    lab_id: b(&t.lab_id),
                    report_number: b(&t.report_number),
                    issue_date: d(t.issue_date),
                }),
            })
            .collect(),
    }
}

fn declaration_check_dto(c: &DeclarationCheck) -> DeclarationCheckDto<'_> {
    DeclarationCheckDto {
        xmlns: NAMESPACE,
        declaration_number: b(&c.declaration_number),
        declaration_date: d(c.declaration_date),
        importer: party_dto(n(c.importer.tax_number), &c.importer.branch),
        arrival_date: d(c.arrival_date),
        lines: c
            .lines
            .iter()
            .map(|l| DeclarationLineDto {
                line_number: n(l.line_number),
                permit_number: n(l.permit_number),
                permit_issue_date: d(l.permit_issue_date),
                issuing_authority_tax_number: n(l.issuing_authority_tax_number),
                invoice_number: b(&l.invoice_number),
                invoice_date: d(l.invoice_date),
                invoice_item_number: n(l.invoice_item_number),
                hs_code: b(l.hs_code.as_str()),
                quantity: q(&l.quantity),
                load_port: b(l.load_port.as_str()),
                discharge_port: b(l.discharge_port.as_str()),
                country_of_origin: b(l.country_of_origin.as_str()),
            })
            .collect(),
    }
}

fn permit_status_query_dto(s: &PermitStatusQuery) -> PermitStatusQueryDto<'_> {
    match s {
        PermitStatusQuery::ByPermit(p) => PermitStatusQueryDto {
            xmlns: NAMESPACE,
            permit_number: n(p),
            ..Default::default()
        },
        PermitStatusQuery::ByReference {
            importer,
            reference,
        } => PermitStatusQueryDto {
            xmlns: NAMESPACE,
            permit_number: None,
            importer: party_dto(n(importer.tax_number), &importer.branch),
            reference_number: b(reference.as_str()),
        },
    }
}

fn import_permit_response_dto(r: &ImportPermitResponse) -> ImportPermitResponseDto<'_> {
    ImportPermitResponseDto {
        xmlns: NAMESPACE,
        document_control: Some(ResponseControlDto {
            reference_number: b(r.reference.as_str()),
            function: b(r.function.code()),
            request_id: b(&r.request_id),
            decided_at: o(write_date_time(&r.decided_at)),
        }),
        issuing_authority: Some(IssuingAuthorityDto {
            tax_number: n(r.issuing_authority_tax_number),
            name: b(&r.issuing_authority_name),
        }),
        importer: party_dto(b(&r.importer_tax_number), &r.importer_branch),
        decision: b(r.decision.code()),
        permit: r.permit.as_ref().map(permit_dto),
        item_results: r
            .items
            .iter()
            .map(|it| ItemResultDto {
                item_number: n(it.item_number),
                invoice_item_number: n(it.invoice_item_number),
                hs_code: b(it.hs_code.as_str()),
                country_of_origin: b(it.country_of_origin.as_str()),
                status: b(it.status.code()),
                standard: it.standard.as_ref().map(|s| Cow::Owned(s.canonical())),
                approved_quantity: it.approved_quantity.as_ref().and_then(q),
                reasons: reasons_dto(&it.reasons),
            })
            .collect(),
    }
}

fn declaration_check_response_dto(r: &DeclarationCheckResponse) -> DeclarationCheckResponseDto<'_> {
    DeclarationCheckResponseDto {
        xmlns: NAMESPACE,
        declaration_number: b(&r.declaration_number),
        result: b(r.result.code()),
        lines: r
            .lines
            .iter()
            .map(|l| LineResultDto {
                line_number: n(l.line_number),
                result: b(l.result.code()),
                remaining_quantity: l.remaining.as_ref().and_then(q),
                reasons: reasons_dto(&l.reasons),
            })
            .collect(),
    }
}

fn permit_status_response_dto(r: &PermitStatusResponse) -> PermitStatusResponseDto<'_> {
    PermitStatusResponseDto {
        xmlns: NAMESPACE,
        result: b(query_result_code(r.result)),
        reference_number: r.reference.as_ref().and_then(|x| b(x.as_str())),
        request_id: r.request_id.as_deref().and_then(b),
        decision: r.decision.map(|x| Cow::Borrowed(x.code())),
        permit: r.permit.as_ref().map(permit_dto),
        items: r
            .items
            .iter()
            .map(|it| ItemQuantitiesDto {
                item_number: n(it.item_number),
                invoice_item_number: n(it.invoice_item_number),
                status: b(it.status.code()),
                approved_quantity: amount_dto(&it.unit, it.approved),
                written_off_quantity: amount_dto(&it.unit, it.written_off),
                remaining_quantity: amount_dto(&it.unit, it.remaining),
            })
            .collect(),
        history: (!r.history.is_empty()).then(|| HistoryDto {
            entries: r
                .history
                .iter()
                .map(|e| HistoryEntryDto {
                    at: o(write_date_time(&e.at)),
                    actor: o(e.actor.code()),
                    state: b(&e.state),
                    reason: (!(e.reason_th.is_empty() && e.reason_en.is_empty())).then(|| {
                        HistoryReasonDto {
                            messages: messages_dto(&e.reason_th, &e.reason_en),
                        }
                    }),
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_format_date_writes_them() {
        let mut day = NaiveDate::from_ymd_opt(-3, 1, 1).expect("date");
        let last = NaiveDate::from_ymd_opt(10_001, 12, 31).expect("date");
        while day <= last {
            assert_eq!(date_text(day), format_date(day));
            day = day
                + chrono::Days::new(if (1..9998).contains(&day.year()) {
                    97
                } else {
                    1
                });
        }
    }
}

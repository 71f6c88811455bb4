//! Serde DTOs of the version 1.00 documents: one struct per element, fields in the order of the
//! XSDs in `schemas/` (the serializer writes them in declaration order).
//!
//! Every leaf is optional text, borrowed from the input when it holds no escapes: presence and
//! values are judged by `convert`, which knows each field's XPath and collects every problem.
//! Element order, unknown elements and attributes were already checked by the structure pass.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::wire::payload::Tape;

/// The text of a leaf element or attribute; `None` when absent.
pub type Txt<'a> = Option<Cow<'a, str>>;

macro_rules! dto {
    ($name:ident root $root:literal { $( $field:ident : $ty:ty = $xml:literal ),* $(,)? }) => {
        #[doc = concat!("The `", $root, "` document.")]
        #[derive(Debug, Default, Serialize, Deserialize)]
        #[serde(rename = $root)]
        pub struct $name<'a> {
            /// The default namespace, declared on the root when writing.
            #[serde(rename = "@xmlns", skip_deserializing)]
            pub xmlns: &'static str,
            $(
                #[serde(rename = $xml, borrow, default, skip_serializing_if = "Skip::skip")]
                pub $field: $ty,
            )*
        }
        dto!(@tape $name { $( $field = $xml ),* });
        impl WriteXml for $name<'_> {
            fn write(&self, name: &str, out: &mut String) {
                out.push('<');
                out.push_str(name);
                out.push_str(" xmlns=\"");
                crate::wire::escape::attr(self.xmlns, out);
                out.push('"');
                let open = out.len();
                out.push('>');
                $( Put::put(&self.$field, $xml, out); )*
                close(name, open, out);
            }
        }
        impl RootXml for $name<'_> {
            fn to_xml(&self) -> String {
                let mut out = String::with_capacity(4096);
                self.write($root, &mut out);
                out
            }
        }
    };
    ($name:ident { $( $field:ident : $ty:ty = $xml:literal ),* $(,)? }) => {
        #[derive(Debug, Default, Serialize, Deserialize)]
        pub struct $name<'a> {
            $(
                #[serde(rename = $xml, borrow, default, skip_serializing_if = "Skip::skip")]
                pub $field: $ty,
            )*
        }
        dto!(@tape $name { $( $field = $xml ),* });
        impl WriteXml for $name<'_> {
            fn write(&self, name: &str, out: &mut String) {
                out.push('<');
                out.push_str(name);
                let open = out.len();
                out.push('>');
                $( Put::put(&self.$field, $xml, out); )*
                close(name, open, out);
            }
        }
    };
    (@tape $name:ident { $( $field:ident = $xml:literal ),* }) => {
        impl<'a> FromTape<'a> for $name<'a> {
            fn fill(&mut self, _attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
                while let Some((name, attr)) = cur.next_child() {
                    match name {
                        $( $xml => Field::put(&mut self.$field, attr, cur), )*
                        _ => cur.skip(),
                    }
                }
            }
        }
    };
}

/// A DTO written as element `name`, exactly as the serde serializer writes it (no
/// indentation, `<name/>` when it has no content, `&`, `<`, `>` escaped in text and `"` also in
/// attribute values).
pub trait WriteXml {
    fn write(&self, name: &str, out: &mut String);
}

/// A document DTO written as its root element.
pub trait RootXml {
    fn to_xml(&self) -> String;
}

/// A DTO field written as element(s) `name`; absent values and empty lists are left out.
trait Put {
    fn put(&self, name: &str, out: &mut String);
}

impl Put for Txt<'_> {
    fn put(&self, name: &str, out: &mut String) {
        if let Some(text) = self {
            out.push('<');
            out.push_str(name);
            if text.is_empty() {
                out.push_str("/>");
            } else {
                out.push('>');
                crate::wire::escape::text(text, out);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

impl<D: WriteXml> Put for Option<D> {
    fn put(&self, name: &str, out: &mut String) {
        if let Some(v) = self {
            v.write(name, out);
        }
    }
}

impl<D: WriteXml> Put for Vec<D> {
    fn put(&self, name: &str, out: &mut String) {
        for v in self {
            v.write(name, out);
        }
    }
}

/// Ends element `name` whose start tag's `>` is at `open`: `/>` when nothing followed it.
fn close(name: &str, open: usize, out: &mut String) {
    if out.len() == open + 1 {
        out.truncate(open);
        out.push_str("/>");
    } else {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

/// An element with one optional attribute and optional text (`QuantityDto`, `MessageDto`).
fn write_text_with_attr(name: &str, attr: (&str, &Txt<'_>), text: &Txt<'_>, out: &mut String) {
    out.push('<');
    out.push_str(name);
    if let Some(v) = attr.1 {
        out.push(' ');
        out.push_str(attr.0);
        out.push_str("=\"");
        crate::wire::escape::attr(v, out);
        out.push('"');
    }
    match text {
        Some(t) if !t.is_empty() => {
            out.push('>');
            crate::wire::escape::text(t, out);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        _ => out.push_str("/>"),
    }
}

impl WriteXml for QuantityDto<'_> {
    fn write(&self, name: &str, out: &mut String) {
        write_text_with_attr(name, ("unitCode", &self.unit_code), &self.value, out);
    }
}

impl WriteXml for MessageDto<'_> {
    fn write(&self, name: &str, out: &mut String) {
        write_text_with_attr(name, ("xml:lang", &self.lang), &self.text, out);
    }
}

/// Reads a [`Tape`] recorded by the structure pass of a clean document.
pub struct Cursor<'t, 'a> {
    tape: &'t [Tape<'a>],
    pos: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    pub fn new(tape: &'t [Tape<'a>]) -> Self {
        Self { tape, pos: 0 }
    }

    /// The next child element of the current one (its name and attribute value), or `None`
    /// at the current element's end (which is consumed).
    fn next_child(&mut self) -> Option<(&'static str, &'t Option<Cow<'a, str>>)> {
        loop {
            let t = self.tape.get(self.pos)?;
            self.pos += 1;
            match t {
                Tape::Open(name, attr) => return Some((name, attr)),
                Tape::Close => return None,
                Tape::Text(_) => {}
            }
        }
    }

    /// The text of the current (text-only) element, empty when it has none; consumes its end.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        let mut text = None;
        loop {
            let Some(t) = self.tape.get(self.pos) else {
                return text;
            };
            self.pos += 1;
            match t {
                Tape::Text(v) => text = Some(v.clone()),
                Tape::Open(..) => self.skip(),
                Tape::Close => return text,
            }
        }
    }

    /// Skips the rest of the current element, its end included.
    fn skip(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.tape.get(self.pos) {
            self.pos += 1;
            match t {
                Tape::Open(..) => depth += 1,
                Tape::Close if depth == 0 => return,
                Tape::Close => depth -= 1,
                Tape::Text(_) => {}
            }
        }
    }
}

/// A DTO filled from a [`Tape`], as the serde reader fills it from the text.
pub trait FromTape<'a>: Default {
    /// Reads the content of the current element (whose attribute value is `attr`) up to and
    /// including its end.
    fn fill(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>);

    fn from_tape(tape: &[Tape<'a>]) -> Self {
        let mut v = Self::default();
        v.fill(&None, &mut Cursor::new(tape));
        v
    }
}

/// A DTO field filled from one element of a [`Tape`].
trait Field<'a> {
    fn put(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>);
}

impl<'a> Field<'a> for Txt<'a> {
    fn put(&mut self, _attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
        *self = Some(cur.text().unwrap_or(Cow::Borrowed("")));
    }
}

impl<'a, D: FromTape<'a>> Field<'a> for Option<D> {
    fn put(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
        let mut v = D::default();
        v.fill(attr, cur);
        *self = Some(v);
    }
}

impl<'a, D: FromTape<'a>> Field<'a> for Vec<D> {
    fn put(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
        let mut v = D::default();
        v.fill(attr, cur);
        self.push(v);
    }
}

impl<'a> FromTape<'a> for QuantityDto<'a> {
    fn fill(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
        self.unit_code = attr.clone();
        self.value = cur.text();
    }
}

impl<'a> FromTape<'a> for MessageDto<'a> {
    fn fill(&mut self, attr: &Option<Cow<'a, str>>, cur: &mut Cursor<'_, 'a>) {
        self.lang = attr.clone();
        self.text = cur.text();
    }
}

/// Which values the serializer leaves out: absent options and empty lists.
pub trait Skip {
    fn skip(&self) -> bool;
}

impl<T> Skip for Option<T> {
    fn skip(&self) -> bool {
        self.is_none()
    }
}

impl<T> Skip for Vec<T> {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}

/// A quantity: the amount as text content and its `unitCode` attribute.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QuantityDto<'a> {
    #[serde(
        rename = "@unitCode",
        borrow,
        default,
        skip_serializing_if = "Skip::skip"
    )]
    pub unit_code: Txt<'a>,
    #[serde(rename = "$text", borrow, default, skip_serializing_if = "Skip::skip")]
    pub value: Txt<'a>,
}

/// A message with its `xml:lang` attribute (read by its local name `lang`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MessageDto<'a> {
    #[serde(
        rename(serialize = "@xml:lang", deserialize = "@lang"),
        borrow,
        default,
        skip_serializing_if = "Skip::skip"
    )]
    pub lang: Txt<'a>,
    #[serde(rename = "$text", borrow, default, skip_serializing_if = "Skip::skip")]
    pub text: Txt<'a>,
}

dto!(PartyDto {
    tax_number: Txt<'a> = "TaxNumber",
    branch: Txt<'a> = "Branch",
});

dto!(ReasonDto {
    code: Txt<'a> = "Code",
    field: Txt<'a> = "Field",
    messages: Vec<MessageDto<'a>> = "Message",
});

dto!(PermitDto {
    permit_number: Txt<'a> = "PermitNumber",
    issue_date: Txt<'a> = "IssueDate",
    effective_date: Txt<'a> = "EffectiveDate",
    expiry_date: Txt<'a> = "ExpiryDate",
    arrival_date: Txt<'a> = "ArrivalDate",
    invoice_number: Txt<'a> = "InvoiceNumber",
    invoice_date: Txt<'a> = "InvoiceDate",
    load_port: Txt<'a> = "LoadPort",
    discharge_port: Txt<'a> = "DischargePort",
    country_of_destination: Txt<'a> = "CountryOfDestination",
});

// ------------------------------------------------------------------ ImportPermitRequest

dto!(RequestControlDto {
    reference_number: Txt<'a> = "ReferenceNumber",
    function: Txt<'a> = "Function",
    request_type: Txt<'a> = "RequestType",
});

dto!(ImporterDto {
    tax_number: Txt<'a> = "TaxNumber",
    branch: Txt<'a> = "Branch",
    name: Txt<'a> = "Name",
    name_en: Txt<'a> = "NameEn",
});

dto!(AgentDto {
    tax_number: Txt<'a> = "TaxNumber",
    branch: Txt<'a> = "Branch",
    name: Txt<'a> = "Name",
});

dto!(ShipmentDto {
    arrival_date: Txt<'a> = "ArrivalDate",
    transport_mode: Txt<'a> = "TransportMode",
    load_port: Txt<'a> = "LoadPort",
    discharge_port: Txt<'a> = "DischargePort",
    country_of_destination: Txt<'a> = "CountryOfDestination",
});

dto!(InvoiceDto {
    number: Txt<'a> = "Number",
    date: Txt<'a> = "Date",
});

dto!(ManufacturerDto {
    name: Txt<'a> = "Name",
    country: Txt<'a> = "Country",
});

dto!(TestReportDto {
    lab_id: Txt<'a> = "LabId",
    report_number: Txt<'a> = "ReportNumber",
    issue_date: Txt<'a> = "IssueDate",
});

dto!(GoodsItemDto {
    item_number: Txt<'a> = "ItemNumber",
    invoice_item_number: Txt<'a> = "InvoiceItemNumber",
    hs_code: Txt<'a> = "HSCode",
    description: Txt<'a> = "Description",
    description_en: Txt<'a> = "DescriptionEn",
    brand: Txt<'a> = "Brand",
    model: Txt<'a> = "Model",
    manufacturer: Option<ManufacturerDto<'a>> = "Manufacturer",
    country_of_origin: Txt<'a> = "CountryOfOrigin",
    quantity: Option<QuantityDto<'a>> = "Quantity",
    standard: Txt<'a> = "Standard",
    licence_number: Txt<'a> = "LicenceNumber",
    special_purpose: Txt<'a> = "SpecialPurpose",
    test_report: Option<TestReportDto<'a>> = "TestReport",
});

dto!(ImportPermitRequestDto root "ImportPermitRequest" {
    document_control: Option<RequestControlDto<'a>> = "DocumentControl",
    importer: Option<ImporterDto<'a>> = "Importer",
    agent: Option<AgentDto<'a>> = "Agent",
    shipment: Option<ShipmentDto<'a>> = "Shipment",
    invoice: Option<InvoiceDto<'a>> = "Invoice",
    goods_items: Vec<GoodsItemDto<'a>> = "GoodsItem",
});

// ------------------------------------------------------------------ ImportPermitResponse

dto!(ResponseControlDto {
    reference_number: Txt<'a> = "ReferenceNumber",
    function: Txt<'a> = "Function",
    request_id: Txt<'a> = "RequestId",
    decided_at: Txt<'a> = "DecidedAt",
});

dto!(IssuingAuthorityDto {
    tax_number: Txt<'a> = "TaxNumber",
    name: Txt<'a> = "Name",
});

dto!(ItemResultDto {
    item_number: Txt<'a> = "ItemNumber",
    invoice_item_number: Txt<'a> = "InvoiceItemNumber",
    hs_code: Txt<'a> = "HSCode",
    country_of_origin: Txt<'a> = "CountryOfOrigin",
    status: Txt<'a> = "Status",
    standard: Txt<'a> = "Standard",
    approved_quantity: Option<QuantityDto<'a>> = "ApprovedQuantity",
    reasons: Vec<ReasonDto<'a>> = "Reason",
});

dto!(ImportPermitResponseDto root "ImportPermitResponse" {
    document_control: Option<ResponseControlDto<'a>> = "DocumentControl",
    issuing_authority: Option<IssuingAuthorityDto<'a>> = "IssuingAuthority",
    importer: Option<PartyDto<'a>> = "Importer",
    decision: Txt<'a> = "Decision",
    permit: Option<PermitDto<'a>> = "Permit",
    item_results: Vec<ItemResultDto<'a>> = "ItemResult",
});

// ------------------------------------------------------------------ DeclarationCheck

dto!(DeclarationLineDto {
    line_number: Txt<'a> = "LineNumber",
    permit_number: Txt<'a> = "PermitNumber",
    permit_issue_date: Txt<'a> = "PermitIssueDate",
    issuing_authority_tax_number: Txt<'a> = "IssuingAuthorityTaxNumber",
    invoice_number: Txt<'a> = "InvoiceNumber",
    invoice_date: Txt<'a> = "InvoiceDate",
    invoice_item_number: Txt<'a> = "InvoiceItemNumber",
    hs_code: Txt<'a> = "HSCode",
    quantity: Option<QuantityDto<'a>> = "Quantity",
    load_port: Txt<'a> = "LoadPort",
    discharge_port: Txt<'a> = "DischargePort",
    country_of_origin: Txt<'a> = "CountryOfOrigin",
});

dto!(DeclarationCheckDto root "DeclarationCheck" {
    declaration_number: Txt<'a> = "DeclarationNumber",
    declaration_date: Txt<'a> = "DeclarationDate",
    importer: Option<PartyDto<'a>> = "Importer",
    arrival_date: Txt<'a> = "ArrivalDate",
    lines: Vec<DeclarationLineDto<'a>> = "Line",
});

dto!(LineResultDto {
    line_number: Txt<'a> = "LineNumber",
    result: Txt<'a> = "Result",
    remaining_quantity: Option<QuantityDto<'a>> = "RemainingQuantity",
    reasons: Vec<ReasonDto<'a>> = "Reason",
});

dto!(DeclarationCheckResponseDto root "DeclarationCheckResponse" {
    declaration_number: Txt<'a> = "DeclarationNumber",
    result: Txt<'a> = "Result",
    lines: Vec<LineResultDto<'a>> = "Line",
});

// ------------------------------------------------------------------ DeclarationAmendment

dto!(DeclarationAmendmentDto root "DeclarationAmendment" {
    declaration_number: Txt<'a> = "DeclarationNumber",
    action: Txt<'a> = "Action",
});

dto!(DeclarationAmendmentResponseDto root "DeclarationAmendmentResponse" {
    declaration_number: Txt<'a> = "DeclarationNumber",
    result: Txt<'a> = "Result",
});

// ------------------------------------------------------------------ PermitStatusQuery

dto!(PermitStatusQueryDto root "PermitStatusQuery" {
    permit_number: Txt<'a> = "PermitNumber",
    importer: Option<PartyDto<'a>> = "Importer",
    reference_number: Txt<'a> = "ReferenceNumber",
});

dto!(ItemQuantitiesDto {
    item_number: Txt<'a> = "ItemNumber",
    invoice_item_number: Txt<'a> = "InvoiceItemNumber",
    status: Txt<'a> = "Status",
    approved_quantity: Option<QuantityDto<'a>> = "ApprovedQuantity",
    written_off_quantity: Option<QuantityDto<'a>> = "WrittenOffQuantity",
    remaining_quantity: Option<QuantityDto<'a>> = "RemainingQuantity",
});

dto!(HistoryReasonDto {
    messages: Vec<MessageDto<'a>> = "Message",
});

dto!(HistoryEntryDto {
    at: Txt<'a> = "At",
    actor: Txt<'a> = "Actor",
    state: Txt<'a> = "State",
    reason: Option<HistoryReasonDto<'a>> = "Reason",
});

dto!(HistoryDto {
    entries: Vec<HistoryEntryDto<'a>> = "Entry",
});

dto!(PermitStatusResponseDto root "PermitStatusResponse" {
    result: Txt<'a> = "Result",
    reference_number: Txt<'a> = "ReferenceNumber",
    request_id: Txt<'a> = "RequestId",
    decision: Txt<'a> = "Decision",
    permit: Option<PermitDto<'a>> = "Permit",
    items: Vec<ItemQuantitiesDto<'a>> = "Item",
    history: Option<HistoryDto<'a>> = "History",
});

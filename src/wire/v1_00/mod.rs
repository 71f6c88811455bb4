//! Version 1.00 of the payload namespace (`urn:th:tisi:nsw:permit:1_00`): content models that
//! mirror `schemas/*.xsd`, serde DTOs and the conversions to and from domain values.

mod convert;
pub(crate) mod dto;

use crate::wire::payload::{Elem, Version};

pub(crate) const NAMESPACE: &str = "urn:th:tisi:nsw:permit:1_00";

pub(crate) static VERSION: Version = Version {
    id: "1_00",
    namespace: NAMESPACE,
    inbound: INBOUND,
    outbound: OUTBOUND,
    decode_inbound: convert::decode_inbound,
    decode_outbound: convert::decode_outbound,
    encode_inbound: convert::encode_inbound,
    encode_outbound: convert::encode_outbound,
};

/// Most goods items, lines and item results a document may hold (spec §1).
const LIST_MAX: u16 = 999;
/// History entries of a status response.
const HISTORY_MAX: u16 = u16::MAX;

const fn t(name: &'static str) -> Elem {
    Elem::text(name)
}

const QTY: &[&str] = &["unitCode"];
const LANG: &[&str] = &["xml:lang"];

const PARTY: &[Elem] = &[t("TaxNumber"), t("Branch")];

const REASON: &[Elem] = &[t("Code"), t("Field"), Elem::text_with("Message", 2, LANG)];

const PERMIT: &[Elem] = &[
    t("PermitNumber"),
    t("IssueDate"),
    t("EffectiveDate"),
    t("ExpiryDate"),
    t("ArrivalDate"),
    t("InvoiceNumber"),
    t("InvoiceDate"),
    t("LoadPort"),
    t("DischargePort"),
    t("CountryOfDestination"),
];

const GOODS_ITEM: &[Elem] = &[
    t("ItemNumber"),
    t("InvoiceItemNumber"),
    t("HSCode"),
    t("Description"),
    t("DescriptionEn"),
    t("Brand"),
    t("Model"),
    Elem::seq("Manufacturer", 1, &[t("Name"), t("Country")]),
    t("CountryOfOrigin"),
    Elem::text_with("Quantity", 1, QTY),
    t("Standard"),
    t("LicenceNumber"),
    t("SpecialPurpose"),
    Elem::seq(
        "TestReport",
        1,
        &[t("LabId"), t("ReportNumber"), t("IssueDate")],
    ),
];

const IMPORT_PERMIT_REQUEST: &[Elem] = &[
    Elem::seq(
        "DocumentControl",
        1,
        &[t("ReferenceNumber"), t("Function"), t("RequestType")],
    ),
    Elem::seq(
        "Importer",
        1,
        &[t("TaxNumber"), t("Branch"), t("Name"), t("NameEn")],
    ),
    Elem::seq("Agent", 1, &[t("TaxNumber"), t("Branch"), t("Name")]),
    Elem::seq(
        "Shipment",
        1,
        &[
            t("ArrivalDate"),
            t("TransportMode"),
            t("LoadPort"),
            t("DischargePort"),
            t("CountryOfDestination"),
        ],
    ),
    Elem::seq("Invoice", 1, &[t("Number"), t("Date")]),
    Elem::seq("GoodsItem", LIST_MAX, GOODS_ITEM),
];

const ITEM_RESULT: &[Elem] = &[
    t("ItemNumber"),
    t("InvoiceItemNumber"),
    t("HSCode"),
    t("CountryOfOrigin"),
    t("Status"),
    t("Standard"),
    Elem::text_with("ApprovedQuantity", 1, QTY),
    Elem::seq("Reason", u16::MAX, REASON),
];

const IMPORT_PERMIT_RESPONSE: &[Elem] = &[
    Elem::seq(
        "DocumentControl",
        1,
        &[
            t("ReferenceNumber"),
            t("Function"),
            t("RequestId"),
            t("DecidedAt"),
        ],
    ),
    Elem::seq("IssuingAuthority", 1, &[t("TaxNumber"), t("Name")]),
    Elem::seq("Importer", 1, PARTY),
    t("Decision"),
    Elem::seq("Permit", 1, PERMIT),
    Elem::seq("ItemResult", LIST_MAX, ITEM_RESULT),
];

const DECLARATION_LINE: &[Elem] = &[
    t("LineNumber"),
    t("PermitNumber"),
    t("PermitIssueDate"),
    t("IssuingAuthorityTaxNumber"),
    t("InvoiceNumber"),
    t("InvoiceDate"),
    t("InvoiceItemNumber"),
    t("HSCode"),
    Elem::text_with("Quantity", 1, QTY),
    t("LoadPort"),
    t("DischargePort"),
    t("CountryOfOrigin"),
];

const DECLARATION_CHECK: &[Elem] = &[
    t("DeclarationNumber"),
    t("DeclarationDate"),
    Elem::seq("Importer", 1, PARTY),
    t("ArrivalDate"),
    Elem::seq("Line", LIST_MAX, DECLARATION_LINE),
];

const DECLARATION_CHECK_RESPONSE: &[Elem] = &[
    t("DeclarationNumber"),
    t("Result"),
    Elem::seq(
        "Line",
        LIST_MAX,
        &[
            t("LineNumber"),
            t("Result"),
            Elem::text_with("RemainingQuantity", 1, QTY),
            Elem::seq("Reason", u16::MAX, REASON),
        ],
    ),
];

const PERMIT_STATUS_RESPONSE: &[Elem] = &[
    t("Result"),
    t("ReferenceNumber"),
    t("RequestId"),
    t("Decision"),
    Elem::seq("Permit", 1, PERMIT),
    Elem::seq(
        "Item",
        LIST_MAX,
        &[
            t("ItemNumber"),
            t("InvoiceItemNumber"),
            t("Status"),
            Elem::text_with("ApprovedQuantity", 1, QTY),
            Elem::text_with("WrittenOffQuantity", 1, QTY),
            Elem::text_with("RemainingQuantity", 1, QTY),
        ],
    ),
    Elem::seq(
        "History",
        1,
        &[Elem::seq(
            "Entry",
            HISTORY_MAX,
            &[
                t("At"),
                t("Actor"),
                t("State"),
                Elem::seq("Reason", 1, &[Elem::text_with("Message", 2, LANG)]),
            ],
        )],
    ),
];

const INBOUND: &[Elem] = &[
    Elem::seq("ImportPermitRequest", 1, IMPORT_PERMIT_REQUEST),
    Elem::seq("DeclarationCheck", 1, DECLARATION_CHECK),
    Elem::seq(
        "DeclarationAmendment",
        1,
        &[t("DeclarationNumber"), t("Action")],
    ),
    Elem::seq(
        "PermitStatusQuery",
        1,
        &[
            t("PermitNumber"),
            Elem::seq("Importer", 1, PARTY),
            t("ReferenceNumber"),
        ],
    ),
];

const OUTBOUND: &[Elem] = &[
    Elem::seq("ImportPermitResponse", 1, IMPORT_PERMIT_RESPONSE),
    Elem::seq("DeclarationCheckResponse", 1, DECLARATION_CHECK_RESPONSE),
    Elem::seq(
        "DeclarationAmendmentResponse",
        1,
        &[t("DeclarationNumber"), t("Result")],
    ),
    Elem::seq("PermitStatusResponse", 1, PERMIT_STATUS_RESPONSE),
];

#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod tape_tests;

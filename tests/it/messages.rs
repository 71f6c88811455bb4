//! Test messages: reference data files, payload documents, ebMS requests, and reading replies.

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use nsw_gateway::domain::{ImportPermitResponse, OutboundDocument, Permit};
use nsw_gateway::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_EBMS, SERVICE_PERMIT};
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply::{self, Built, Reply, RequestOptions};

use crate::helpers::TestApp;

pub const IMPORTER: &str = "0105536112014";
/// Active import licence for TIS 2432-2555, brand PowerOne.
pub const LICENCE_OK: &str = "TISI-L-2566-00001";
/// The same, revoked.
pub const LICENCE_REVOKED: &str = "TISI-L-2566-00002";

/// Writes a small, fully known reference data set into `dir`.
pub fn write_refdata(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let files = [
        (
            "standards.csv",
            "standard,title_th,title_en,compulsory,in_force_from,in_force_until,hs_prefixes,inspection_rate,test_report_required\n\
             TIS 2432-2555,อะแดปเตอร์,Power adapters,true,2013-06-01,,85044090|85044019,0,false\n",
        ),
        (
            "licences.csv",
            "licence_number,licence_type,holder_tax_number,holder_branch,holder_name,standard,brands,models,manufacturer,manufacturer_country,issued_on,expires_on,status,status_since\n\
             TISI-L-2566-00001,IMPORT,0105536112014,00000,บริษัท ทดสอบ จำกัด,TIS 2432-2555,PowerOne,,Shenzhen PowerOne,CN,2020-01-01,2099-12-31,ACTIVE,2020-01-01\n\
             TISI-L-2566-00002,IMPORT,0105536112014,00000,บริษัท ทดสอบ จำกัด,TIS 2432-2555,PowerOne,,Shenzhen PowerOne,CN,2020-01-01,2099-12-31,REVOKED,2021-01-01\n",
        ),
        (
            "labs.csv",
            "lab_id,name,standards,accredited_from,accredited_until,status\n\
             LAB-0001,Test Laboratory,TIS 2432-2555,2019-01-01,2099-12-31,ACTIVE\n",
        ),
        (
            "special_purposes.csv",
            "code,description_th,description_en,valid_from,valid_until,max_quantity_per_year,officer_review,test_report_required\n\
             SAMPLE_TEST,ตัวอย่าง,Samples for testing,2024-10-01,,20,false,false\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// Today in Thailand (the gateway's decision date).
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

/// An import permit request for one item of `quantity` pieces under `licence`.
pub fn permit_request(reference: &str, licence: &str, quantity: u32) -> String {
    permit_request_items(reference, licence, &[(1, "85044090", quantity)])
}

/// An import permit request under `licence` with one goods item per (invoice item number, HS
/// code, quantity), numbered from 1.
pub fn permit_request_items(reference: &str, licence: &str, items: &[(u16, &str, u32)]) -> String {
    let arrival = today() + Duration::days(10);
    let invoice_date = today() - Duration::days(5);
    let goods: String = items
        .iter()
        .enumerate()
        .map(|(i, (invoice_item, hs, quantity))| {
            format!(
                r#"
  <GoodsItem>
    <ItemNumber>{n}</ItemNumber><InvoiceItemNumber>{invoice_item}</InvoiceItemNumber><HSCode>{hs}</HSCode>
    <Description>อะแดปเตอร์ไฟฟ้า</Description><Brand>PowerOne</Brand><Model>PA-65W</Model>
    <Manufacturer><Name>Shenzhen PowerOne</Name><Country>CN</Country></Manufacturer>
    <CountryOfOrigin>CN</CountryOfOrigin><Quantity unitCode="C62">{quantity}</Quantity>
    <Standard>มอก. 2432-2555</Standard><LicenceNumber>{licence}</LicenceNumber>
  </GoodsItem>"#,
                n = i + 1
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ImportPermitRequest xmlns="urn:th:tisi:nsw:permit:1_00">
  <DocumentControl><ReferenceNumber>{reference}</ReferenceNumber><Function>9</Function><RequestType>LICENSED</RequestType></DocumentControl>
  <Importer><TaxNumber>{IMPORTER}</TaxNumber><Branch>00000</Branch><Name>บริษัท ทดสอบ จำกัด</Name></Importer>
  <Shipment><ArrivalDate>{arrival}</ArrivalDate><TransportMode>1</TransportMode><LoadPort>CNSHA</LoadPort><DischargePort>THLCH</DischargePort><CountryOfDestination>TH</CountryOfDestination></Shipment>
  <Invoice><Number>INV-1</Number><Date>{invoice_date}</Date></Invoice>{goods}
</ImportPermitRequest>"#
    )
}

/// A declaration of `quantity` pieces against item 1 of `permit`.
pub fn declaration_check(number: &str, permit: &Permit, issuer: &str, quantity: u32) -> String {
    declaration_lines(number, permit, issuer, &[(1, "85044090", "CN", quantity)])
}

/// A declaration against `permit` with one line per (invoice item number, HS code, country of
/// origin, quantity), numbered from 1.
pub fn declaration_lines(
    number: &str,
    permit: &Permit,
    issuer: &str,
    lines: &[(u16, &str, &str, u32)],
) -> String {
    let lines: String = lines
        .iter()
        .enumerate()
        .map(|(i, (invoice_item, hs, origin, quantity))| {
            format!(
                r#"
  <Line>
    <LineNumber>{n}</LineNumber>
    <PermitNumber>{pn}</PermitNumber>
    <PermitIssueDate>{issued}</PermitIssueDate>
    <IssuingAuthorityTaxNumber>{issuer}</IssuingAuthorityTaxNumber>
    <InvoiceNumber>{inv}</InvoiceNumber>
    <InvoiceDate>{inv_date}</InvoiceDate>
    <InvoiceItemNumber>{invoice_item}</InvoiceItemNumber>
    <HSCode>{hs}</HSCode>
    <Quantity unitCode="C62">{quantity}</Quantity>
    <LoadPort>{load}</LoadPort>
    <DischargePort>{discharge}</DischargePort>
    <CountryOfOrigin>{origin}</CountryOfOrigin>
  </Line>"#,
                n = i + 1,
                pn = permit.number,
                issued = permit.issue_date,
                inv = permit.invoice_number,
                inv_date = permit.invoice_date,
                load = permit.load_port,
                discharge = permit.discharge_port,
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DeclarationCheck xmlns="urn:th:tisi:nsw:permit:1_00">
  <DeclarationNumber>{number}</DeclarationNumber>
  <DeclarationDate>{today}</DeclarationDate>
  <Importer><TaxNumber>{IMPORTER}</TaxNumber><Branch>00000</Branch></Importer>
  <ArrivalDate>{arrival}</ArrivalDate>{lines}
</DeclarationCheck>"#,
        today = today(),
        arrival = permit.arrival_date,
    )
}

pub fn declaration_cancel(number: &str) -> String {
    format!(
        r#"<DeclarationAmendment xmlns="urn:th:tisi:nsw:permit:1_00"><DeclarationNumber>{number}</DeclarationNumber><Action>CANCEL</Action></DeclarationAmendment>"#
    )
}

pub fn status_query(permit_number: &str) -> String {
    format!(
        r#"<PermitStatusQuery xmlns="urn:th:tisi:nsw:permit:1_00"><PermitNumber>{permit_number}</PermitNumber></PermitStatusQuery>"#
    )
}

/// The root element name of a payload (= its Action).
pub fn action_of(payload: &str) -> &'static str {
    for a in [
        "ImportPermitRequest",
        "DeclarationCheck",
        "DeclarationAmendment",
        "PermitStatusQuery",
    ] {
        if payload.contains(&format!("<{a} ")) || payload.contains(&format!("<{a}>")) {
            return a;
        }
    }
    panic!("unknown payload")
}

pub fn new_id() -> String {
    format!("{}@nsw.test", uuid::Uuid::new_v4())
}

/// A request header from NSW to TISI.
pub fn header(action: &str) -> MessageHeader {
    MessageHeader {
        from: PartyId::new("NSW"),
        to: PartyId::new("TISI"),
        cpa_id: "NSW-TISI-PERMIT".into(),
        conversation_id: format!("conv-{}", uuid::Uuid::new_v4()),
        service: Service::new(if action == "Ping" {
            SERVICE_EBMS
        } else {
            SERVICE_PERMIT
        }),
        action: action.into(),
        message_id: new_id(),
        timestamp: Utc::now().fixed_offset(),
        ref_to_message_id: None,
        time_to_live: None,
        duplicate_elimination: action != "Ping",
    }
}

/// A business request: `payload` in `packaging`, with the given options.
pub fn request(
    h: &MessageHeader,
    payload: &str,
    packaging: Packaging,
    opts: RequestOptions,
) -> Built {
    reply::build_request_xml(h, payload, packaging, opts)
}

pub fn sync_ack() -> RequestOptions {
    RequestOptions {
        ack_requested: true,
        sync_reply: true,
        tis620: false,
    }
}

/// What came back over HTTP.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The answer read as an ebMS message.
    pub fn reply(&self) -> Reply<OutboundDocument> {
        reply::parse_reply(self.content_type.as_deref(), &self.body)
            .unwrap_or_else(|e| panic!("not an ebMS reply ({e:?}): {}", self.text()))
    }

    /// The ImportPermitResponse of a synchronous reply.
    pub fn permit_response(&self) -> ImportPermitResponse {
        match self.reply().payload {
            Some(OutboundDocument::ImportPermitResponse(r)) => r,
            other => panic!("expected an ImportPermitResponse, got {other:?}"),
        }
    }

    /// The error codes of an `eb:ErrorList` reply.
    pub fn error_codes(&self) -> Vec<String> {
        self.reply()
            .error_list
            .unwrap_or_else(|| panic!("no ErrorList in {}", self.text()))
            .errors
            .iter()
            .map(|e| e.code.as_str().to_string())
            .collect()
    }

    /// The locations of an `eb:ErrorList` reply's errors.
    pub fn error_locations(&self) -> Vec<String> {
        self.reply()
            .error_list
            .unwrap_or_else(|| panic!("no ErrorList in {}", self.text()))
            .errors
            .into_iter()
            .map(|e| e.location)
            .collect()
    }
}

impl TestApp {
    /// Posts a built message to `/ebms`.
    pub async fn post(&self, built: &Built) -> Answer {
        self.post_with(&self.client, built).await
    }

    pub async fn post_with(&self, client: &reqwest::Client, built: &Built) -> Answer {
        let r = client
            .post(self.url("/ebms"))
            .header("Content-Type", &built.content_type)
            .header("SOAPAction", "\"ebXML\"")
            .body(built.body.clone())
            .send()
            .await
            .expect("request sent");
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = r.status().as_u16();
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let body = r.bytes().await.expect("body read").to_vec();
        Answer {
            status,
            content_type,
            retry_after,
            body,
        }
    }

    /// The outbox rows of a conversation: (content type, body, partner). Read straight from
    /// the database, as an operator would.
    pub async fn outbox(&self, conversation_id: &str) -> Vec<(String, Vec<u8>, String)> {
        let url = &self.settings.database.url;
        let q = "SELECT content_type, body, partner FROM outbox WHERE conversation_id = ";
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_as(&format!("{q}?"))
                .bind(conversation_id)
                .fetch_all(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_as(&format!("{q}$1"))
                .bind(conversation_id)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    }

    /// Sends a business payload synchronously with an acknowledgment requested.
    pub async fn send(&self, payload: &str, packaging: Packaging) -> Answer {
        let h = header(action_of(payload));
        self.post(&request(&h, payload, packaging, sync_ack()))
            .await
    }

    /// Obtains an APPROVED permit for `quantity` pieces.
    pub async fn approved_permit(&self, reference: &str, quantity: u32) -> Permit {
        let a = self
            .send(
                &permit_request(reference, LICENCE_OK, quantity),
                Packaging::Inline,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let r = a.permit_response();
        assert_eq!(r.decision.code(), "APPROVED", "{r:?}");
        r.permit.expect("an approved request has a permit")
    }
}

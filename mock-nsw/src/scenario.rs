//! `mock-nsw scenario`: a scripted end-to-end exchange with a running gateway, each step
//! checked against the contract, with a readable diff (expected vs got) for every deviation.
//!
//! Steps: Ping; a permit approved; three rejections for different reasons (licence not found,
//! product not covered, importer tax number invalid); a retry of the approved request's
//! MessageId (byte-identical payload); a replacement (Function 5) of that request; a
//! declaration written off in two parts; one exceeding the remaining quantity; an amendment
//! restoring the first part, and a declaration using what it restored; status queries of the
//! permit and of the replaced one.
//!
//! The licence it uses comes from the gateway's reference-data directory: an IMPORT licence,
//! ACTIVE and valid on the arrival date, on a compulsory edition in force with inspection rate 0
//! and no test report required.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context};
use chrono::{Duration, NaiveDate, Utc};
use nsw_gateway::domain::{
    AmendmentAction, Amount, Country, DeclarationAmendment, DeclarationCheck, DeclarationLine,
    Function, GoodsItem, HsCode, ImportPermitRequest, ImportPermitResponse, InboundDocument,
    Invoice, Licence, LicenceStatus, LicenceType, Manufacturer, OutboundDocument, PartyKey,
    PermitStatusQuery, Port, Quantity, ReasonCode, RefData, ReferenceNumber, RequestType, Shipment,
    TransportMode, UnitCode,
};
use reqwest::Url;

use crate::ebms::{self, Answer, Parties, SendOptions};

/// One checked step.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// (what, expected, got) for every check of the step.
    pub checks: Vec<(String, String, String)>,
}

impl Step {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            checks: Vec::new(),
        }
    }

    fn check(&mut self, what: &str, expected: impl ToString, got: impl ToString) {
        self.checks
            .push((what.to_owned(), expected.to_string(), got.to_string()));
    }

    pub fn ok(&self) -> bool {
        self.checks.iter().all(|(_, e, g)| e == g)
    }
}

/// All steps of a run.
#[derive(Debug, Clone, Default)]
pub struct ScenarioReport {
    pub steps: Vec<Step>,
}

impl ScenarioReport {
    pub fn ok(&self) -> bool {
        self.steps.iter().all(Step::ok)
    }

    /// One line per step; for a failed step, each deviating check as expected vs got.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (i, st) in self.steps.iter().enumerate() {
            let _ = writeln!(
                s,
                "{:>2}. [{}] {}",
                i + 1,
                if st.ok() { " ok " } else { "FAIL" },
                st.name
            );
            for (what, e, g) in &st.checks {
                if e != g {
                    let _ = writeln!(
                        s,
                        "      {what}:\n        expected: {e}\n        got:      {g}"
                    );
                }
            }
        }
        let failed = self.steps.iter().filter(|s| !s.ok()).count();
        let _ = writeln!(
            s,
            "\n{} of {} steps passed{}",
            self.steps.len() - failed,
            self.steps.len(),
            if failed > 0 {
                format!(", {failed} deviated")
            } else {
                String::new()
            }
        );
        s
    }
}

/// A licence the scenario can get a permit with, on `arrival`.
pub fn pick_licence(data: &RefData, arrival: NaiveDate) -> Option<&Licence> {
    data.licences.iter().find(|l| {
        l.licence_type == LicenceType::Import
            && l.status == LicenceStatus::Active
            && l.issued_on <= arrival
            && arrival <= l.expires_on
            && nsw_gateway::domain::TaxNumber::parse(&l.holder.tax_number.to_string()).is_ok()
            && data.standards.iter().any(|s| {
                s.reference == l.standard
                    && s.compulsory
                    && s.in_force_on(arrival)
                    && s.inspection_rate == 0
                    && !s.test_report_required
                    && s.hs_prefixes.iter().any(|p| p.len() <= 8)
            })
    })
}

/// A change that makes a request fail one rule.
type Change = Box<dyn Fn(&mut ImportPermitRequest)>;

/// (what, declaration number, amount, result, line result, remaining after it).
type PlannedDeclaration = (
    &'static str,
    String,
    u64,
    &'static str,
    &'static str,
    Option<u64>,
);

/// Everything a step needs to build a request.
struct Ctx {
    client: reqwest::Client,
    url: Url,
    parties: Parties,
    tag: String,
}

/// What came back for one message.
struct Exchange {
    status: u16,
    answer: Answer,
    /// The exact request sent (for a retry).
    sent: ebms::Message,
}

impl Ctx {
    async fn post(&self, m: &ebms::Message) -> anyhow::Result<(u16, Answer)> {
        let r = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, m.content_type.as_str())
            .header("SOAPAction", "\"ebXML\"")
            .body(m.body.clone())
            .send()
            .await
            .with_context(|| format!("posting to {}", self.url))?;
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.bytes().await.context("reading the answer")?;
        Ok((status, ebms::read_answer(ct.as_deref(), &body)))
    }

    async fn send(
        &mut self,
        doc: InboundDocument,
        inline: bool,
        tis620: bool,
    ) -> anyhow::Result<Exchange> {
        let id = ebms::message_id();
        let conv = ebms::conversation_id();
        let m = ebms::business(
            &self.parties,
            &doc,
            &id,
            &conv,
            Utc::now(),
            SendOptions {
                inline,
                tis620,
                ..SendOptions::default()
            },
        );
        let (status, answer) = self.post(&m).await?;
        Ok(Exchange {
            status,
            answer,
            sent: m,
        })
    }
}

fn permit_response(a: &Answer) -> Option<&ImportPermitResponse> {
    match a {
        Answer::Document { doc, .. } => match doc.as_ref() {
            OutboundDocument::ImportPermitResponse(r) => Some(r),
            _ => None,
        },
        _ => None,
    }
}

/// Runs the scenario against `target`, with a licence from the reference data in `data_dir`.
pub async fn run(
    client: reqwest::Client,
    target: Url,
    data_dir: &Path,
    parties: Parties,
) -> anyhow::Result<ScenarioReport> {
    let data = nsw_gateway::refdata::load_dir(data_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading reference data from {}", data_dir.display()))?;
    let today = Utc::now().date_naive();
    let arrival = today + Duration::days(10);
    let Some(lic) = pick_licence(&data, arrival).cloned() else {
        bail!(
            "{} has no IMPORT licence that is ACTIVE and valid on {arrival}, on a compulsory edition in force \
             with inspection rate 0 and no test report required",
            data_dir.display()
        );
    };
    let std = data
        .standards
        .iter()
        .find(|s| s.reference == lic.standard)
        .cloned()
        .expect("pick_licence checked the standard");
    let mut ctx = Ctx {
        client,
        url: target,
        parties,
        tag: Utc::now().format("%y%m%d%H%M%S").to_string(),
    };
    let mut report = ScenarioReport::default();

    // 1. Ping.
    {
        let mut st = Step::new("Ping is answered with Pong");
        let id = ebms::message_id();
        let conv = ebms::conversation_id();
        let (status, answer) = ctx
            .post(&ebms::ping(&ctx.parties, &id, &conv, Utc::now()))
            .await?;
        st.check("HTTP status", 200, status);
        let got = match &answer {
            Answer::Pong { header } => {
                st.check(
                    "RefToMessageId",
                    &id,
                    header.ref_to_message_id.as_deref().unwrap_or("-"),
                );
                "Pong".to_owned()
            }
            other => other.describe(),
        };
        st.check("answer", "Pong", got);
        report.steps.push(st);
    }

    let holder = lic.holder;
    let hs = {
        let p = std
            .hs_prefixes
            .iter()
            .find(|p| p.len() <= 8)
            .expect("checked");
        HsCode::parse(&format!("{p:0<8}")).expect("8 digits")
    };
    let base = ImportPermitRequest {
        reference: ReferenceNumber::parse(&format!("SCN-{}-1", ctx.tag)).expect("short"),
        function: Function::Original,
        request_type: RequestType::Licensed,
        importer: nsw_gateway::domain::Importer {
            tax_number: holder.tax_number.to_string(),
            branch: holder.branch,
            name: lic.holder_name.clone(),
            name_en: None,
        },
        agent: None,
        shipment: Shipment {
            arrival_date: arrival,
            transport_mode: TransportMode::Sea,
            load_port: Port::parse("CNSHA").expect("port"),
            discharge_port: Port::parse("THBKK").expect("port"),
            country_of_destination: Country::TH,
        },
        invoice: Invoice {
            number: format!("INV-SCN-{}", ctx.tag),
            date: today - Duration::days(3),
        },
        items: vec![GoodsItem {
            item_number: 1,
            invoice_item_number: 1,
            hs_code: hs,
            description: format!("{} (ทดสอบ)", std.title_th),
            description_en: Some(std.title_en.clone()),
            brand: lic
                .brands
                .first()
                .cloned()
                .unwrap_or_else(|| "Generic".into()),
            model: lic
                .models
                .first()
                .cloned()
                .unwrap_or_else(|| "GEN-1".into()),
            manufacturer: Manufacturer {
                name: lic.manufacturer.clone(),
                country: lic.manufacturer_country,
            },
            country_of_origin: lic.manufacturer_country,
            quantity: Quantity {
                amount: Amount::from_milli(100_000),
                unit: UnitCode::parse("C62").expect("unit"),
            },
            standard: Some(lic.standard.canonical()),
            licence_number: Some(lic.number.clone()),
            special_purpose: None,
            test_report: None,
        }],
    };

    // 2. Approved.
    let approved = ctx
        .send(
            InboundDocument::ImportPermitRequest(base.clone()),
            false,
            false,
        )
        .await?;
    let first_permit = {
        let mut st = Step::new(format!(
            "permit request on licence {} is approved",
            lic.number
        ));
        st.check("HTTP status", 200, approved.status);
        match permit_response(&approved.answer) {
            Some(r) => {
                st.check("decision", "APPROVED", r.decision.code());
                st.check("permit issued", true, r.permit.is_some());
                st.check(
                    "approved quantity of item 1",
                    "100 C62",
                    r.items
                        .first()
                        .and_then(|i| i.approved_quantity.as_ref())
                        .map(|q| q.to_string())
                        .unwrap_or_default(),
                );
            }
            None => st.check("answer", "ImportPermitResponse", approved.answer.describe()),
        }
        report.steps.push(st);
        permit_response(&approved.answer).and_then(|r| r.permit.clone())
    };

    // 3–5. Three rejections.
    let rejections: [(&str, ReasonCode, Change); 3] = [
        (
            "an unknown licence number",
            ReasonCode::LicenceNotFound,
            Box::new(|r: &mut ImportPermitRequest| {
                r.items[0].licence_number = Some("L2500-0000000".into())
            }),
        ),
        (
            "a brand the licence does not cover",
            ReasonCode::LicenceProductMismatch,
            Box::new(|r: &mut ImportPermitRequest| r.items[0].brand = "Unlisted Brand".into()),
        ),
        (
            "an importer tax number with a wrong check digit",
            ReasonCode::ImporterTaxNumberInvalid,
            Box::new(|r: &mut ImportPermitRequest| {
                let t = &r.importer.tax_number;
                let last = (t.as_bytes()[12] - b'0' + 1) % 10;
                r.importer.tax_number = format!("{}{last}", &t[..12]);
            }),
        ),
    ];
    for (k, (what, code, change)) in rejections.iter().enumerate() {
        let mut req = base.clone();
        req.reference =
            ReferenceNumber::parse(&format!("SCN-{}-R{}", ctx.tag, k + 1)).expect("short");
        change(&mut req);
        // Vary the packaging and encoding across the rejections.
        let ex = ctx
            .send(
                InboundDocument::ImportPermitRequest(req),
                k % 2 == 0,
                k == 1,
            )
            .await?;
        let mut st = Step::new(format!(
            "a request with {what} is rejected with {}",
            code.code()
        ));
        st.check("HTTP status", 200, ex.status);
        match permit_response(&ex.answer) {
            Some(r) => {
                st.check("decision", "REJECTED", r.decision.code());
                st.check("permit issued", false, r.permit.is_some());
                let has = r
                    .items
                    .iter()
                    .any(|i| i.reasons.iter().any(|x| x.code == *code));
                st.check(&format!("reason {} given", code.code()), true, has);
            }
            None => st.check("answer", "ImportPermitResponse", ex.answer.describe()),
        }
        report.steps.push(st);
    }

    // 6. Retry of the approved request's MessageId.
    {
        let mut st = Step::new(
            "a retry of the approved request (same MessageId) gets a byte-identical payload",
        );
        let (status, answer) = ctx.post(&approved.sent).await?;
        st.check("HTTP status", 200, status);
        let payload = |a: &Answer| match a {
            Answer::Document { payload_xml, .. } => payload_xml.clone(),
            other => other.describe(),
        };
        st.check("payload", payload(&approved.answer), payload(&answer));
        report.steps.push(st);
    }

    // 7. Replacement with a larger quantity.
    let mut replacement = base.clone();
    replacement.function = Function::Replacement;
    replacement.items[0].quantity.amount = Amount::from_milli(120_000);
    let replaced = ctx
        .send(
            InboundDocument::ImportPermitRequest(replacement.clone()),
            true,
            false,
        )
        .await?;
    let permit = {
        let mut st = Step::new("a replacement (Function 5) is decided afresh with a new permit");
        st.check("HTTP status", 200, replaced.status);
        let r = permit_response(&replaced.answer);
        match r {
            Some(r) => {
                st.check("decision", "APPROVED", r.decision.code());
                st.check("function echoed", "5", r.function.code());
                let new = r.permit.as_ref().map(|p| p.number.to_string());
                st.check("permit issued", true, new.is_some());
                if let (Some(old), Some(new)) = (&first_permit, &new) {
                    st.check(
                        "permit number differs from the replaced one",
                        true,
                        old.number.to_string() != *new,
                    );
                }
            }
            None => st.check("answer", "ImportPermitResponse", replaced.answer.describe()),
        }
        report.steps.push(st);
        r.and_then(|r| {
            r.permit
                .clone()
                .map(|p| (p, r.issuing_authority_tax_number))
        })
    };
    let Some((permit, authority)) = permit else {
        report.steps.push({
            let mut st = Step::new("declarations, amendment and status queries");
            st.check(
                "a permit to declare against",
                "present",
                "absent (previous step failed)",
            );
            st
        });
        return Ok(report);
    };

    // 8–12. Declarations.
    let line = |amount: u64| DeclarationLine {
        line_number: 1,
        permit_number: permit.number,
        permit_issue_date: permit.issue_date,
        issuing_authority_tax_number: authority,
        invoice_number: permit.invoice_number.clone(),
        invoice_date: permit.invoice_date,
        invoice_item_number: 1,
        hs_code: replacement.items[0].hs_code.clone(),
        quantity: Quantity {
            amount: Amount::from_milli(amount * 1000),
            unit: UnitCode::parse("C62").expect("unit"),
        },
        load_port: permit.load_port,
        discharge_port: permit.discharge_port,
        country_of_origin: replacement.items[0].country_of_origin,
    };
    let importer = PartyKey {
        tax_number: holder.tax_number,
        branch: holder.branch,
    };
    let declaration = |n: &str, amount: u64| DeclarationCheck {
        declaration_number: n.to_owned(),
        declaration_date: today,
        importer,
        arrival_date: arrival,
        lines: vec![line(amount)],
    };
    let d1 = format!("A{}01", ctx.tag);
    let plan: [PlannedDeclaration; 3] = [
        (
            "first part of the write-off (50 of 120)",
            d1.clone(),
            50,
            "ACCEPTED",
            "MATCHED",
            Some(70),
        ),
        (
            "second part of the write-off (70)",
            format!("A{}02", ctx.tag),
            70,
            "ACCEPTED",
            "MATCHED",
            Some(0),
        ),
        (
            "a declaration beyond the approved quantity (1 more)",
            format!("A{}03", ctx.tag),
            1,
            "REFUSED",
            "QUANTITY_EXCEEDED",
            None,
        ),
    ];
    for (what, number, amount, result, line_result, remaining) in plan {
        let ex = ctx
            .send(
                InboundDocument::DeclarationCheck(declaration(&number, amount)),
                false,
                false,
            )
            .await?;
        report
            .steps
            .push(declaration_step(what, &ex, result, line_result, remaining));
    }
    {
        let ex = ctx
            .send(
                InboundDocument::DeclarationAmendment(DeclarationAmendment {
                    declaration_number: d1.clone(),
                    action: AmendmentAction::Cancel,
                }),
                true,
                false,
            )
            .await?;
        let mut st = Step::new("an amendment cancelling the first part restores its 50");
        st.check("HTTP status", 200, ex.status);
        let got = match &ex.answer {
            Answer::Document { doc, .. } => match doc.as_ref() {
                OutboundDocument::DeclarationAmendmentResponse(r) => r.result.code().to_owned(),
                other => ebms::summary(other),
            },
            other => other.describe(),
        };
        st.check("result", "RESTORED", got);
        report.steps.push(st);
    }
    {
        let ex = ctx
            .send(
                InboundDocument::DeclarationCheck(declaration(&format!("A{}04", ctx.tag), 50)),
                true,
                false,
            )
            .await?;
        report.steps.push(declaration_step(
            "a declaration using the restored 50",
            &ex,
            "ACCEPTED",
            "MATCHED",
            Some(0),
        ));
    }

    // 13–14. Status queries.
    for (what, number, decision, written_off) in [
        (
            "status of the permit: APPROVED, 120 written off, 0 remaining",
            permit.number,
            "APPROVED",
            Some((120_000u64, 0u64)),
        ),
        (
            "status of the replaced permit: CANCELLED",
            first_permit
                .as_ref()
                .map(|p| p.number)
                .unwrap_or(permit.number),
            "CANCELLED",
            None,
        ),
    ] {
        let ex = ctx
            .send(
                InboundDocument::PermitStatusQuery(PermitStatusQuery::ByPermit(number)),
                false,
                false,
            )
            .await?;
        let mut st = Step::new(what);
        st.check("HTTP status", 200, ex.status);
        match &ex.answer {
            Answer::Document { doc, .. } => match doc.as_ref() {
                OutboundDocument::PermitStatusResponse(r) => {
                    st.check("result", "Found", format!("{:?}", r.result));
                    st.check(
                        "decision",
                        decision,
                        r.decision.map(|d| d.code()).unwrap_or("-"),
                    );
                    if let Some((w, rem)) = written_off {
                        let item = r.items.first();
                        st.check(
                            "written off",
                            Amount::from_milli(w),
                            item.map(|i| i.written_off.to_string()).unwrap_or_default(),
                        );
                        st.check(
                            "remaining",
                            Amount::from_milli(rem),
                            item.map(|i| i.remaining.to_string()).unwrap_or_default(),
                        );
                        st.check("history has entries", true, !r.history.is_empty());
                    }
                }
                other => st.check("answer", "PermitStatusResponse", ebms::summary(other)),
            },
            other => st.check("answer", "PermitStatusResponse", other.describe()),
        }
        report.steps.push(st);
    }
    Ok(report)
}

fn declaration_step(
    what: &str,
    ex: &Exchange,
    result: &str,
    line: &str,
    remaining: Option<u64>,
) -> Step {
    let mut st = Step::new(what);
    st.check("HTTP status", 200, ex.status);
    match &ex.answer {
        Answer::Document { doc, .. } => match doc.as_ref() {
            OutboundDocument::DeclarationCheckResponse(r) => {
                st.check("result", result, r.result.code());
                let l = r.lines.first();
                st.check("line 1", line, l.map(|l| l.result.code()).unwrap_or("-"));
                if let Some(rem) = remaining {
                    st.check(
                        "remaining quantity",
                        format!("{rem} C62"),
                        l.and_then(|l| l.remaining.as_ref())
                            .map(|q| q.to_string())
                            .unwrap_or_else(|| "-".into()),
                    );
                }
            }
            other => st.check("answer", "DeclarationCheckResponse", ebms::summary(other)),
        },
        other => st.check("answer", "DeclarationCheckResponse", other.describe()),
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_shows_only_the_deviations() {
        let mut a = Step::new("ping");
        a.check("answer", "Pong", "Pong");
        let mut b = Step::new("approve");
        b.check("decision", "APPROVED", "REJECTED");
        b.check("HTTP status", 200, 200);
        let r = ScenarioReport { steps: vec![a, b] };
        assert!(!r.ok());
        let text = r.render();
        assert!(text.contains(" 1. [ ok ] ping"), "{text}");
        assert!(text.contains(" 2. [FAIL] approve"), "{text}");
        assert!(
            text.contains("decision:\n        expected: APPROVED\n        got:      REJECTED"),
            "{text}"
        );
        assert!(!text.contains("HTTP status"), "{text}");
        assert!(text.contains("1 of 2 steps passed, 1 deviated"), "{text}");
    }
}

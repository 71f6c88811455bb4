//! The status page for a person: `/status`, server-rendered HTML in Thai and English.
//!
//! Access: the page asks for no API key. A look-up needs the importer's tax number in both of
//! its forms — permit number + tax number (both must match), or tax number + branch +
//! reference — so that a permit number seen on a document does not reveal the importer's data
//! to whoever holds it. A look-up that finds nothing (or a permit of another importer) answers
//! the same "not found" and counts against the client address's failure budget, which bounds
//! guessing. API keys are never typed into this page: a GET form would put them into URLs,
//! browser history and logs.

use std::collections::HashMap;
use std::net::IpAddr;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::dto::{Bilingual, RequestDetail};
use super::{client_ip, ApiError, ApiState};
use crate::domain::{Branch, PartyKey, PermitNumber, ReferenceNumber, TaxNumber};

mod filters {
    /// An RFC 3339 time as Thai local time, to the second: `2026-11-26 15:18:11 (UTC+7)`.
    pub fn thai_time<T: std::fmt::Display>(t: T) -> askama::Result<String> {
        let s = t.to_string();
        let thai = chrono::FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset");
        Ok(match chrono::DateTime::parse_from_rfc3339(&s) {
            Ok(t) => t
                .with_timezone(&thai)
                .format("%Y-%m-%d %H:%M:%S (UTC+7)")
                .to_string(),
            Err(_) => s,
        })
    }
}

/// The client address, for the page's rate limits.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<ApiState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.limits.trusted_proxies)))
    }
}

/// The values of the look-up form, echoed back into it.
#[derive(Debug, Default, Clone)]
pub struct FormValues {
    pub permit: String,
    pub tax: String,
    pub branch: String,
    pub reference: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    form: FormValues,
    errors: Vec<Bilingual>,
    not_found: bool,
    limited: bool,
    result: Option<RequestDetail>,
}

fn msg(th: impl Into<String>, en: impl Into<String>) -> Bilingual {
    Bilingual {
        th: th.into(),
        en: en.into(),
    }
}

enum Lookup {
    Permit(PermitNumber, TaxNumber),
    Reference(PartyKey, ReferenceNumber),
}

/// Reads the form; every problem is reported, in both languages.
fn lookup(f: &FormValues) -> Result<Option<Lookup>, Vec<Bilingual>> {
    if [&f.permit, &f.tax, &f.branch, &f.reference]
        .iter()
        .all(|v| v.is_empty())
    {
        return Ok(None);
    }
    let mut errs = Vec::new();
    let tax = if f.tax.is_empty() {
        errs.push(msg(
            "กรุณากรอกเลขประจำตัวผู้เสียภาษีของผู้นำเข้า (13 หลัก)",
            "Enter the importer's tax number (13 digits).",
        ));
        None
    } else {
        TaxNumber::parse(&f.tax)
            .map_err(|_| {
                errs.push(msg(
                    format!("เลขประจำตัวผู้เสียภาษี \"{}\" ไม่ถูกต้อง: ต้องเป็นตัวเลข 13 หลักที่มีเลขตรวจสอบถูกต้อง", f.tax),
                    format!("Tax number \"{}\" is not valid: it must be 13 digits with a correct check digit.", f.tax),
                ))
            })
            .ok()
    };
    if !f.permit.is_empty() {
        let permit = PermitNumber::parse(&f.permit)
            .map_err(|_| {
                errs.push(msg(
                    format!(
                        "เลขที่ใบอนุญาต \"{}\" ไม่ถูกต้อง: รูปแบบคือ TISI-P-2569-00000042",
                        f.permit
                    ),
                    format!(
                        "Permit number \"{}\" is not valid: the form is TISI-P-2569-00000042.",
                        f.permit
                    ),
                ))
            })
            .ok();
        return match (permit, tax) {
            (Some(p), Some(t)) if errs.is_empty() => Ok(Some(Lookup::Permit(p, t))),
            _ => Err(errs),
        };
    }
    let branch = Branch::parse(&f.branch)
        .map_err(|_| {
            errs.push(msg(
                "กรุณากรอกสาขาเป็นตัวเลข 5 หลัก (สำนักงานใหญ่ = 00000)",
                "Enter the branch as 5 digits (head office = 00000).",
            ))
        })
        .ok();
    let reference = if f.reference.is_empty() {
        errs.push(msg(
            "กรุณากรอกเลขที่อ้างอิงของผู้นำเข้า หรือเลขที่ใบอนุญาต",
            "Enter the importer's reference number, or a permit number.",
        ));
        None
    } else {
        ReferenceNumber::parse(&f.reference)
            .map_err(|_| {
                errs.push(msg(
                    "เลขที่อ้างอิงไม่ถูกต้อง (ไม่เกิน 35 ตัวอักษร)",
                    "The reference number is not valid (at most 35 characters).",
                ))
            })
            .ok()
    };
    match (tax, branch, reference) {
        (Some(tax_number), Some(branch), Some(r)) if errs.is_empty() => {
            Ok(Some(Lookup::Reference(PartyKey { tax_number, branch }, r)))
        }
        _ => Err(errs),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_shown_in_thai_local_time() {
        let check = |input: &str, expected: &str| {
            assert_eq!(super::filters::thai_time(input).unwrap(), expected);
        };
        check("2026-11-26T08:18:11.134323Z", "2026-11-26 15:18:11 (UTC+7)");
        check("2026-11-26T20:00:00Z", "2026-11-27 03:00:00 (UTC+7)");
        check("not a time", "not a time");
    }
}

fn render(status: StatusCode, page: StatusPage) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                ),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => ApiError::Internal(format!("rendering the status page: {e}")).into_response(),
    }
}

/// The status page: a look-up form, then the decision, the permit, each item with its status,
/// bilingual reasons and quantities, and the history as a timeline.
#[utoipa::path(
    get,
    path = "/status",
    tag = "page",
    params(
        ("permit" = Option<String>, Query, description = "Permit number (with tax)"),
        ("tax" = Option<String>, Query, description = "Importer tax number (always required for a look-up)"),
        ("branch" = Option<String>, Query, description = "Importer branch (with reference)"),
        ("reference" = Option<String>, Query, description = "Importer reference (with tax and branch)"),
    ),
    responses(
        (status = 200, description = "The form, with the result when found", content_type = "text/html"),
        (status = 400, description = "The form has invalid fields", content_type = "text/html"),
        (status = 404, description = "Nothing found for these details", content_type = "text/html"),
        (status = 429, description = "Too many look-ups from this address", content_type = "text/html"),
    )
)]
pub async fn status_page(
    State(state): State<ApiState>,
    ClientIp(ip): ClientIp,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let form = FormValues {
        permit: get("permit"),
        tax: get("tax"),
        branch: get("branch"),
        reference: get("reference"),
    };
    let mut page = StatusPage {
        form: form.clone(),
        errors: Vec::new(),
        not_found: false,
        limited: false,
        result: None,
    };
    // As the API's 429: when to come back, in whole seconds.
    let limited = |mut page: StatusPage, e: ApiError| {
        page.limited = true;
        let mut r = render(StatusCode::TOO_MANY_REQUESTS, page);
        if let ApiError::RateLimited(wait) = e {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(wait.as_secs()),
            );
        }
        r
    };
    let lookup = match lookup(&form) {
        Ok(None) => return render(StatusCode::OK, page),
        Ok(Some(l)) => l,
        Err(errs) => {
            page.errors = errs;
            return render(StatusCode::BAD_REQUEST, page);
        }
    };
    if let Err(e) = state
        .limits
        .not_blocked(ip)
        .and_then(|()| state.limits.caller(format!("page:{ip}")))
    {
        return limited(page, e);
    }
    let found = match &lookup {
        // Whose it is first: another importer's permit is not read, so that its answer takes
        // no longer than a missing one's.
        Lookup::Permit(n, tax) => match state.store.permit_holder(n).await {
            Ok(Some(holder)) if holder.tax_number == *tax => state
                .store
                .request_by_permit(&n.to_string())
                .await
                .map(|r| r.filter(|r| r.importer_tax_number == tax.to_string())),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        },
        Lookup::Reference(importer, reference) => {
            state
                .store
                .request_by_reference(importer, reference.as_str())
                .await
        }
    };
    match found {
        Ok(Some(r)) => {
            page.result = Some(RequestDetail::from(&r));
            render(StatusCode::OK, page)
        }
        Ok(None) => {
            tracing::info!(client = %ip, "status page: nothing found");
            if let Err(e) = state.limits.failure(ip) {
                return limited(page, e);
            }
            page.not_found = true;
            render(StatusCode::NOT_FOUND, page)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

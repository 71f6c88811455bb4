//! What the store needs to process a message: the decision rules over the current reference
//! snapshot, Customs line matching, and the reply renderer, bound to one moment.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::config::GatewaySettings;
use crate::domain::engine::{self, SpecialUsage as EngineUsage};
use crate::domain::matching::{self, PermitItem, PermitRecord};
use crate::domain::snapshot::Snapshot;
use crate::domain::{
    Amount, DeclarationCheck, DeclarationLine, ImportPermitRequest, PartyKey, RequestDecision,
};
use crate::store::{Ctx, PermitView, Renderer, SpecialUsage as StoreUsage};

/// Thailand's offset (no daylight saving): decision dates are Thai calendar dates.
const THAI_OFFSET_SECS: i32 = 7 * 3600;

/// Today's date in Thailand at `now`.
pub fn thai_date(now: DateTime<Utc>) -> NaiveDate {
    let tz = FixedOffset::east_opt(THAI_OFFSET_SECS).expect("+07:00 is a valid offset");
    now.with_timezone(&tz).date_naive()
}

/// The store's view of earlier special-import usage, seen through the engine's trait.
struct Usage<'a>(&'a dyn StoreUsage);

impl EngineUsage for Usage<'_> {
    fn used(&self, importer: &PartyKey, purpose: &str, year: i32) -> Amount {
        self.0.used(importer, purpose, year)
    }
}

/// Customs matching of one line, given the stored permit item it points at.
fn match_line(
    line: &DeclarationLine,
    decl: &DeclarationCheck,
    view: &PermitView,
    issuer: crate::domain::TaxNumber,
) -> (crate::domain::LineResult, Vec<crate::domain::Reason>) {
    // 1-based position of the line (for the XPath of reasons).
    let pos = decl
        .lines
        .iter()
        .position(|l| std::ptr::eq(l, line))
        .or_else(|| decl.lines.iter().position(|l| l == line))
        .map_or(1, |i| i + 1);
    let record = PermitRecord {
        permit: view.permit.clone(),
        holder: view.holder,
        issuing_authority: issuer,
        // A cancelled or replaced permit never gets here: the store answers it itself.
        decision: RequestDecision::Approved,
        items: vec![PermitItem {
            invoice_item_number: view.invoice_item_number,
            hs_code: view.hs_code.clone(),
            country_of_origin: view.country_of_origin,
            unit: view.unit.clone(),
            approved: view.approved,
            written_off: view.written_off,
            status: view.item_status,
        }],
    };
    let r = matching::match_line(
        line,
        pos,
        &decl.importer,
        decl.arrival_date,
        Some(&record),
        view.claimed_before,
    );
    (r.result, r.reasons)
}

/// The context for processing one message at `now` against `snapshot`.
pub fn build(
    gateway: &GatewaySettings,
    snapshot: Arc<Snapshot>,
    renderer: Arc<dyn Renderer>,
    now: DateTime<Utc>,
) -> Ctx {
    let today = thai_date(now);
    let issuer = gateway.issuer_tax_number;
    Ctx {
        today,
        now,
        authority_tax_number: issuer,
        authority_name: gateway.issuer_name.clone(),
        decide: Arc::new(move |req: &ImportPermitRequest, usage: &dyn StoreUsage| {
            engine::decide(req, &snapshot, today, &Usage(usage))
        }),
        match_line: Arc::new(move |line, decl, view| match_line(line, decl, view, issuer)),
        renderer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_dates_change_at_midnight_bangkok_time() {
        let check = |utc: &str, expected: &str| {
            let t: DateTime<Utc> = utc.parse().unwrap();
            assert_eq!(thai_date(t).to_string(), expected, "{utc}");
        };
        check("2026-11-26T16:59:59Z", "2026-11-26");
        check("2026-11-26T17:00:00Z", "2026-11-27");
        check("2026-11-26T00:00:00Z", "2026-11-26");
    }
}

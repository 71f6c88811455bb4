//! What the store needs to process a message: the decision rules over the current reference
//! snapshot, Customs line matching, and the reply renderer, bound to one moment.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::GatewaySettings;
use crate::domain::engine::{self, SpecialUsage as EngineUsage};
use crate::domain::matching::{self, PermitRecord};
use crate::domain::{Amount, DeclarationCheck, DeclarationLine, ImportPermitRequest, PartyKey};
use crate::store::{Ctx, Renderer, SpecialUsage as StoreUsage, StatusMark, StoredStatus};

use super::reference::Reference;

pub use crate::domain::thai_date;

/// The store's view of earlier special-import usage, seen through the engine's trait.
struct Usage<'a>(&'a dyn StoreUsage);

impl EngineUsage for Usage<'_> {
    fn used(&self, importer: &PartyKey, purpose: &str, year: i32) -> Amount {
        self.0.used(importer, purpose, year)
    }
}

/// Customs matching of one line against the stored permit it points at.
fn match_line(
    line: &DeclarationLine,
    decl: &DeclarationCheck,
    record: &PermitRecord,
    claimed_before: crate::domain::Amount,
) -> (crate::domain::LineResult, Vec<crate::domain::Reason>) {
    // 1-based position of the line (for the XPath of reasons).
    let pos = decl
        .lines
        .iter()
        .position(|l| std::ptr::eq(l, line))
        .or_else(|| decl.lines.iter().position(|l| l == line))
        .map_or(1, |i| i + 1);
    let r = matching::match_line(
        line,
        pos,
        &decl.importer,
        decl.arrival_date,
        Some(record),
        claimed_before,
    );
    (r.result, r.reasons)
}

/// The context for processing one message at `now`: its decisions use the snapshot in use at
/// the moment they are taken (one taken again after the store found it behind the stored
/// licence statuses uses the snapshot that caught up).
pub fn build(
    gateway: &GatewaySettings,
    reference: Arc<Reference>,
    renderer: Arc<dyn Renderer>,
    now: DateTime<Utc>,
) -> Ctx {
    let today = thai_date(now);
    let issuer = gateway.issuer_tax_number;
    let catching_up = reference.clone();
    Ctx {
        today,
        now,
        authority_tax_number: issuer,
        authority_name: gateway.issuer_name.clone(),
        decide: Arc::new(move |req: &ImportPermitRequest, usage: &dyn StoreUsage| {
            let cur = reference.current_or_empty();
            (
                engine::decide(req, &cur.snapshot, today, &Usage(usage)),
                cur.mark,
            )
        }),
        catch_up: Arc::new(move |after: StatusMark, changes: &[StoredStatus]| {
            catching_up.catch_up(after, changes)
        }),
        match_line: Arc::new(match_line),
        renderer,
    }
}

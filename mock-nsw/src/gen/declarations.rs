//! Customs declarations against permits mock-nsw obtained (spec §3.3): write-offs split into
//! parts that together never exceed what was approved, and declarations built to be refused
//! (a quantity above the approved one, a mismatched field, an unknown permit), each with the
//! answer the contract requires.
//!
//! Expectations hold whatever order the declarations of one permit arrive in: the parts of a
//! write-off add up to at most the approved quantity, and every refused declaration is refused
//! on its own content (all or nothing: it writes nothing off).

use std::fmt;

use chrono::NaiveDate;
use nsw_gateway::domain::{
    Amount, Country, DeclarationCheck, DeclarationCheckResponse, DeclarationLine,
    DeclarationResult, HsCode, ImportPermitResponse, ItemStatus, LineResult, PartyKey, Permit,
    PermitNumber, Quantity, ReasonCode, RequestDecision, TaxNumber,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::requests::Mismatch;

/// One item of an issued permit, as Customs matches against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitItem {
    pub invoice_item_number: u16,
    pub hs_code: HsCode,
    pub country_of_origin: Country,
    /// The approved quantity.
    pub quantity: Quantity,
    /// HOLD_FOR_INSPECTION: lines against it answer HOLD until an officer releases it.
    pub held: bool,
}

/// A permit the gateway issued to mock-nsw's importer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObtainedPermit {
    pub importer: PartyKey,
    /// The decision the permit was issued with (APPROVED or HOLD_FOR_INSPECTION).
    pub decision: RequestDecision,
    pub authority_tax_number: TaxNumber,
    pub permit: Permit,
    pub items: Vec<PermitItem>,
}

impl ObtainedPermit {
    /// The permit in a response to `importer`, when one was issued.
    pub fn from_response(importer: PartyKey, resp: &ImportPermitResponse) -> Option<Self> {
        let permit = resp.permit.clone()?;
        let items = resp
            .items
            .iter()
            .filter_map(|r| {
                let q = r.approved_quantity.clone()?;
                Some(PermitItem {
                    invoice_item_number: r.invoice_item_number,
                    hs_code: r.hs_code.clone(),
                    country_of_origin: r.country_of_origin,
                    quantity: q,
                    held: r.status == ItemStatus::HoldForInspection,
                })
            })
            .collect::<Vec<_>>();
        (!items.is_empty()).then_some(Self {
            importer,
            decision: resp.decision,
            authority_tax_number: resp.issuing_authority_tax_number,
            permit,
            items,
        })
    }

    /// A declaration line for `item` with `amount` of its unit, every matching field as the
    /// permit has it.
    pub fn line(&self, line_number: u16, item: &PermitItem, amount: Amount) -> DeclarationLine {
        DeclarationLine {
            line_number,
            permit_number: self.permit.number,
            permit_issue_date: self.permit.issue_date,
            issuing_authority_tax_number: self.authority_tax_number,
            invoice_number: self.permit.invoice_number.clone(),
            invoice_date: self.permit.invoice_date,
            invoice_item_number: item.invoice_item_number,
            hs_code: item.hs_code.clone(),
            quantity: Quantity {
                amount,
                unit: item.quantity.unit.clone(),
            },
            load_port: self.permit.load_port,
            discharge_port: self.permit.discharge_port,
            country_of_origin: item.country_of_origin,
        }
    }
}

/// What the contract requires for one declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDeclaration {
    pub result: DeclarationResult,
    /// Per line: its result and a reason code that must be given (if any).
    pub lines: Vec<(LineResult, Option<ReasonCode>)>,
}

impl ExpectedDeclaration {
    pub fn compare(&self, got: &DeclarationCheckResponse) -> Result<(), Mismatch> {
        let mut diffs = Vec::new();
        if got.result != self.result {
            diffs.push(format!(
                "result: want {}, got {}",
                self.result.code(),
                got.result.code()
            ));
        }
        if got.lines.len() != self.lines.len() {
            diffs.push(format!(
                "lines: want {}, got {}",
                self.lines.len(),
                got.lines.len()
            ));
        }
        for (i, ((want, reason), g)) in self.lines.iter().zip(&got.lines).enumerate() {
            let n = i + 1;
            if g.result != *want {
                diffs.push(format!(
                    "line {n}: want {}, got {}",
                    want.code(),
                    g.result.code()
                ));
            }
            if let Some(r) = reason {
                if !g.reasons.iter().any(|x| x.code == *r) {
                    diffs.push(format!("line {n}: reason {} missing", r.code()));
                }
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(Mismatch(diffs.join("; ")))
        }
    }
}

/// A generated declaration and its required answer.
#[derive(Debug, Clone)]
pub struct GeneratedDeclaration {
    pub check: DeclarationCheck,
    pub expected: ExpectedDeclaration,
}

impl fmt::Display for GeneratedDeclaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "declaration {}", self.check.declaration_number)
    }
}

/// How a generated declaration is built to fare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationKind {
    /// One part of a write-off (all lines MATCHED).
    WriteOff,
    /// A line above the approved quantity (QUANTITY_EXCEEDED, REFUSED).
    Exceeding,
    /// A line whose invoice number differs from the permit (MISMATCH, REFUSED).
    Mismatched,
    /// A line against a permit number that was never issued (PERMIT_NOT_FOUND, REFUSED).
    UnknownPermit,
}

/// Builds declarations, deterministically for a seed.
pub struct DeclarationGen {
    rng: ChaCha8Rng,
    serial: u64,
    prefix: String,
    today: NaiveDate,
}

/// Splits `total` (thousandths) into `parts` positive amounts that add up to at most `total`
/// (whole units when the total allows it).
pub fn split(total: u64, parts: usize, rng: &mut impl Rng) -> Vec<u64> {
    if total == 0 {
        return Vec::new();
    }
    let parts = parts.max(1) as u64;
    let unit = if total >= parts * 1000 { 1000 } else { 1 };
    let units = total / unit;
    let parts = parts.min(units.max(1));
    // Cut points among `units`, distinct, sorted.
    let mut cuts: Vec<u64> = Vec::with_capacity(parts as usize + 1);
    cuts.push(0);
    while cuts.len() < parts as usize {
        let c = rng.gen_range(1..units);
        if !cuts.contains(&c) {
            cuts.push(c);
        }
    }
    cuts.push(units);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| (w[1] - w[0]) * unit).collect()
}

impl DeclarationGen {
    /// Declaration numbers are `A{tag}{serial}`: the gateway remembers them across runs, so
    /// each run needs its own tag (at most 20 characters).
    pub fn new(seed: u64, tag: &str, today: NaiveDate) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xDEC1_A4A7),
            serial: 0,
            prefix: format!("A{}", tag.chars().take(20).collect::<String>()),
            today,
        }
    }

    fn number(&mut self) -> String {
        self.serial += 1;
        format!("{}{:010}", self.prefix, self.serial)
    }

    fn declaration(&mut self, p: &ObtainedPermit, lines: Vec<DeclarationLine>) -> DeclarationCheck {
        DeclarationCheck {
            declaration_number: self.number(),
            declaration_date: self.today,
            importer: p.importer,
            arrival_date: p.permit.arrival_date,
            lines,
        }
    }

    /// Writes off the permit's approved (not held) items in `parts` declarations; each
    /// declaration has one line per item.
    pub fn write_off(&mut self, p: &ObtainedPermit, parts: usize) -> Vec<GeneratedDeclaration> {
        let items: Vec<&PermitItem> = p.items.iter().filter(|i| !i.held).collect();
        if items.is_empty() {
            return Vec::new();
        }
        let splits: Vec<Vec<u64>> = items
            .iter()
            .map(|i| split(i.quantity.amount.milli(), parts, &mut self.rng))
            .collect();
        let n = splits.iter().map(Vec::len).max().unwrap_or(0);
        (0..n)
            .map(|k| {
                let lines: Vec<DeclarationLine> = items
                    .iter()
                    .zip(&splits)
                    .filter_map(|(it, s)| s.get(k).map(|a| (it, *a)))
                    .enumerate()
                    .map(|(j, (it, a))| p.line((j + 1) as u16, it, Amount::from_milli(a)))
                    .collect();
                let expected = ExpectedDeclaration {
                    result: DeclarationResult::Accepted,
                    lines: vec![(LineResult::Matched, None); lines.len()],
                };
                GeneratedDeclaration {
                    check: self.declaration(p, lines),
                    expected,
                }
            })
            .collect()
    }

    /// A declaration built to be refused in the given way (`WriteOff` gives a whole write-off
    /// of the first approved item).
    pub fn refused(
        &mut self,
        p: &ObtainedPermit,
        kind: DeclarationKind,
    ) -> Option<GeneratedDeclaration> {
        let it = p.items.iter().find(|i| !i.held)?;
        let mut line = p.line(1, it, it.quantity.amount);
        let expected = match kind {
            DeclarationKind::WriteOff => (DeclarationResult::Accepted, LineResult::Matched, None),
            DeclarationKind::Exceeding => {
                let extra = 1000 * self.rng.gen_range(1..50);
                line.quantity.amount = Amount::from_milli(it.quantity.amount.milli() + extra);
                (
                    DeclarationResult::Refused,
                    LineResult::QuantityExceeded,
                    Some(ReasonCode::QuantityExceeded),
                )
            }
            DeclarationKind::Mismatched => {
                line.invoice_number = format!("{}-X", p.permit.invoice_number);
                (
                    DeclarationResult::Refused,
                    LineResult::Mismatch,
                    Some(ReasonCode::FieldMismatch),
                )
            }
            DeclarationKind::UnknownPermit => {
                line.permit_number =
                    PermitNumber::new(p.permit.number.year_be, PermitNumber::MAX_SERIAL)
                        .expect("valid");
                (
                    DeclarationResult::Refused,
                    LineResult::PermitNotFound,
                    Some(ReasonCode::PermitNotFound),
                )
            }
        };
        Some(GeneratedDeclaration {
            check: self.declaration(p, vec![line]),
            expected: ExpectedDeclaration {
                result: expected.0,
                lines: vec![(expected.1, expected.2)],
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use nsw_gateway::domain::{Branch, Port, UnitCode};

    use super::*;

    fn permit() -> ObtainedPermit {
        let d = |s| nsw_gateway::domain::parse_date(s).unwrap();
        let q = |m, u: &str| Quantity {
            amount: Amount::from_milli(m),
            unit: UnitCode::parse(u).unwrap(),
        };
        ObtainedPermit {
            importer: PartyKey {
                tax_number: TaxNumber::parse("0105536112014").unwrap(),
                branch: Branch::HEAD_OFFICE,
            },
            decision: RequestDecision::HoldForInspection,
            authority_tax_number: TaxNumber::parse("0994000617721").unwrap(),
            permit: Permit {
                number: PermitNumber::parse("TISI-P-2569-00000042").unwrap(),
                issue_date: d("2026-11-26"),
                effective_date: d("2026-11-26"),
                expiry_date: d("2027-03-01"),
                arrival_date: d("2026-12-10"),
                invoice_number: "INV-1".into(),
                invoice_date: d("2026-11-20"),
                load_port: Port::parse("CNSHA").unwrap(),
                discharge_port: Port::parse("THBKK").unwrap(),
                country_of_destination: Country::TH,
            },
            items: vec![
                PermitItem {
                    invoice_item_number: 1,
                    hs_code: HsCode::parse("85044090").unwrap(),
                    country_of_origin: Country::parse("CN").unwrap(),
                    quantity: q(100_000, "C62"),
                    held: false,
                },
                PermitItem {
                    invoice_item_number: 2,
                    hs_code: HsCode::parse("85167100").unwrap(),
                    country_of_origin: Country::parse("CN").unwrap(),
                    quantity: q(2_500, "KGM"),
                    held: false,
                },
                PermitItem {
                    invoice_item_number: 3,
                    hs_code: HsCode::parse("40111000").unwrap(),
                    country_of_origin: Country::parse("JP").unwrap(),
                    quantity: q(8_000, "C62"),
                    held: true,
                },
            ],
        }
    }

    #[test]
    fn splits_are_positive_and_never_exceed_the_total() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let check = |total: u64, parts: usize, rng: &mut ChaCha8Rng| {
            let s = split(total, parts, rng);
            assert!(
                !s.is_empty() && s.len() <= parts.max(1),
                "{total}/{parts}: {s:?}"
            );
            assert!(s.iter().all(|&x| x > 0), "{total}/{parts}: {s:?}");
            assert_eq!(
                s.iter().sum::<u64>(),
                total
                    - total
                        % if total >= parts as u64 * 1000 {
                            1000
                        } else {
                            1
                        }
            );
        };
        for (t, p) in [
            (100_000, 3),
            (2_500, 2),
            (1, 4),
            (3, 3),
            (1_000, 1),
            (999_999_999_999, 7),
            (5_000, 5),
        ] {
            check(t, p, &mut rng);
        }
    }

    #[test]
    fn write_off_parts_cover_the_unheld_items() {
        let p = permit();
        let mut g = DeclarationGen::new(1, "T1", p.permit.issue_date);
        let decls = g.write_off(&p, 3);
        assert!(!decls.is_empty() && decls.len() <= 3);
        let mut per_item = [0u64; 3];
        for d in &decls {
            assert_eq!(d.expected.result, DeclarationResult::Accepted);
            assert_eq!(d.check.importer, p.importer);
            for l in &d.check.lines {
                assert_ne!(l.invoice_item_number, 3, "held items are not written off");
                per_item[l.invoice_item_number as usize - 1] += l.quantity.amount.milli();
            }
        }
        assert!(per_item[0] <= 100_000 && per_item[0] > 0);
        assert!(per_item[1] <= 2_500 && per_item[1] > 0);
        let numbers: std::collections::HashSet<_> =
            decls.iter().map(|d| &d.check.declaration_number).collect();
        assert_eq!(numbers.len(), decls.len());
    }

    #[test]
    fn refused_declarations_say_why() {
        let p = permit();
        let mut g = DeclarationGen::new(1, "T1", p.permit.issue_date);
        let check = |g: &mut DeclarationGen, k, result, line| {
            let d = g.refused(&p, k).unwrap();
            assert_eq!(d.expected.result, result, "{k:?}");
            assert_eq!(d.expected.lines[0].0, line, "{k:?}");
            d
        };
        let d = check(
            &mut g,
            DeclarationKind::Exceeding,
            DeclarationResult::Refused,
            LineResult::QuantityExceeded,
        );
        assert!(d.check.lines[0].quantity.amount.milli() > 100_000);
        let d = check(
            &mut g,
            DeclarationKind::Mismatched,
            DeclarationResult::Refused,
            LineResult::Mismatch,
        );
        assert_eq!(d.check.lines[0].invoice_number, "INV-1-X");
        let d = check(
            &mut g,
            DeclarationKind::UnknownPermit,
            DeclarationResult::Refused,
            LineResult::PermitNotFound,
        );
        assert_ne!(d.check.lines[0].permit_number, p.permit.number);
        check(
            &mut g,
            DeclarationKind::WriteOff,
            DeclarationResult::Accepted,
            LineResult::Matched,
        );
    }
}

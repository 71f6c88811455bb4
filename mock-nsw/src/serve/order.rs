//! Order of asynchronous replies per ConversationId.
//!
//! The gateway must deliver in order per conversation (spec §5). The receiving endpoint judges
//! each reply by, in this order of preference:
//! 1. its `eb:MessageOrder/eb:SequenceNumber`, when present: per conversation the numbers must
//!    run 0, 1, 2, … (a higher number than the next one expected is a gap, a lower one arrives out
//!    of order);
//! 2. its `RefToMessageId`, when the requests of that conversation were registered in the order
//!    they were sent (by the load engine in the same process, or `POST /control/expect`): the
//!    reply to the k-th request must come after the replies to requests 0..k;
//! 3. otherwise the order cannot be judged (`unknown`).

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

/// How one reply stands with respect to the order of its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "order")]
pub enum Placement {
    /// The next one expected.
    InOrder,
    /// Later than expected: `missing` earlier replies have not arrived yet.
    Gap { missing: u64 },
    /// An earlier reply arriving after a later one.
    OutOfOrder,
    /// Nothing to judge it by.
    Unknown,
}

#[derive(Debug, Default)]
struct Conversation {
    /// MessageIds of the requests, in send order.
    sent: Vec<String>,
    /// Positions (or sequence numbers) received so far.
    received: BTreeSet<u64>,
    highest: Option<u64>,
}

#[derive(Debug, Default)]
pub struct OrderTracker {
    conversations: HashMap<String, Conversation>,
    /// Request MessageId → (conversation, position).
    positions: HashMap<String, (String, u64)>,
}

impl OrderTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a request sent on `conversation`, after the ones registered before it.
    pub fn expect(&mut self, conversation: &str, message_id: &str) {
        let c = self
            .conversations
            .entry(conversation.to_owned())
            .or_default();
        let pos = c.sent.len() as u64;
        c.sent.push(message_id.to_owned());
        self.positions
            .insert(message_id.to_owned(), (conversation.to_owned(), pos));
    }

    /// Judges a reply on `conversation` to request `ref_to`, with its sequence number if any.
    pub fn observe(
        &mut self,
        conversation: &str,
        ref_to: Option<&str>,
        sequence: Option<u64>,
    ) -> Placement {
        let pos = match sequence {
            Some(s) => s,
            None => match ref_to.and_then(|r| self.positions.get(r)) {
                Some((conv, p)) if conv == conversation => *p,
                _ => return Placement::Unknown,
            },
        };
        let c = self
            .conversations
            .entry(conversation.to_owned())
            .or_default();
        let placement = match c.highest {
            Some(h) if pos < h => Placement::OutOfOrder,
            _ => {
                let missing = pos - c.received.range(..pos).count() as u64;
                if missing == 0 {
                    Placement::InOrder
                } else {
                    Placement::Gap { missing }
                }
            }
        };
        c.received.insert(pos);
        c.highest = Some(c.highest.map_or(pos, |h| h.max(pos)));
        placement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> OrderTracker {
        let mut t = OrderTracker::new();
        for m in ["a0", "a1", "a2", "a3"] {
            t.expect("A", m);
        }
        t.expect("B", "b0");
        t
    }

    #[test]
    fn by_reference_to_the_requests_sent() {
        let mut t = tracker();
        let mut check = |conv: &str, r: &str, want: Placement| {
            assert_eq!(t.observe(conv, Some(r), None), want, "{conv} {r}");
        };
        check("A", "a0", Placement::InOrder);
        check("B", "b0", Placement::InOrder);
        check("A", "a2", Placement::Gap { missing: 1 });
        check("A", "a1", Placement::OutOfOrder);
        check("A", "a3", Placement::InOrder);
        check("A", "zz", Placement::Unknown);
        check("B", "a0", Placement::Unknown);
    }

    #[test]
    fn by_sequence_number() {
        let mut t = OrderTracker::new();
        let mut check = |seq: u64, want: Placement| {
            assert_eq!(t.observe("C", None, Some(seq)), want, "seq {seq}");
        };
        check(0, Placement::InOrder);
        check(1, Placement::InOrder);
        check(4, Placement::Gap { missing: 2 });
        check(2, Placement::OutOfOrder);
        check(3, Placement::OutOfOrder);
        check(5, Placement::InOrder);
    }

    #[test]
    fn nothing_registered_is_unknown() {
        let mut t = OrderTracker::new();
        assert_eq!(t.observe("D", Some("x"), None), Placement::Unknown);
        assert_eq!(t.observe("D", None, None), Placement::Unknown);
    }
}

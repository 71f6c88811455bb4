//! The reference snapshot that decisions use, and how it keeps up with licence status changes.
//!
//! A status change made through the admin API applies to the very next request, on every
//! instance that shares the database. The instance that made it brings its own snapshot up to
//! date before it answers. Any other instance finds out inside the transaction of its next
//! permit request: the store reads the changes stored after the snapshot's
//! [`StatusMark`](crate::store::StatusMark) in the same round trip as the message's claim (or
//! checks that there are none in the statement that writes a group), hands them to
//! [`Reference::catch_up`], and runs the message again.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;

use crate::domain::snapshot::Snapshot;
use crate::domain::RefData;
use crate::store::{StatusMark, StoredStatus};

/// A snapshot and the last stored licence status change it includes.
pub struct Current {
    pub snapshot: Arc<Snapshot>,
    pub mark: StatusMark,
}

/// The reference data in use; none until some is loaded.
pub struct Reference {
    current: ArcSwapOption<Current>,
    /// Held while the snapshot is replaced or catches up, so that changes apply once each and
    /// in the order they were stored.
    update: Mutex<()>,
    /// For documents that are not decided against reference data, before any is loaded.
    empty: Arc<Current>,
}

impl Reference {
    pub fn new(initial: Option<(Snapshot, StatusMark)>) -> Reference {
        let empty = Snapshot::build(RefData::default())
            .unwrap_or_else(|_| unreachable!("an empty reference data set is consistent"));
        let r = Reference {
            current: ArcSwapOption::empty(),
            update: Mutex::new(()),
            empty: Arc::new(Current {
                snapshot: Arc::new(empty),
                mark: StatusMark(0),
            }),
        };
        if let Some((snapshot, mark)) = initial {
            r.replace(snapshot, mark);
        }
        r
    }

    /// The snapshot in use and its mark.
    pub fn current(&self) -> Option<Arc<Current>> {
        self.current.load_full()
    }

    /// The snapshot in use, or an empty one before any is loaded.
    pub fn current_or_empty(&self) -> Arc<Current> {
        self.current().unwrap_or_else(|| self.empty.clone())
    }

    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    /// The mark of the snapshot in use; 0 before any is loaded.
    pub fn mark(&self) -> StatusMark {
        self.current
            .load()
            .as_ref()
            .map_or(StatusMark(0), |c| c.mark)
    }

    /// Puts a snapshot read from the store (or just stored) in use.
    pub fn replace(&self, snapshot: Snapshot, mark: StatusMark) {
        let _turn = self.update.lock().unwrap_or_else(PoisonError::into_inner);
        self.current.store(Some(Arc::new(Current {
            snapshot: Arc::new(snapshot),
            mark,
        })));
    }

    /// Applies `changes`, all those stored after `after` in the order they were stored, to
    /// the snapshot in use: those after its mark (those it includes already are skipped).
    /// When the snapshot in use is older than `after` (a reload put in use one read before
    /// some of the changes the snapshot before it had), the list misses changes it needs and
    /// nothing is applied: the next permit request's check reads them all from the snapshot's
    /// own mark. A change of a licence that the snapshot does not have (reference data loaded
    /// since, without it) is logged and passed over.
    pub fn catch_up(&self, after: StatusMark, changes: &[StoredStatus]) {
        let _turn = self.update.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(cur) = self.current.load_full() else {
            return;
        };
        if after > cur.mark {
            tracing::debug!(
                after = after.0,
                mark = cur.mark.0,
                "status changes read after a later mark than the snapshot's: left to the next check"
            );
            return;
        }
        let mut snapshot = None::<Snapshot>;
        let mut mark = cur.mark;
        for ch in changes.iter().filter(|ch| ch.mark > cur.mark) {
            let base = snapshot.as_ref().unwrap_or(&cur.snapshot);
            match base.with_licence_status(&ch.number, ch.status, ch.since) {
                Ok(next) => snapshot = Some(next),
                Err(_) => tracing::error!(
                    licence = %ch.number,
                    "a stored licence status change names a licence the snapshot in use does not have"
                ),
            }
            mark = mark.max(ch.mark);
        }
        if mark == cur.mark {
            return;
        }
        tracing::info!(
            from = cur.mark.0,
            to = mark.0,
            "reference data caught up with licence status changes"
        );
        self.current.store(Some(Arc::new(Current {
            snapshot: snapshot.map_or_else(|| cur.snapshot.clone(), Arc::new),
            mark,
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::snapshot::synthetic_refdata;
    use crate::domain::LicenceStatus;
    use chrono::NaiveDate;

    fn change(mark: i64, number: &str, status: LicenceStatus) -> StoredStatus {
        StoredStatus {
            mark: StatusMark(mark),
            number: number.into(),
            status,
            since: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        }
    }

    fn status(r: &Reference, number: &str) -> &'static str {
        r.current()
            .unwrap()
            .snapshot
            .licence(number)
            .unwrap()
            .status()
            .code()
    }

    #[test]
    fn changes_apply_once_each_in_the_order_stored() {
        let data = synthetic_refdata(10);
        let number = data.licences[0].number.clone();
        let r = Reference::new(Some((Snapshot::build(data).unwrap(), StatusMark(3))));
        // Marks up to 3 are in the snapshot already.
        r.catch_up(StatusMark(2), &[change(3, &number, LicenceStatus::Revoked)]);
        assert_eq!((status(&r, &number), r.mark()), ("ACTIVE", StatusMark(3)));
        let four_to_six = [
            change(4, &number, LicenceStatus::Suspended),
            change(5, &number, LicenceStatus::Active),
            change(6, "NO-SUCH-LICENCE", LicenceStatus::Revoked),
        ];
        r.catch_up(StatusMark(3), &four_to_six);
        assert_eq!((status(&r, &number), r.mark()), ("ACTIVE", StatusMark(6)));
        // A list read from an older mark: what is in use already is not applied again.
        let four_and_seven = [
            change(4, &number, LicenceStatus::Suspended),
            change(7, &number, LicenceStatus::Revoked),
        ];
        r.catch_up(StatusMark(3), &four_and_seven);
        assert_eq!((status(&r, &number), r.mark()), ("REVOKED", StatusMark(7)));
    }

    /// A reload can put in use a snapshot read before changes that the one before it had
    /// (its mark goes down); a list read after the higher mark misses changes the new
    /// snapshot needs, and is not applied: the next check reads from the snapshot's own mark.
    #[test]
    fn a_list_that_misses_changes_the_snapshot_needs_is_not_applied() {
        let data = synthetic_refdata(10);
        let (x, y) = (
            data.licences[0].number.clone(),
            data.licences[1].number.clone(),
        );
        let r = Reference::new(Some((
            Snapshot::build(data.clone()).unwrap(),
            StatusMark(12),
        )));
        r.replace(Snapshot::build(data).unwrap(), StatusMark(10));
        r.catch_up(StatusMark(12), &[change(13, &y, LicenceStatus::Suspended)]);
        assert_eq!((status(&r, &y), r.mark()), ("ACTIVE", StatusMark(10)));
        r.catch_up(
            StatusMark(10),
            &[
                change(11, &x, LicenceStatus::Suspended),
                change(12, &x, LicenceStatus::Revoked),
                change(13, &y, LicenceStatus::Suspended),
            ],
        );
        assert_eq!(
            (status(&r, &x), status(&r, &y), r.mark()),
            ("REVOKED", "SUSPENDED", StatusMark(13))
        );
    }

    #[test]
    fn nothing_to_catch_up_before_a_snapshot_is_loaded() {
        let r = Reference::new(None);
        r.catch_up(StatusMark(0), &[change(1, "X", LicenceStatus::Revoked)]);
        assert!(!r.is_loaded());
        assert_eq!(r.mark(), StatusMark(0));
    }
}

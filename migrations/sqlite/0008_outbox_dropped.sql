-- A dead letter holds back the later rows of its conversation until an operator replays it
-- or drops it (delivery in order per conversation). A drop is recorded here, so that a row
-- the operator took out of delivery no longer holds anything back.
ALTER TABLE outbox ADD COLUMN dropped_at TEXT;

-- Rows dropped before: the last operator action on them was the drop.
UPDATE outbox SET dropped_at = (
    SELECT a.at FROM admin_audit a WHERE a.target = 'outbox/' || outbox.id
    ORDER BY a.id DESC LIMIT 1)
WHERE status = 'DEAD' AND (
    SELECT a.action FROM admin_audit a WHERE a.target = 'outbox/' || outbox.id
    ORDER BY a.id DESC LIMIT 1) = 'drop';

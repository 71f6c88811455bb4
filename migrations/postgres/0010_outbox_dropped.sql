-- A dead letter holds back the later rows of its conversation until an operator replays it
-- or drops it (delivery in order per conversation). A drop is recorded here, so that a row
-- the operator took out of delivery no longer holds anything back.
ALTER TABLE outbox ADD COLUMN dropped_at TIMESTAMPTZ;

-- Rows dropped before: the last operator action on them was the drop.
UPDATE outbox o SET dropped_at = last.at
FROM (
    SELECT DISTINCT ON (target) target, at, action FROM admin_audit
    WHERE target LIKE 'outbox/%' ORDER BY target, id DESC
) last
WHERE last.target = 'outbox/' || o.id AND last.action = 'drop' AND o.status = 'DEAD';

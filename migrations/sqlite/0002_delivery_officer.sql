-- Asynchronous delivery: who holds a claimed row, and an audit of operator actions.
ALTER TABLE outbox ADD COLUMN lease_token TEXT;
ALTER TABLE outbox ADD COLUMN last_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN last_http_status INTEGER;
-- When the row last entered the queue (insert or replay); the delivery age counts from it.
ALTER TABLE outbox ADD COLUMN queued_at TEXT;
CREATE INDEX outbox_by_conversation ON outbox (conversation_id, conversation_seq);

-- Every operator or officer action on the admin API or the command line.
CREATE TABLE admin_audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX admin_audit_by_target ON admin_audit (target);

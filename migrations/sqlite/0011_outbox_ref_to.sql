-- The message a queued response answers (a permit request's, for its own answer and for an
-- officer's decision on it): when a cancellation or replacement makes the request outdated,
-- its responses still waiting to be sent are taken out of delivery.
ALTER TABLE outbox ADD COLUMN ref_to_message_id TEXT;
CREATE INDEX outbox_by_ref_to ON outbox (ref_to_message_id);

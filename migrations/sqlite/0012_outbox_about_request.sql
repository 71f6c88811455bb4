-- A queued ImportPermitResponse is marked with the request it is about (its RequestId), not
-- with the message it answers: a resend of a request's content under a new MessageId is
-- answered with that request's decision, and is outdated by its cancellation as well.
DROP INDEX outbox_by_ref_to;
ALTER TABLE outbox DROP COLUMN ref_to_message_id;
ALTER TABLE outbox ADD COLUMN about_request_id TEXT;
CREATE INDEX outbox_by_request ON outbox (about_request_id);

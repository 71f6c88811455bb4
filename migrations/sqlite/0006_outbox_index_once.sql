-- outbox_by_conversation repeated the index of the unique key (conversation_id,
-- conversation_seq), column for column: every outbox row was indexed twice by the same key.
DROP INDEX outbox_by_conversation;

-- The `type` of the request's From and To PartyId, so that a response sent later (after an
-- officer's decision) addresses the same typed parties as a synchronous reply does.
ALTER TABLE messages ADD COLUMN from_party_type TEXT;
ALTER TABLE messages ADD COLUMN to_party_type TEXT;

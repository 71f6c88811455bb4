-- A request's message is stored once, in messages.raw (requests.message_id names it); the copy
-- in requests was never read.
ALTER TABLE requests DROP COLUMN raw_payload;

-- The unique key (importer_tax_number, importer_branch, reference, version) already serves
-- look-ups by reference.
DROP INDEX requests_by_reference;

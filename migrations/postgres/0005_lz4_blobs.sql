-- Stored messages, replies and outbox bodies are XML of a few kilobytes, which PostgreSQL
-- compresses when a row outgrows a page quarter. lz4 does that at a fraction of the CPU of
-- the default pglz. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE messages
        ALTER COLUMN raw SET COMPRESSION lz4,
        ALTER COLUMN reply_body SET COMPRESSION lz4;
    ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: stored messages stay compressed with pglz';
END
$$;

-- API keys of importers and brokers for the status API. Only the SHA-256 of a key is kept.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_sha256  TEXT NOT NULL,
    broker      TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- The importers (tax number + branch) a key may see.
CREATE TABLE api_key_importers (
    key_id      TEXT NOT NULL REFERENCES api_keys (id),
    tax_number  TEXT NOT NULL,
    branch      TEXT NOT NULL,
    PRIMARY KEY (key_id, tax_number, branch)
);

-- One importer's requests, newest first, for the keyset-paginated listing.
CREATE INDEX requests_by_importer ON requests (importer_tax_number, importer_branch, id);

-- Reference data (replaced whole by each load).
CREATE TABLE refdata_loads (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    loaded_at   TEXT NOT NULL
);
CREATE TABLE standards (
    reference            TEXT PRIMARY KEY,
    title_th             TEXT NOT NULL,
    title_en             TEXT NOT NULL,
    compulsory           INTEGER NOT NULL,
    in_force_from        TEXT NOT NULL,
    in_force_until       TEXT,
    hs_prefixes          TEXT NOT NULL,
    inspection_rate      INTEGER NOT NULL,
    test_report_required INTEGER NOT NULL
);
CREATE TABLE licences (
    number               TEXT PRIMARY KEY,
    licence_type         TEXT NOT NULL,
    holder_tax_number    TEXT NOT NULL,
    holder_branch        TEXT NOT NULL,
    holder_name          TEXT NOT NULL,
    standard             TEXT NOT NULL,
    brands               TEXT NOT NULL,
    models               TEXT NOT NULL,
    manufacturer         TEXT NOT NULL,
    manufacturer_country TEXT NOT NULL,
    issued_on            TEXT NOT NULL,
    expires_on           TEXT NOT NULL,
    status               TEXT NOT NULL,
    status_since         TEXT NOT NULL
);
CREATE TABLE licence_status_audit (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL,
    old_status  TEXT NOT NULL,
    new_status  TEXT NOT NULL,
    since       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE TABLE labs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    standards        TEXT NOT NULL,
    accredited_from  TEXT NOT NULL,
    accredited_until TEXT,
    status           TEXT NOT NULL
);
CREATE TABLE special_purposes (
    code                  TEXT PRIMARY KEY,
    description_th        TEXT NOT NULL,
    description_en        TEXT NOT NULL,
    valid_from            TEXT NOT NULL,
    valid_until           TEXT,
    max_quantity_milli    INTEGER,
    officer_review        INTEGER NOT NULL,
    test_report_required  INTEGER NOT NULL
);

-- Every accepted message, with the reply it got (exactly-once by message_id).
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    message_id         TEXT NOT NULL UNIQUE,
    conversation_id    TEXT NOT NULL,
    from_party         TEXT NOT NULL,
    to_party           TEXT NOT NULL,
    cpa_id             TEXT NOT NULL,
    service            TEXT NOT NULL,
    action             TEXT NOT NULL,
    received_at        TEXT NOT NULL,
    content_type       TEXT NOT NULL,
    raw                BLOB NOT NULL,
    ack_requested      INTEGER NOT NULL,
    sync_reply         INTEGER NOT NULL,
    packaging          TEXT NOT NULL,
    reply_status       INTEGER,
    reply_content_type TEXT,
    reply_body         BLOB
);

-- Permit requests. `version` is set for the requests that became a version of their
-- reference (1 = the original, then one more per replacement); rejected duplicates,
-- replacements of unknown references etc. have no version.
CREATE TABLE requests (
    id                     INTEGER PRIMARY KEY,
    request_id             TEXT NOT NULL UNIQUE,
    message_id             TEXT NOT NULL,
    importer_tax_number    TEXT NOT NULL,
    importer_branch        TEXT NOT NULL,
    importer_name          TEXT NOT NULL,
    importer_name_en       TEXT,
    agent_tax_number       TEXT,
    agent_branch           TEXT,
    agent_name             TEXT,
    reference              TEXT NOT NULL,
    version                INTEGER,
    function               TEXT NOT NULL,
    request_type           TEXT NOT NULL,
    content_hash           TEXT NOT NULL,
    arrival_date           TEXT NOT NULL,
    transport_mode         INTEGER NOT NULL,
    load_port              TEXT NOT NULL,
    discharge_port         TEXT NOT NULL,
    country_of_destination TEXT NOT NULL,
    invoice_number         TEXT NOT NULL,
    invoice_date           TEXT NOT NULL,
    usage_year             INTEGER NOT NULL,
    decision               TEXT NOT NULL,
    decided_at             TEXT NOT NULL,
    raw_payload            BLOB NOT NULL,
    UNIQUE (importer_tax_number, importer_branch, reference, version)
);
CREATE INDEX requests_by_reference ON requests (importer_tax_number, importer_branch, reference);

CREATE TABLE request_items (
    id                  INTEGER PRIMARY KEY,
    request_pk          INTEGER NOT NULL REFERENCES requests (id),
    item_number         INTEGER NOT NULL,
    invoice_item_number INTEGER NOT NULL,
    hs_code             TEXT NOT NULL,
    country_of_origin   TEXT NOT NULL,
    description         TEXT NOT NULL,
    brand               TEXT NOT NULL,
    model               TEXT NOT NULL,
    quantity_milli      INTEGER NOT NULL,
    unit                TEXT NOT NULL,
    special_purpose     TEXT,
    status              TEXT NOT NULL,
    standard            TEXT,
    approved_milli      INTEGER,
    approved_unit       TEXT,
    UNIQUE (request_pk, item_number)
);
CREATE INDEX request_items_by_purpose ON request_items (special_purpose) WHERE special_purpose IS NOT NULL;

CREATE TABLE item_reasons (
    id         INTEGER PRIMARY KEY,
    item_pk    INTEGER NOT NULL REFERENCES request_items (id),
    seq        INTEGER NOT NULL,
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    message_th TEXT NOT NULL,
    message_en TEXT NOT NULL
);
CREATE INDEX item_reasons_by_item ON item_reasons (item_pk);

-- Permit serials: one counter row, bumped inside the issuing transaction.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('permit_serial', 0);

CREATE TABLE permits (
    id                     INTEGER PRIMARY KEY,
    permit_number          TEXT NOT NULL UNIQUE,
    request_pk             INTEGER NOT NULL UNIQUE REFERENCES requests (id),
    status                 TEXT NOT NULL CHECK (status IN ('ACTIVE', 'CANCELLED')),
    holder_tax_number      TEXT NOT NULL,
    holder_branch          TEXT NOT NULL,
    issue_date             TEXT NOT NULL,
    effective_date         TEXT NOT NULL,
    expiry_date            TEXT NOT NULL,
    arrival_date           TEXT NOT NULL,
    invoice_number         TEXT NOT NULL,
    invoice_date           TEXT NOT NULL,
    load_port              TEXT NOT NULL,
    discharge_port         TEXT NOT NULL,
    country_of_destination TEXT NOT NULL,
    cancelled_at           TEXT
);

CREATE TABLE permit_items (
    id                  INTEGER PRIMARY KEY,
    permit_pk           INTEGER NOT NULL REFERENCES permits (id),
    item_pk             INTEGER NOT NULL REFERENCES request_items (id),
    item_number         INTEGER NOT NULL,
    invoice_item_number INTEGER NOT NULL,
    hs_code             TEXT NOT NULL,
    country_of_origin   TEXT NOT NULL,
    unit                TEXT NOT NULL,
    status              TEXT NOT NULL,
    approved_milli      INTEGER NOT NULL,
    written_off_milli   INTEGER NOT NULL DEFAULT 0,
    CHECK (written_off_milli >= 0 AND written_off_milli <= approved_milli)
);
CREATE INDEX permit_items_by_permit ON permit_items (permit_pk, invoice_item_number);

CREATE TABLE history (
    id          INTEGER PRIMARY KEY,
    request_pk  INTEGER NOT NULL REFERENCES requests (id),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason_th   TEXT NOT NULL,
    reason_en   TEXT NOT NULL
);
CREATE INDEX history_by_request ON history (request_pk);

CREATE TABLE declarations (
    id                  INTEGER PRIMARY KEY,
    declaration_number  TEXT NOT NULL UNIQUE,
    message_id          TEXT NOT NULL,
    importer_tax_number TEXT NOT NULL,
    importer_branch     TEXT NOT NULL,
    declaration_date    TEXT NOT NULL,
    arrival_date        TEXT NOT NULL,
    result              TEXT NOT NULL,
    checked_at          TEXT NOT NULL,
    restored_at         TEXT
);

CREATE TABLE declaration_lines (
    id                  INTEGER PRIMARY KEY,
    declaration_pk      INTEGER NOT NULL REFERENCES declarations (id),
    line_number         INTEGER NOT NULL,
    permit_number       TEXT NOT NULL,
    permit_item_pk      INTEGER REFERENCES permit_items (id),
    invoice_item_number INTEGER NOT NULL,
    quantity_milli      INTEGER NOT NULL,
    unit                TEXT NOT NULL,
    result              TEXT NOT NULL,
    remaining_milli     INTEGER,
    remaining_unit      TEXT
);
CREATE INDEX declaration_lines_by_declaration ON declaration_lines (declaration_pk);

CREATE TABLE line_reasons (
    id         INTEGER PRIMARY KEY,
    line_pk    INTEGER NOT NULL REFERENCES declaration_lines (id),
    seq        INTEGER NOT NULL,
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    message_th TEXT NOT NULL,
    message_en TEXT NOT NULL
);
CREATE INDEX line_reasons_by_line ON line_reasons (line_pk);

CREATE TABLE write_offs (
    id             INTEGER PRIMARY KEY,
    declaration_pk INTEGER NOT NULL REFERENCES declarations (id),
    permit_item_pk INTEGER NOT NULL REFERENCES permit_items (id),
    amount_milli   INTEGER NOT NULL CHECK (amount_milli > 0),
    restored       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX write_offs_by_declaration ON write_offs (declaration_pk);
CREATE INDEX write_offs_by_item ON write_offs (permit_item_pk);

-- Replies to deliver asynchronously, in order per conversation.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    message_id       TEXT NOT NULL UNIQUE,
    conversation_id  TEXT NOT NULL,
    conversation_seq INTEGER NOT NULL,
    partner          TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    body             BLOB NOT NULL,
    ack_requested    INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_FLIGHT', 'DONE', 'DEAD')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    done_at          TEXT,
    UNIQUE (conversation_id, conversation_seq)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

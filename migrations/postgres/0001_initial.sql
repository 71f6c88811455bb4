-- Reference data (replaced whole by each load).
CREATE TABLE refdata_loads (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    loaded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE standards (
    reference            TEXT PRIMARY KEY,
    title_th             TEXT NOT NULL,
    title_en             TEXT NOT NULL,
    compulsory           BOOLEAN NOT NULL,
    in_force_from        DATE NOT NULL,
    in_force_until       DATE,
    hs_prefixes          TEXT NOT NULL,
    inspection_rate      BIGINT NOT NULL,
    test_report_required BOOLEAN NOT NULL
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
    issued_on            DATE NOT NULL,
    expires_on           DATE NOT NULL,
    status               TEXT NOT NULL,
    status_since         DATE NOT NULL
);
CREATE TABLE licence_status_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number      TEXT NOT NULL,
    old_status  TEXT NOT NULL,
    new_status  TEXT NOT NULL,
    since       DATE NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE TABLE labs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    standards        TEXT NOT NULL,
    accredited_from  DATE NOT NULL,
    accredited_until DATE,
    status           TEXT NOT NULL
);
CREATE TABLE special_purposes (
    code                  TEXT PRIMARY KEY,
    description_th        TEXT NOT NULL,
    description_en        TEXT NOT NULL,
    valid_from            DATE NOT NULL,
    valid_until           DATE,
    max_quantity_milli    BIGINT,
    officer_review        BOOLEAN NOT NULL,
    test_report_required  BOOLEAN NOT NULL
);

-- Every accepted message, with the reply it got (exactly-once by message_id).
CREATE TABLE messages (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id         TEXT NOT NULL UNIQUE,
    conversation_id    TEXT NOT NULL,
    from_party         TEXT NOT NULL,
    to_party           TEXT NOT NULL,
    cpa_id             TEXT NOT NULL,
    service            TEXT NOT NULL,
    action             TEXT NOT NULL,
    received_at        TIMESTAMPTZ NOT NULL,
    content_type       TEXT NOT NULL,
    raw                BYTEA NOT NULL,
    ack_requested      BOOLEAN NOT NULL,
    sync_reply         BOOLEAN NOT NULL,
    packaging          TEXT NOT NULL,
    reply_status       BIGINT,
    reply_content_type TEXT,
    reply_body         BYTEA
);

-- Permit requests. `version` is set for the requests that became a version of their
-- reference (1 = the original, then one more per replacement); rejected duplicates,
-- replacements of unknown references etc. have no version.
CREATE TABLE requests (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    version                BIGINT,
    function               TEXT NOT NULL,
    request_type           TEXT NOT NULL,
    content_hash           TEXT NOT NULL,
    arrival_date           DATE NOT NULL,
    transport_mode         BIGINT NOT NULL,
    load_port              TEXT NOT NULL,
    discharge_port         TEXT NOT NULL,
    country_of_destination TEXT NOT NULL,
    invoice_number         TEXT NOT NULL,
    invoice_date           DATE NOT NULL,
    usage_year             BIGINT NOT NULL,
    decision               TEXT NOT NULL,
    decided_at             TIMESTAMPTZ NOT NULL,
    raw_payload            BYTEA NOT NULL,
    UNIQUE (importer_tax_number, importer_branch, reference, version)
);
CREATE INDEX requests_by_reference ON requests (importer_tax_number, importer_branch, reference);

CREATE TABLE request_items (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_pk          BIGINT NOT NULL REFERENCES requests (id),
    item_number         BIGINT NOT NULL,
    invoice_item_number BIGINT NOT NULL,
    hs_code             TEXT NOT NULL,
    country_of_origin   TEXT NOT NULL,
    description         TEXT NOT NULL,
    brand               TEXT NOT NULL,
    model               TEXT NOT NULL,
    quantity_milli      BIGINT NOT NULL,
    unit                TEXT NOT NULL,
    special_purpose     TEXT,
    status              TEXT NOT NULL,
    standard            TEXT,
    approved_milli      BIGINT,
    approved_unit       TEXT,
    UNIQUE (request_pk, item_number)
);
CREATE INDEX request_items_by_purpose ON request_items (special_purpose) WHERE special_purpose IS NOT NULL;

CREATE TABLE item_reasons (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_pk    BIGINT NOT NULL REFERENCES request_items (id),
    seq        BIGINT NOT NULL,
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    message_th TEXT NOT NULL,
    message_en TEXT NOT NULL
);
CREATE INDEX item_reasons_by_item ON item_reasons (item_pk);

-- Permit serials: a sequence (never reused, shared by every instance).
CREATE SEQUENCE permit_serial MINVALUE 1 MAXVALUE 99999999 NO CYCLE;

CREATE TABLE permits (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    permit_number          TEXT NOT NULL UNIQUE,
    request_pk             BIGINT NOT NULL UNIQUE REFERENCES requests (id),
    status                 TEXT NOT NULL CHECK (status IN ('ACTIVE', 'CANCELLED')),
    holder_tax_number      TEXT NOT NULL,
    holder_branch          TEXT NOT NULL,
    issue_date             DATE NOT NULL,
    effective_date         DATE NOT NULL,
    expiry_date            DATE NOT NULL,
    arrival_date           DATE NOT NULL,
    invoice_number         TEXT NOT NULL,
    invoice_date           DATE NOT NULL,
    load_port              TEXT NOT NULL,
    discharge_port         TEXT NOT NULL,
    country_of_destination TEXT NOT NULL,
    cancelled_at           TIMESTAMPTZ
);

CREATE TABLE permit_items (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    permit_pk           BIGINT NOT NULL REFERENCES permits (id),
    item_pk             BIGINT NOT NULL REFERENCES request_items (id),
    item_number         BIGINT NOT NULL,
    invoice_item_number BIGINT NOT NULL,
    hs_code             TEXT NOT NULL,
    country_of_origin   TEXT NOT NULL,
    unit                TEXT NOT NULL,
    status              TEXT NOT NULL,
    approved_milli      BIGINT NOT NULL,
    written_off_milli   BIGINT NOT NULL DEFAULT 0,
    CHECK (written_off_milli >= 0 AND written_off_milli <= approved_milli)
);
CREATE INDEX permit_items_by_permit ON permit_items (permit_pk, invoice_item_number);

CREATE TABLE history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_pk  BIGINT NOT NULL REFERENCES requests (id),
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason_th   TEXT NOT NULL,
    reason_en   TEXT NOT NULL
);
CREATE INDEX history_by_request ON history (request_pk);

CREATE TABLE declarations (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    declaration_number  TEXT NOT NULL UNIQUE,
    message_id          TEXT NOT NULL,
    importer_tax_number TEXT NOT NULL,
    importer_branch     TEXT NOT NULL,
    declaration_date    DATE NOT NULL,
    arrival_date        DATE NOT NULL,
    result              TEXT NOT NULL,
    checked_at          TIMESTAMPTZ NOT NULL,
    restored_at         TIMESTAMPTZ
);

CREATE TABLE declaration_lines (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    declaration_pk      BIGINT NOT NULL REFERENCES declarations (id),
    line_number         BIGINT NOT NULL,
    permit_number       TEXT NOT NULL,
    permit_item_pk      BIGINT REFERENCES permit_items (id),
    invoice_item_number BIGINT NOT NULL,
    quantity_milli      BIGINT NOT NULL,
    unit                TEXT NOT NULL,
    result              TEXT NOT NULL,
    remaining_milli     BIGINT,
    remaining_unit      TEXT
);
CREATE INDEX declaration_lines_by_declaration ON declaration_lines (declaration_pk);

CREATE TABLE line_reasons (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_pk    BIGINT NOT NULL REFERENCES declaration_lines (id),
    seq        BIGINT NOT NULL,
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    message_th TEXT NOT NULL,
    message_en TEXT NOT NULL
);
CREATE INDEX line_reasons_by_line ON line_reasons (line_pk);

CREATE TABLE write_offs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    declaration_pk BIGINT NOT NULL REFERENCES declarations (id),
    permit_item_pk BIGINT NOT NULL REFERENCES permit_items (id),
    amount_milli   BIGINT NOT NULL CHECK (amount_milli > 0),
    restored       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX write_offs_by_declaration ON write_offs (declaration_pk);
CREATE INDEX write_offs_by_item ON write_offs (permit_item_pk);

-- Replies to deliver asynchronously, in order per conversation.
CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       TEXT NOT NULL UNIQUE,
    conversation_id  TEXT NOT NULL,
    conversation_seq BIGINT NOT NULL,
    partner          TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    body             BYTEA NOT NULL,
    ack_requested    BOOLEAN NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_FLIGHT', 'DONE', 'DEAD')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    done_at          TIMESTAMPTZ,
    UNIQUE (conversation_id, conversation_seq)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- The initial schema. Times are Unix microseconds (UTC); JSON is stored as text.

-- +goose Up
CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'active',
    last_active_at INTEGER,
    created_at     INTEGER NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    resource_id  TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE event_types (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    label        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    schema       TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE subscriptions (
    id                          TEXT PRIMARY KEY,
    workspace_id                TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                        TEXT NOT NULL,
    mode                        TEXT NOT NULL,
    url                         TEXT NOT NULL DEFAULT '',
    event_types                 TEXT NOT NULL,
    status                      TEXT NOT NULL,
    payload                     TEXT NOT NULL,
    format                      TEXT NOT NULL,
    headers                     TEXT NOT NULL,
    signature_scheme            TEXT NOT NULL,
    signature_header            TEXT NOT NULL,
    secret                      TEXT NOT NULL,
    previous_secret             TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at  INTEGER,
    timeout_seconds             INTEGER NOT NULL,
    failure_threshold           INTEGER NOT NULL,
    retry_schedule              TEXT,
    api_version                 TEXT,
    auth                        TEXT NOT NULL DEFAULT '',
    coalesce_by_subject         INTEGER NOT NULL DEFAULT 0,
    consecutive_failures        INTEGER NOT NULL DEFAULT 0,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);
CREATE INDEX subscriptions_workspace ON subscriptions (workspace_id, id);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    label        TEXT NOT NULL,
    data         TEXT NOT NULL,
    user_id      TEXT,
    subject      TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- The queue: only pending rows are in the due index, only sending rows in the lease index.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, status, created_at);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    request_url      TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_status  INTEGER,
    response_headers TEXT,
    response_body    TEXT,
    error            TEXT NOT NULL DEFAULT '',
    succeeded        INTEGER NOT NULL,
    test             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_subscription ON attempts (subscription_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE idempotency_keys (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE subscriptions;
DROP TABLE event_types;
DROP TABLE tokens;
DROP TABLE workspace_members;
DROP TABLE users;
DROP TABLE workspaces;

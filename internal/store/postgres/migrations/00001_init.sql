-- The initial schema, the same tables as the SQLite engine's. JSON documents
-- are kept as text so that event data comes back byte for byte.

-- +goose Up
CREATE TABLE workspaces (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id             text PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    name           text NOT NULL,
    role           text NOT NULL,
    password_hash  text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'active',
    last_active_at timestamptz,
    created_at     timestamptz NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE tokens (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users(id),
    kind         text NOT NULL,
    name         text NOT NULL,
    hash         text NOT NULL UNIQUE,
    resource_id  text,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE event_types (
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         text NOT NULL,
    label        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    schema       text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE subscriptions (
    id                          text PRIMARY KEY,
    workspace_id                text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                        text NOT NULL,
    mode                        text NOT NULL,
    url                         text NOT NULL DEFAULT '',
    event_types                 text NOT NULL,
    status                      text NOT NULL,
    payload                     text NOT NULL,
    format                      text NOT NULL,
    headers                     text NOT NULL,
    signature_scheme            text NOT NULL,
    signature_header            text NOT NULL,
    secret                      text NOT NULL,
    previous_secret             text NOT NULL DEFAULT '',
    previous_secret_expires_at  timestamptz,
    timeout_seconds             integer NOT NULL,
    failure_threshold           integer NOT NULL,
    retry_schedule              text,
    api_version                 text,
    auth                        text NOT NULL DEFAULT '',
    coalesce_by_subject         boolean NOT NULL DEFAULT false,
    consecutive_failures        integer NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX subscriptions_workspace ON subscriptions (workspace_id, id);

CREATE TABLE events (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type         text NOT NULL,
    label        text NOT NULL,
    data         text NOT NULL,
    user_id      text,
    subject      text,
    created_at   timestamptz NOT NULL
);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL,
    event_id        text NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    subscription_id text NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    lease_owner     text,
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- The queue: only pending rows are in the due index, only sending rows in the lease index.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, status, created_at);

CREATE TABLE attempts (
    id               text PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    subscription_id  text NOT NULL,
    workspace_id     text NOT NULL,
    created_at       timestamptz NOT NULL,
    duration_ms      bigint NOT NULL,
    request_url      text NOT NULL,
    request_headers  text NOT NULL,
    request_body     text NOT NULL,
    response_status  integer,
    response_headers text,
    response_body    text,
    error            text NOT NULL DEFAULT '',
    succeeded        boolean NOT NULL,
    test             boolean NOT NULL DEFAULT false
);
CREATE INDEX attempts_subscription ON attempts (subscription_id, id);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE idempotency_keys (
    workspace_id text NOT NULL,
    key          text NOT NULL,
    event_id     text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- Named leases: which node runs a singleton job (maintenance) until when.
CREATE TABLE leader_leases (
    name   text PRIMARY KEY,
    owner  text NOT NULL,
    until  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leader_leases;
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

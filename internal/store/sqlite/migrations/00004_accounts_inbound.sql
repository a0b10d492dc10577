-- Account upkeep, login sessions and inbound webhooks.
--
-- users_activity holds the active users only, by their last activity, so the
-- run that makes users inactive (every minute) reads just those it changes.
-- tokens_resource finds a webhook's app tokens.
--
-- An inbound webhook goes with its workspace, and its request log with it.
-- Its app tokens are no foreign key (a token's resource_id may also name a
-- pull subscription), so a trigger deletes them: a webhook deleted by any
-- path, such as its workspace's cascade, leaves no token behind to block
-- its owner's deletion.

-- +goose Up
CREATE INDEX users_activity ON users (coalesce(last_active_at, created_at)) WHERE status = 'active';
CREATE INDEX tokens_resource ON tokens (resource_id) WHERE resource_id IS NOT NULL;

CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE inbound_webhooks (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    auth          TEXT NOT NULL,
    username      TEXT NOT NULL DEFAULT '',
    event_type    TEXT NOT NULL,
    verify        TEXT,
    dedupe_header TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX inbound_webhooks_workspace ON inbound_webhooks (workspace_id, id);

-- +goose StatementBegin
CREATE TRIGGER inbound_webhooks_tokens AFTER DELETE ON inbound_webhooks
BEGIN
    DELETE FROM tokens WHERE resource_id = OLD.id;
END;
-- +goose StatementEnd

CREATE TABLE inbound_requests (
    id             TEXT PRIMARY KEY,
    inbound_id     TEXT NOT NULL REFERENCES inbound_webhooks(id) ON DELETE CASCADE,
    workspace_id   TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    status         INTEGER NOT NULL,
    error          TEXT NOT NULL DEFAULT '',
    event_id       TEXT,
    remote_addr    TEXT NOT NULL DEFAULT '',
    method         TEXT NOT NULL,
    headers        TEXT NOT NULL,
    body           TEXT NOT NULL,
    body_truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbound_requests_inbound ON inbound_requests (inbound_id, id);

-- +goose Down
DROP TABLE inbound_requests;
DROP TRIGGER inbound_webhooks_tokens;
DROP TABLE inbound_webhooks;
DROP TABLE sessions;
DROP INDEX tokens_resource;
DROP INDEX users_activity;

-- Account upkeep, login sessions and inbound webhooks, as in the SQLite
-- engine's schema.
--
-- users_activity holds the active users only, by their last activity, so the
-- run that makes users inactive (every minute) reads just those it changes.
-- tokens_resource finds a webhook's app tokens. Both tables are small (one
-- row per account or credential), so their indexes are built in the
-- migration's transaction rather than CONCURRENTLY.
--
-- An inbound webhook goes with its workspace, and its request log with it.
-- Its app tokens are no foreign key (a token's resource_id may also name a
-- pull subscription), so a trigger deletes them: a webhook deleted by any
-- path, such as its workspace's cascade, leaves no token behind to block
-- its owner's deletion.

-- +goose Up
CREATE INDEX users_activity ON users ((coalesce(last_active_at, created_at))) WHERE status = 'active';
CREATE INDEX tokens_resource ON tokens (resource_id) WHERE resource_id IS NOT NULL;

CREATE TABLE sessions (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE inbound_webhooks (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          text NOT NULL,
    auth          text NOT NULL,
    username      text NOT NULL DEFAULT '',
    event_type    text NOT NULL,
    verify        text,
    dedupe_header text NOT NULL DEFAULT '',
    status        text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX inbound_webhooks_workspace ON inbound_webhooks (workspace_id, id);

-- +goose StatementBegin
CREATE FUNCTION inbound_webhooks_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tokens WHERE resource_id = OLD.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER inbound_webhooks_tokens AFTER DELETE ON inbound_webhooks
    FOR EACH ROW EXECUTE FUNCTION inbound_webhooks_tokens();

CREATE TABLE inbound_requests (
    id             text PRIMARY KEY,
    inbound_id     text NOT NULL REFERENCES inbound_webhooks(id) ON DELETE CASCADE,
    workspace_id   text NOT NULL,
    received_at    timestamptz NOT NULL,
    status         integer NOT NULL,
    error          text NOT NULL DEFAULT '',
    event_id       text,
    remote_addr    text NOT NULL DEFAULT '',
    method         text NOT NULL,
    headers        text NOT NULL,
    body           text NOT NULL,
    body_truncated boolean NOT NULL DEFAULT false
);
CREATE INDEX inbound_requests_inbound ON inbound_requests (inbound_id, id);

-- +goose Down
DROP TABLE inbound_requests;
DROP TRIGGER inbound_webhooks_tokens ON inbound_webhooks;
DROP FUNCTION inbound_webhooks_tokens();
DROP TABLE inbound_webhooks;
DROP TABLE sessions;
DROP INDEX tokens_resource;
DROP INDEX users_activity;

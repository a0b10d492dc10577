-- Events listed per workspace, newest first (GET …/events). Built
-- concurrently, so that an upgrade does not block publishing.

-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_workspace ON events (workspace_id, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_workspace;

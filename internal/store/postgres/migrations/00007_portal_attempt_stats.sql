-- Portal sessions and the dashboard's delivery statistics.
--
-- sessions.workspace_id, when set, scopes a session to one workspace (a
-- customer-portal link), and the session goes with that workspace.
--
-- attempts_workspace lets AttemptStats read a workspace's recent attempts
-- by time instead of scanning the whole log. It is built concurrently, so
-- that an upgrade does not block delivery; outside a transaction, every
-- statement is safe to run again after a failure part way.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS workspace_id text REFERENCES workspaces(id) ON DELETE CASCADE;
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_workspace ON attempts (workspace_id, created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS attempts_workspace;
-- Portal sessions cannot become login sessions: they go.
DELETE FROM sessions WHERE workspace_id IS NOT NULL;
ALTER TABLE sessions DROP COLUMN IF EXISTS workspace_id;

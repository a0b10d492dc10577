-- Portal sessions and the dashboard's delivery statistics.
--
-- sessions.workspace_id, when set, scopes a session to one workspace (a
-- customer-portal link), and the session goes with that workspace. SQLite
-- allows ADD COLUMN with a REFERENCES clause because the default is NULL;
-- the foreign key is enforced like every other (_foreign_keys=on).
--
-- attempts_workspace lets AttemptStats read a workspace's recent attempts
-- by time instead of scanning the whole log.

-- +goose Up
ALTER TABLE sessions ADD COLUMN workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE;
CREATE INDEX attempts_workspace ON attempts (workspace_id, created_at);

-- +goose Down
DROP INDEX attempts_workspace;
-- A column in a foreign key cannot be dropped: the table is rebuilt as
-- 00004 made it (nothing refers to sessions, so dropping it is safe).
CREATE TABLE sessions_old (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO sessions_old (hash, user_id, created_at, expires_at)
    SELECT hash, user_id, created_at, expires_at FROM sessions WHERE workspace_id IS NULL;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

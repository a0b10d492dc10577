-- Events listed per workspace, newest first (GET …/events).

-- +goose Up
CREATE INDEX events_workspace ON events (workspace_id, id);

-- +goose Down
DROP INDEX events_workspace;

-- Retention deletes the oldest finished events first.

-- +goose Up
CREATE INDEX events_created ON events (created_at);

-- +goose Down
DROP INDEX events_created;

-- The W3C traceparent of the span that ingested an event, which its
-- delivery attempts continue, possibly on another node after a restart.
-- NULL when tracing is off. A nullable column without a default is added
-- without rewriting the table.

-- +goose Up
ALTER TABLE events ADD COLUMN IF NOT EXISTS trace_parent text;

-- +goose Down
ALTER TABLE events DROP COLUMN IF EXISTS trace_parent;

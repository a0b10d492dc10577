-- The W3C traceparent of the span that ingested an event, which its
-- delivery attempts continue, possibly on another node after a restart.
-- NULL when tracing is off.

-- +goose Up
ALTER TABLE events ADD COLUMN trace_parent TEXT;

-- +goose Down
ALTER TABLE events DROP COLUMN trace_parent;

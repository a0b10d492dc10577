-- Fewer index writes per delivery. A delivery's status changes two or three
-- times (pending or sending, then succeeded); an index that holds the status,
-- or whose partial condition it decides, is rewritten on each change. Only
-- the queue's own indexes (due, lease) should be.
--
-- deliveries_due also carries subscription_id, so the claim picks its window
-- from the index alone, without a table lookup per candidate row.
-- deliveries_subscription no longer holds the status: subscription_id and
-- created_at never change, so the entry is written once. Held deliveries,
-- which enable releases, get a partial index of their own; pending ones of a
-- subscription are found through deliveries_due.

-- +goose Up
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, subscription_id) WHERE status = 'pending';
DROP INDEX deliveries_subscription;
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, created_at);
CREATE INDEX deliveries_held ON deliveries (subscription_id) WHERE status = 'held';

-- +goose Down
DROP INDEX deliveries_held;
DROP INDEX deliveries_subscription;
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, status, created_at);
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

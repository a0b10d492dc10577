-- Delivery indexes that do not hold the status. A delivery's status changes
-- two or three times (pending or sending, then succeeded), and each change is
-- a new row version with a new entry in every index. An entry whose key holds
-- the status moves elsewhere each time; one whose key is unchanged goes among
-- the old versions' entries, which PostgreSQL then deletes in place instead of
-- splitting the page (the index stays less than half the size).
--
-- deliveries_subscription keys on subscription_id and created_at only, which
-- never change. Held deliveries, which enable releases, get a partial index of
-- their own. deliveries_due carries subscription_id, so the pending
-- deliveries of a subscription (holding them on pause or disable) are found
-- among the pending ones only.
--
-- The new indexes are built CONCURRENTLY under new names, then swapped in,
-- so that upgrading a node does not block writes to a large deliveries table
-- while they build. That cannot run in a transaction; every step is safe to
-- run again after a failure part way.

-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_subscription_v2 ON deliveries (subscription_id, created_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_held ON deliveries (subscription_id) WHERE status = 'held';
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_due_v2 ON deliveries (next_attempt_at, subscription_id) WHERE status = 'pending';
DROP INDEX CONCURRENTLY IF EXISTS deliveries_subscription;
ALTER INDEX IF EXISTS deliveries_subscription_v2 RENAME TO deliveries_subscription;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_due;
ALTER INDEX IF EXISTS deliveries_due_v2 RENAME TO deliveries_due;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_subscription_v1 ON deliveries (subscription_id, status, created_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_due_v1 ON deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX CONCURRENTLY IF EXISTS deliveries_held;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_subscription;
ALTER INDEX IF EXISTS deliveries_subscription_v1 RENAME TO deliveries_subscription;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_due;
ALTER INDEX IF EXISTS deliveries_due_v1 RENAME TO deliveries_due;

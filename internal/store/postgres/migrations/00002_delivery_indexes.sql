-- Delivery indexes that do not hold the status. A delivery's status changes
-- two or three times (pending or sending, then succeeded), and each change is
-- a new row version with a new entry in every index. An entry whose key holds
-- the status moves elsewhere each time; one whose key is unchanged goes among
-- the old versions' entries, which PostgreSQL then deletes in place instead of
-- splitting the page (the index stays less than half the size).
--
-- deliveries_subscription keys on subscription_id and created_at only, which
-- never change. Held deliveries, which enable releases, get a partial index of
-- their own. Pending ones of a subscription (holding them on pause or
-- disable) are found through deliveries_due, which carries subscription_id
-- for that.

-- +goose Up
DROP INDEX deliveries_subscription;
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, created_at);
CREATE INDEX deliveries_held ON deliveries (subscription_id) WHERE status = 'held';
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, subscription_id) WHERE status = 'pending';

-- +goose Down
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX deliveries_held;
DROP INDEX deliveries_subscription;
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, status, created_at);

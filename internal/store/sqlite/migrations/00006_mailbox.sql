-- Mailboxes: the messages of pull subscriptions (SPEC §5), one per event and
-- subscription, claimed under leases like the delivery queue.
--
-- A lease runs out lazily: a claimed row whose claimed_until has passed stays
-- claimed until a claim takes it again (or makes it max_retries_exceeded), so
-- the claim looks at new and claimed rows alike. Indexes:
--   mailbox_messages_claimable: the claim's window, oldest first, of the rows
--     that are or may become claimable (new or claimed) only;
--   mailbox_messages_subscription: search and stats of one mailbox;
--   mailbox_messages_subject: coalescing, the unfinished rows about a subject;
--   mailbox_messages_event: the cascade from events, and prune's check that
--     an event has no unfinished message;
--   mailbox_messages_finished, mailbox_messages_open: retention.

-- +goose Up
CREATE TABLE mailbox_messages (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    subject         TEXT,
    status          TEXT NOT NULL,
    claims          INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER,
    lease_id        TEXT NOT NULL DEFAULT '',
    available_at    INTEGER NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX mailbox_messages_claimable ON mailbox_messages (subscription_id, id) WHERE status IN ('new', 'claimed');
CREATE INDEX mailbox_messages_subscription ON mailbox_messages (subscription_id, id);
CREATE INDEX mailbox_messages_subject ON mailbox_messages (subscription_id, subject)
    WHERE status IN ('new', 'claimed') AND subject IS NOT NULL;
CREATE INDEX mailbox_messages_event ON mailbox_messages (event_id);
CREATE INDEX mailbox_messages_finished ON mailbox_messages (updated_at)
    WHERE status IN ('success', 'failed', 'replaced', 'max_retries_exceeded');
CREATE INDEX mailbox_messages_open ON mailbox_messages (created_at) WHERE status IN ('new', 'claimed');

-- +goose Down
DROP TABLE mailbox_messages;

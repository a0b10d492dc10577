package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost refuses to acknowledge a mailbox message that is not claimed
// under the lease the caller holds: it is not claimed, its lease ran out, or
// (when a lease id is given) another claim holds it now (SPEC §5, 409
// lease_lost).
var ErrLeaseLost = errors.New("lease lost")

// Mailbox message statuses (Koppeltaal's mailbox states, SPEC §5).
const (
	MessageNew                = "new"
	MessageClaimed            = "claimed"
	MessageSuccess            = "success"
	MessageFailed             = "failed"
	MessageMaxRetriesExceeded = "max_retries_exceeded"
	MessageReplaced           = "replaced"
)

// MessageStatuses lists every message status, in the order of a message's
// life.
var MessageStatuses = []string{MessageNew, MessageClaimed, MessageSuccess, MessageFailed,
	MessageMaxRetriesExceeded, MessageReplaced}

// MaxClaims is how many claims a message gets: when the lease of the last
// one runs out without success, the message is max_retries_exceeded.
const MaxClaims = 5

// Acknowledgements of a claimed message (MailboxAck.Action).
const (
	AckSuccess = "success" // done: success
	AckFailed  = "failed"  // a permanent failure: failed, with its reason
	AckRelease = "release" // a transient failure: new again, from AvailableAt
	AckExtend  = "extend"  // the lease runs until LeaseUntil
)

// MailboxMessage is one event in the mailbox of one pull subscription.
//
// Leases run out lazily: a claimed message whose ClaimedUntil has passed is
// stored as claimed until something acts on it, yet it is claimable again,
// and reads that are given a time (MessageStats, ListMessages with
// MessageFilter.Now) show it as what it has become: new, or
// max_retries_exceeded when it had MaxClaims claims.
type MailboxMessage struct {
	ID             string  `json:"id"`
	WorkspaceID    string  `json:"workspace_id"`
	SubscriptionID string  `json:"subscription_id"`
	EventID        string  `json:"event_id"`
	Type           string  `json:"type"`    // the event's
	Subject        *string `json:"subject"` // the event's
	Status         string  `json:"status"`
	// Claims counts the claims made of the message, expired ones included.
	Claims       int        `json:"claims"`
	ClaimedUntil *time.Time `json:"claimed_until"` // the end of the last claim's lease
	LeaseID      string     `json:"lease_id"`      // the last claim's
	// AvailableAt is when a new message becomes claimable: when it was
	// created, or the end of a release's delay.
	AvailableAt time.Time `json:"available_at"`
	Reason      string    `json:"reason"` // the last failed or release acknowledgement's
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Coalesce, on a message being inserted, makes it replace the messages
	// of its subscription about the same subject that are not claimed (its
	// subscription coalesces by subject). It is not stored.
	Coalesce bool `json:"-"`
}

// MailboxClaim asks for messages of one mailbox to claim.
type MailboxClaim struct {
	WorkspaceID    string
	SubscriptionID string
	Count          int
	Type           string // only messages of this event type, when set
	Subject        string // only messages about this subject, when set
	Now            time.Time
	LeaseUntil     time.Time
	// LeaseID names this claim: every message it claims gets it, and an
	// acknowledgement that gives another is ErrLeaseLost. It must be new
	// for each claim (random, or a fresh id).
	LeaseID string
}

// ClaimedMessage is a claimed message with its event.
type ClaimedMessage struct {
	Message MailboxMessage
	Event   Event
}

// MailboxAck acknowledges one claimed message.
type MailboxAck struct {
	WorkspaceID    string
	SubscriptionID string
	MessageID      string
	LeaseID        string // the claim's; empty to skip the check
	Action         string // AckSuccess, AckFailed, AckRelease or AckExtend
	Reason         string // failed and release: kept on the message
	Now            time.Time
	AvailableAt    time.Time // release: claimable again from then (zero: Now)
	LeaseUntil     time.Time // extend: the new end of the lease
}

// MailboxAckResult is the outcome of one acknowledgement of a batch: the
// message as it is now, or Err, ErrNotFound or ErrLeaseLost.
type MailboxAckResult struct {
	Message *MailboxMessage
	Err     error
}

// Validate checks that the acknowledgement is of a known kind.
func (a *MailboxAck) Validate() error {
	switch a.Action {
	case AckSuccess, AckFailed, AckRelease, AckExtend:
		return nil
	}
	return fmt.Errorf("unknown mailbox acknowledgement %q", a.Action)
}

// MessageFilter narrows a list of messages; zero fields do not filter.
type MessageFilter struct {
	Status  string
	Type    string
	Subject string
	// Now, when set, shows a claimed message whose lease ran out at Now as
	// what it has become (new, or max_retries_exceeded), and Status filters
	// on that.
	Now time.Time
}

// Mailboxes are the messages of pull subscriptions, routed to them by
// InsertEvents (NewEvent.Messages) in the event's transaction. Every method
// that acts on one mailbox takes its workspace too: a message of another
// workspace or subscription is ErrNotFound. Deleting a subscription or its
// workspace deletes its messages; an event is not pruned while it has a
// message that is new or claimed.
type Mailboxes interface {
	// ClaimMessages claims the oldest (by id) claimable messages of a
	// mailbox, up to c.Count, of c.Type and about c.Subject when set: those
	// new and available at c.Now, and those claimed whose lease ran out at
	// c.Now. Each becomes claimed until c.LeaseUntil under c.LeaseID, its
	// claims counted; one whose lease ran out after MaxClaims claims becomes
	// max_retries_exceeded instead, and is not returned. Concurrent claims,
	// in this process or on other nodes, never return the same message
	// while its lease runs. Messages come in id order, with their events.
	ClaimMessages(ctx context.Context, c MailboxClaim) ([]ClaimedMessage, error)
	// AckMessage acknowledges a claimed message and returns it as it is
	// now. A message not in the mailbox is ErrNotFound; one not claimed,
	// whose lease ran out at a.Now, or claimed under another lease than
	// a.LeaseID (when set) is ErrLeaseLost. Release makes the message new,
	// claimable from a.AvailableAt, unless it had MaxClaims claims: then it
	// is max_retries_exceeded.
	AckMessage(ctx context.Context, a MailboxAck) (*MailboxMessage, error)
	// AckMessages writes a batch of acknowledgements in one transaction
	// (group commit: on SQLite a commit waits for the disk), in order, each
	// as AckMessage would. A message not found or whose lease was lost is
	// that acknowledgement's Err, not the call's: the others are written.
	// An unknown action fails the whole call, before anything is written.
	AckMessages(ctx context.Context, acks []MailboxAck) ([]MailboxAckResult, error)
	// ListMessages pages a mailbox oldest first: p.Cursor is the last id of
	// the previous page. A subscription that has no messages (or does not
	// exist) lists none.
	ListMessages(ctx context.Context, workspaceID, subscriptionID string, f MessageFilter, p Page) ([]MailboxMessage, error)
	// MessageStats counts a mailbox's messages by status as of now, every
	// status present (0 for none): a claimed message whose lease ran out
	// counts as new, or as max_retries_exceeded after MaxClaims claims.
	MessageStats(ctx context.Context, workspaceID, subscriptionID string, now time.Time) (map[string]int, error)
	// NextMessage is when the earliest message of the subscription that is
	// not claimable at now becomes so (a release's delay, a lease running
	// out), for a long poll to wait until; false when there is none.
	NextMessage(ctx context.Context, subscriptionID string, now time.Time) (time.Time, bool, error)
	// PruneMessages deletes up to limit messages: those finished (success,
	// failed, replaced, max_retries_exceeded) last changed before
	// finishedBefore, and those never finished created before newBefore. A
	// claimed message counts as finished or not by what it has become once
	// its lease ran out, and only from then. It returns how many it deleted.
	PruneMessages(ctx context.Context, finishedBefore, newBefore time.Time, limit int) (int, error)
}

// EffectiveStatus is what a message stored with status, claims and
// claimedUntil is at now: a claim whose lease ran out is new again, or
// max_retries_exceeded after MaxClaims claims.
func EffectiveStatus(status string, claims int, claimedUntil *time.Time, now time.Time) string {
	if status != MessageClaimed || claimedUntil == nil || claimedUntil.After(now) {
		return status
	}
	if claims >= MaxClaims {
		return MessageMaxRetriesExceeded
	}
	return MessageNew
}

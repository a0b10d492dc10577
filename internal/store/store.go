// Package store defines the persistence contract of Postbode: the Store
// interface, made of one interface per concept, the record types it moves,
// and the errors it returns. Engines (sqlite, postgres) implement it;
// storetest holds the conformance suite every engine must pass, so callers
// never depend on an engine's quirks.
//
// The store is also the queue: an event and its deliveries are written in one
// transaction, deliveries are claimed under leases, and results are written
// back in batches.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every engine returns for the same conditions.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrUnavailable is in the chain of every error that comes of the
	// database being out of reach (down, refusing connections, a connection
	// lost mid-query), where trying again later may succeed: callers answer
	// 503, not 500. A statement that fails in a reachable database (a
	// constraint, a syntax error) is not it. The SQLite engine never
	// returns it: its database is a file that this process holds open, with
	// no connection to lose.
	ErrUnavailable = errors.New("store unavailable")
	// ErrHasTokens refuses to delete a user that still owns tokens: they
	// would be left without an owner (SPEC §3, user_has_tokens).
	ErrHasTokens = errors.New("the user still owns tokens")
	// ErrLastAdmin refuses to demote or delete the last admin: nobody
	// would be left to manage users.
	ErrLastAdmin = errors.New("the last admin")
)

// Delivery statuses. A delivery is pending (due at next_attempt_at), sending
// (claimed under a lease by one node), held (its subscription is not active),
// succeeded or failed (retry schedule exhausted).
const (
	DeliveryPending   = "pending"
	DeliverySending   = "sending"
	DeliveryHeld      = "held"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Subscription statuses: paused is set by hand, disabled by the engine after
// repeated failures or a 410.
const (
	SubscriptionActive   = "active"
	SubscriptionPaused   = "paused"
	SubscriptionDisabled = "disabled"
)

// Subscription modes.
const (
	ModePush = "push"
	ModePull = "pull"
)

// User roles and statuses: an admin sees every workspace, a member only
// those it belongs to; an inactive user's tokens stop working.
const (
	RoleAdmin    = "admin"
	RoleMember   = "member"
	UserActive   = "active"
	UserInactive = "inactive"
)

// Inbound webhook statuses: a disabled one refuses every request.
const (
	InboundActive   = "active"
	InboundDisabled = "disabled"
)

// How an inbound webhook or a mailbox takes its token: as a bearer token, or
// as the password of basic auth.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
)

// TestEventType is the built-in, reserved type of test sends.
const TestEventType = "webhook.test"

// IdempotencyWindow is how long an idempotency key is remembered: a repeat
// within it returns the first event, and keys older are pruned.
const IdempotencyWindow = 24 * time.Hour

// Page asks for one page of a list ordered by id.
type Page struct {
	Cursor string // the last id of the previous page; empty for the first
	Limit  int
}

// Store is everything Postbode persists, one interface per concept so that
// a service can ask for only the part it uses. Methods are safe for
// concurrent use.
type Store interface {
	Workspaces
	Accounts
	EventTypes
	Inbounds
	Subscriptions
	Events
	Queue
	Attempts
	Cluster
	Mailboxes

	Ping(ctx context.Context) error
	Close() error
	// InTx runs fn in one database transaction: every call on tx is
	// committed together when fn returns nil, and rolled back when it
	// returns an error or panics (the panic goes on). Calls on tx see the
	// transaction's own writes. A call on tx that fails with ErrNotFound,
	// ErrConflict or ErrHasTokens leaves the transaction usable; after any
	// other error fn should return it. fn must use tx, not the Store: on
	// SQLite tx holds the only writer, so a write through the Store waits
	// until ctx ends.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is the part of the Store that InTx runs in one transaction: the small,
// rarely written tables, which a service may need to change together (a
// user with its first token, a workspace with its catalogue).
//
// A method that writes several rows is atomic on its own, also inside InTx:
// when it fails, with ErrNotFound or ErrConflict too, none of its writes
// remain.
type Tx interface {
	Workspaces
	Accounts
	EventTypes
	Inbounds
}

// Workspaces are the isolation units and who may see them.
type Workspaces interface {
	// CreateWorkspace inserts w and makes ownerID (if set) a member; a
	// taken id is ErrConflict.
	CreateWorkspace(ctx context.Context, w *Workspace, ownerID string) error
	GetWorkspace(ctx context.Context, id string) (*Workspace, error)
	// ListWorkspaces lists all workspaces when userID is empty, else those
	// the user is a member of.
	ListWorkspaces(ctx context.Context, userID string, p Page) ([]Workspace, error)
	IsMember(ctx context.Context, workspaceID, userID string) (bool, error)
}

// Accounts are the users and the bearer tokens they authenticate with.
type Accounts interface {
	CountUsers(ctx context.Context) (int, error)
	// CreateUser inserts u; a taken id or email is ErrConflict.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	// CreateToken inserts t; a taken id or hash is ErrConflict, a missing
	// owner ErrNotFound.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose SHA-256 hash is hash, with its owner.
	TokenByHash(ctx context.Context, hash string) (*Token, *User, error)
	// DeleteToken revokes a token.
	DeleteToken(ctx context.Context, id string) error

	// ListUsers pages every user by id.
	ListUsers(ctx context.Context, p Page) ([]User, error)
	// UserByEmail finds a user by exact email: the service lower-cases
	// emails before they reach the store.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser writes u's email, name and role; a missing user is
	// ErrNotFound, an email another user has is ErrConflict, and taking the
	// admin role from the last admin ErrLastAdmin (decided under locks, so
	// that two admins demoting each other at once cannot both succeed).
	UpdateUser(ctx context.Context, u *User) error
	// SetPassword replaces a user's password hash, and nothing else: the
	// user's tokens keep working.
	SetPassword(ctx context.Context, userID, hash string) error
	// ReactivateUser makes a user active, as last active at now so that it
	// does not fall inactive again at the next MarkUsersInactive.
	ReactivateUser(ctx context.Context, userID string, now time.Time) (*User, error)
	// MarkUsersInactive makes inactive every active member (admins never go
	// inactive: an installation must keep a way in) whose last activity
	// (last_active_at, or created_at when never active) is before before,
	// and returns their ids; a user active exactly at before stays active.
	// now is when the run happens (no engine stores it: a user records no
	// time of its status change). It is cheap enough to run every minute.
	MarkUsersInactive(ctx context.Context, before, now time.Time) ([]string, error)
	// RecordActivity writes buffered activity in one transaction: each
	// listed active user's last_active_at and each listed token's
	// last_used_at becomes the later of the stored time and the given one.
	// An inactive user stays inactive (only ReactivateUser brings it back);
	// unknown ids are ignored.
	RecordActivity(ctx context.Context, users map[string]time.Time, tokens map[string]time.Time) error
	// DeleteUser deletes a user with its memberships and sessions. The last
	// admin is ErrLastAdmin, as for UpdateUser. A user
	// that owns any token is ErrHasTokens, decided in the transaction that
	// deletes, so that a token created meanwhile is never left without its
	// owner: the one that commits first wins.
	DeleteUser(ctx context.Context, id string) error
	// SetMemberships makes the user a member of exactly workspaceIDs; a
	// missing user or workspace is ErrNotFound, and changes nothing.
	SetMemberships(ctx context.Context, userID string, workspaceIDs []string) error
	// Memberships returns the ids of the user's workspaces, sorted.
	Memberships(ctx context.Context, userID string) ([]string, error)
	// ListTokens pages a user's tokens by id.
	ListTokens(ctx context.Context, userID string, p Page) ([]Token, error)
	GetToken(ctx context.Context, id string) (*Token, error)
	// TransferToken gives a token to another user; a missing token or user
	// is ErrNotFound.
	TransferToken(ctx context.Context, id, toUserID string) (*Token, error)
	CountTokens(ctx context.Context, userID string) (int, error)

	// CreateSession stores a login session, or a portal session when
	// s.WorkspaceID is set; a taken hash is ErrConflict, a missing user or
	// workspace ErrNotFound. A portal session goes with its workspace.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose SHA-256 hash is hash, with its
	// user; one expired at now (ExpiresAt <= now) is ErrNotFound. The
	// session's WorkspaceID says whether it is a portal session: the caller
	// confines it to that workspace, and decides what an inactive user's
	// session may do.
	SessionByHash(ctx context.Context, hash string, now time.Time) (*Session, *User, error)
	// DeleteSession ends one session (logout); a missing one is ErrNotFound.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteUserSessions ends every session of a user, if any.
	DeleteUserSessions(ctx context.Context, userID string) error
	// PruneSessions deletes the sessions expired at now and returns how many.
	PruneSessions(ctx context.Context, now time.Time) (int, error)
}

// Inbounds are the inbound webhooks, their app tokens and the log of the
// requests they received. Every method that acts on one webhook of a
// workspace returns ErrNotFound when it is not in that workspace. Deleting
// a workspace deletes its inbound webhooks, with their logs and app tokens.
type Inbounds interface {
	// CreateInbound inserts the webhook and its app token (whose ResourceID
	// it sets to in.ID) together. A missing workspace or token owner is
	// ErrNotFound; a taken id, or a taken token id or hash, ErrConflict.
	CreateInbound(ctx context.Context, in *Inbound, tok *Token) error
	GetInbound(ctx context.Context, workspaceID, id string) (*Inbound, error)
	// InboundByID looks a webhook up without its workspace, for the receiver.
	InboundByID(ctx context.Context, id string) (*Inbound, error)
	// ListInbound pages a workspace's webhooks by id.
	ListInbound(ctx context.Context, workspaceID string, p Page) ([]Inbound, error)
	// UpdateInbound writes in's name, event type, verify, dedupe header and
	// updated_at.
	UpdateInbound(ctx context.Context, in *Inbound) error
	// SetInboundStatus moves a webhook to status (InboundActive or
	// InboundDisabled) as of now.
	SetInboundStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (*Inbound, error)
	// DeleteInbound deletes a webhook with its request log and its app
	// tokens (those whose ResourceID is id), and returns those tokens, so
	// that the caller can forget them wherever they are cached.
	DeleteInbound(ctx context.Context, workspaceID, id string) ([]Token, error)
	// ReplaceInboundToken deletes the webhook's app tokens and inserts tok
	// (its ResourceID set to id) in their place, together; it returns the
	// tokens removed. tok's owner missing is ErrNotFound, its id or hash
	// taken ErrConflict; either way nothing changes.
	ReplaceInboundToken(ctx context.Context, workspaceID, id string, tok *Token) ([]Token, error)
	// InsertInboundRequests writes a batch of logged requests in one
	// transaction, then keeps only the newest keep (by id) of each webhook
	// the batch names. A request takes its WorkspaceID from its webhook; one
	// for a webhook deleted meanwhile is dropped, and one whose id is
	// stored already is skipped, so that a batch may be written again.
	InsertInboundRequests(ctx context.Context, reqs []InboundRequest, keep int) error
	// ListInboundRequests pages a webhook's log newest first: p.Cursor is
	// the last id of the previous page.
	ListInboundRequests(ctx context.Context, workspaceID, inboundID string, p Page) ([]InboundRequest, error)
}

// EventTypes is a workspace's catalogue of event types.
type EventTypes interface {
	// CreateEventType inserts et; a name the workspace has is ErrConflict.
	CreateEventType(ctx context.Context, et *EventType) error
	GetEventType(ctx context.Context, workspaceID, name string) (*EventType, error)
	ListEventTypes(ctx context.Context, workspaceID string, p Page) ([]EventType, error)
}

// Subscriptions say where events go. Every method that acts on one
// subscription returns ErrNotFound when it is not in the workspace, also
// when it is deleted while the method runs.
type Subscriptions interface {
	CreateSubscription(ctx context.Context, s *Subscription) error
	GetSubscription(ctx context.Context, workspaceID, id string) (*Subscription, error)
	// SubscriptionByID looks a subscription up without its workspace, for
	// the dispatcher.
	SubscriptionByID(ctx context.Context, id string) (*Subscription, error)
	ListSubscriptions(ctx context.Context, workspaceID string, p Page) ([]Subscription, error)
	// RoutableSubscriptions returns every subscription of a workspace, push
	// and pull, whatever its status, for routing.
	RoutableSubscriptions(ctx context.Context, workspaceID string) ([]Subscription, error)
	// UpdateSubscription writes the editable fields of s: never its status,
	// secrets or failure count.
	UpdateSubscription(ctx context.Context, s *Subscription) error
	// DeleteSubscription removes a subscription with its deliveries and
	// their attempts.
	DeleteSubscription(ctx context.Context, workspaceID, id string) error
	// SetSubscriptionStatus moves a subscription to status. Moving to active
	// resets the failure count and releases held deliveries (due at now);
	// moving away from active holds pending deliveries.
	SetSubscriptionStatus(ctx context.Context, workspaceID, id, status string, now time.Time) (*Subscription, error)
	// RotateSecret installs secret and keeps the old one until previousUntil.
	RotateSecret(ctx context.Context, workspaceID, id, secret string, now, previousUntil time.Time) (*Subscription, error)
	// Recover re-queues failed and held deliveries created at or after since;
	// a disabled subscription is made active first, which releases all its
	// held deliveries. It returns how many were re-queued.
	Recover(ctx context.Context, workspaceID, id string, since, now time.Time) (int, error)
}

// Events are what happened, written with the deliveries routed for them.
type Events interface {
	// InsertEvents writes every event with its deliveries and idempotency
	// key in one transaction (group commit). A repeated key within its
	// window yields the first event and writes nothing. Event data is kept
	// byte for byte. Deliveries take their workspace and event from the
	// event; routing may be stale, so a delivery to a subscription deleted
	// since is dropped, and a pending or sending one to a subscription no
	// longer active is held. A delivery may be inserted as sending, leased
	// to its LeaseOwner (the inserting node sends it without claiming it);
	// InsertResult.Leased says which were stored so.
	InsertEvents(ctx context.Context, events []NewEvent) ([]InsertResult, error)
	GetEvent(ctx context.Context, workspaceID, id string) (*Event, []Delivery, error)
	// ListEvents pages a workspace's events newest first (p.Cursor is the
	// last id of the previous page), filtered by f. An event whose data is
	// over ListBodyLimit bytes comes without it, DataTruncated set.
	ListEvents(ctx context.Context, workspaceID string, f EventFilter, p Page) ([]Event, error)
}

// Queue is the deliveries as a work queue: claimed under leases, completed
// in batches.
type Queue interface {
	ClaimDeliveries(ctx context.Context, c Claim) ([]ClaimedDelivery, error)
	// CompleteDeliveries writes attempts and delivery outcomes in one
	// transaction, counts consecutive failures per subscription and disables
	// active ones that reach their threshold (or answered 410). It returns
	// the ids of the subscriptions it moved from active to disabled. An
	// outcome for a delivery deleted meanwhile is skipped.
	CompleteDeliveries(ctx context.Context, now time.Time, outcomes []Outcome) ([]string, error)
	// NextDue is when the earliest pending delivery becomes due.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// ReleaseLeases puts sending deliveries whose lease ended before now (or,
	// with owner set, every lease of that owner) back to pending.
	ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error)
	// ExtendLeases moves to until the lease end of the deliveries in ids
	// that owner is sending: the heartbeat that lets leases be short. Only
	// the deliveries a node really holds are named, so a lease it lost track
	// of runs out.
	ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error)
	// Resend creates one more pending delivery of a delivery's event to its
	// subscription; ErrNotFound when the delivery, its event or its
	// subscription is gone.
	Resend(ctx context.Context, workspaceID, deliveryID string, newID string, now time.Time) (*Delivery, error)
	// RecordTestAttempt stores a test send: event, delivery and attempt, not
	// counted toward auto-disable; ErrNotFound when the delivery's
	// subscription is not in its workspace.
	RecordTestAttempt(ctx context.Context, e *Event, d *Delivery, a *Attempt) error
	// QueueDepth counts deliveries waiting to be sent (pending or sending).
	QueueDepth(ctx context.Context) (int64, error)
}

// Attempts is the log of HTTP requests made for deliveries.
type Attempts interface {
	// ListAttempts pages a subscription's attempts newest first: p.Cursor
	// is the last id of the previous page. Bodies longer than ListBodyLimit
	// bytes are cut, and marked so. A subscription that is not in the
	// workspace is ErrNotFound.
	ListAttempts(ctx context.Context, workspaceID, subscriptionID string, p Page) ([]Attempt, error)
	// GetAttempt returns one attempt of a subscription whole; one of
	// another subscription or workspace is ErrNotFound.
	GetAttempt(ctx context.Context, workspaceID, subscriptionID, attemptID string) (*Attempt, error)
	// AttemptStats counts a workspace's delivery attempts (test sends excluded)
	// made at or after since, per minute: one AttemptMinute per minute that had
	// any, oldest first.
	AttemptStats(ctx context.Context, workspaceID string, since time.Time) ([]AttemptMinute, error)
}

// Cluster is what nodes sharing one database coordinate through.
type Cluster interface {
	// Listen calls fn for changes made by any node (new due deliveries, a
	// changed subscription, what Announce says) until ctx ends. An engine
	// confined to one process may never call fn: there, every change is
	// seen in-process. After notifications may have been missed (a lost
	// connection), fn is called with Deliveries set and Mailbox MailboxAny.
	Listen(ctx context.Context, fn func(Notification)) error
	// Announce tells every node's Listen of n. The engine announces the
	// changes it makes itself (deliveries, subscriptions); a caller
	// announces what only it knows the meaning of, such as a user's tokens
	// having changed.
	Announce(ctx context.Context, n Notification) error
	// TryLead makes owner the holder of the named lease until now+ttl if it
	// is free, expired at now or owner's already, and reports whether owner
	// holds it.
	TryLead(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	// Prune deletes up to limit events created before before whose
	// deliveries are all finished and that have no new or claimed mailbox
	// message, with their deliveries, attempts and messages, and
	// idempotency keys older than keysBefore; it returns the events deleted.
	Prune(ctx context.Context, before, keysBefore time.Time, limit int) (int, error)
	// RefreshStatistics keeps the query planner's picture of the hot tables
	// (the queue, events, attempts, mailbox messages) true as they churn,
	// also on a server whose own autovacuum is off or slow: it analyzes a
	// table much changed since its statistics were last gathered, and
	// vacuums one full of dead rows that nothing has vacuumed lately. It
	// returns what it did ("ANALYZE deliveries"), and is cheap when there
	// is nothing to do; the elected node calls it every ten seconds.
	RefreshStatistics(ctx context.Context) ([]string, error)
}

// Notification is a change announced to every node. Ids hold no spaces.
type Notification struct {
	Deliveries     bool   // new deliveries may be due
	WorkspaceID    string // the changed subscription's
	SubscriptionID string // set when a subscription changed
	// UserID is set when the user's account or tokens changed: forget
	// cached credentials of this user.
	UserID string
	// Mailbox is set when messages became claimable in the mailbox of this
	// pull subscription (published, or released): wake its long polls.
	// MailboxAny ("*") says any mailbox may have.
	Mailbox string
	// InboundID is set when an inbound webhook changed: forget it.
	InboundID string
}

// MailboxAny in Notification.Mailbox wakes the long polls of every mailbox.
const MailboxAny = "*"

// Claim asks for due deliveries to lease.
// Deliveries are claimed longest-waiting first (by next_attempt_at).
type Claim struct {
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
	// Skip lists subscriptions whose local queues are full.
	Skip []string
	// PerSubscription caps how many deliveries of one subscription one
	// claim takes (0: no cap), so a backlog of one cannot fill the batch.
	PerSubscription int
}

// ClaimedDelivery is a leased delivery with the event it carries.
type ClaimedDelivery struct {
	Delivery Delivery
	Event    Event
}

// NewEvent is an event to insert with the deliveries routed for it.
type NewEvent struct {
	Event          Event
	IdempotencyKey string // empty for none
	// IdempotencySince: a stored key older than this is replaced.
	IdempotencySince time.Time
	Deliveries       []Delivery
	// Messages are the event's messages to pull subscriptions' mailboxes,
	// stored new, written like Deliveries: they take their workspace,
	// event, type and subject from the event (CreatedAt too, when zero), and
	// one to a subscription deleted since is dropped. One with Coalesce
	// and a subject first makes its subscription's messages about that
	// subject that are new (or claimed under a lease run out at its
	// CreatedAt) replaced, in the same transaction.
	// A message with LeaseID and ClaimedUntil set is stored claimed (its
	// first claim) under that lease: it is handed straight to a claimer
	// waiting on the inserting node, which so needs no claim of its own.
	Messages []MailboxMessage
}

// InsertResult is the stored event for one NewEvent.
type InsertResult struct {
	Event     Event
	Duplicate bool     // the idempotency key was seen: nothing was written
	Leased    []string // deliveries stored as sending, leased to their owner
}

// Outcome is the result of one delivery attempt (or of finding the
// subscription inactive) to write back.
type Outcome struct {
	// Owner, when set, is the node that sent it: the outcome applies only
	// while that node still holds the delivery's lease (a node whose lease
	// ran out and was taken over must not overwrite the new holder's work).
	Owner          string
	DeliveryID     string
	SubscriptionID string
	Status         string // pending (retry), succeeded, failed or held
	NextAttemptAt  time.Time
	Attempt        *Attempt // nil when nothing was sent
	Error          string
	// CountFailure makes the attempt count toward the auto-disable threshold;
	// Gone disables the subscription at once (410).
	CountFailure bool
	Success      bool
	Gone         bool
}

// LastError is the error an outcome records on its delivery: nil, keeping
// the one recorded before, when nothing was attempted and nothing failed.
func (o *Outcome) LastError() *string {
	if o.Attempt == nil && o.Error == "" {
		return nil
	}
	return &o.Error
}

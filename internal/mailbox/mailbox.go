// Package mailbox is the service for mailboxes, the messages of pull
// subscriptions (Koppeltaal's model): a consumer claims the oldest new
// messages under a lease (GetNextNewAndClaim), then acknowledges each:
// success, failed (permanent, with a reason), release (transient, new again
// after a delay) or extend. A lease that runs out makes the message new
// again and counts a claim; after store.MaxClaims it is
// max_retries_exceeded. A claim that finds nothing may wait for new
// messages (long polling), woken by a publish on any node.
package mailbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/workspace"
)

// The rules' numbers (SPEC §5).
const (
	MaxCount            = 1000
	DefaultLeaseSeconds = 60
	MaxLeaseSeconds     = 12 * 60 * 60
	MaxWaitSeconds      = 30
	MaxDelaySeconds     = 7 * 24 * 60 * 60
	MaxReason           = 2000
)

// Store is what the service needs of the store.
type Store interface {
	store.Mailboxes
	GetSubscription(ctx context.Context, workspaceID, id string) (*store.Subscription, error)
}

// Service decides about mailboxes.
type Service struct {
	store      Store
	workspaces *workspace.Service
	auth       *auth.Authenticator
	now        func() time.Time

	mu      sync.Mutex
	wakes   map[string]chan struct{} // by subscription: closed when new messages may be claimable
	waiters map[string][]*waiter     // claims waiting, by subscription (handoff.go)

	acks ackGroup // single acknowledgements, written together
}

// New returns the service.
func New(st Store, ws *workspace.Service, a *auth.Authenticator, now func() time.Time) *Service {
	return &Service{store: st, workspaces: ws, auth: a, now: now, wakes: map[string]chan struct{}{}, acks: ackGroup{st: st},
		waiters: map[string][]*waiter{}}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Notify wakes the claims waiting on the mailbox of subscription subID
// (store.MailboxAny: every mailbox): ingest calls it after a commit put
// messages there, and the node on a cluster notification that another node
// did. Only the claims of that mailbox look again.
func (s *Service) Notify(subID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub, c := range s.wakes {
		if subID == store.MailboxAny || sub == subID {
			close(c)
			delete(s.wakes, sub)
		}
	}
}

// woken is closed when the mailbox of subID may have new messages.
func (s *Service) woken(subID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.wakes[subID]
	if !ok {
		c = make(chan struct{})
		s.wakes[subID] = c
	}
	return c
}

// Authenticate checks a mailbox request's credential: the pull
// subscription's app token (bearer, or basic with the subscription's id as
// the username), or an integration token of a user who may use the
// workspace. Any other is unauthenticated, alike.
func (s *Service) Authenticate(ctx context.Context, c auth.Credential, subID string) (*auth.Principal, error) {
	refused := errs.Unauthenticatedf("send this mailbox's token, or an integration token, as Authorization: Bearer <token> " +
		"(or Basic with the subscription's id as the username and the token as the password)")
	p, err := s.auth.ForResource(ctx, c.Token, subID)
	if errors.Is(err, auth.ErrUnauthenticated) || err == nil && c.Basic && c.Username != subID {
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	s.auth.Used(p)
	return p, nil
}

// mailbox loads the pull subscription whose mailbox p acts on.
func (s *Service) mailbox(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		// Whether the workspace exists is none of a mailbox token's
		// business: any miss is the mailbox's.
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.NotFoundf("mailbox")
		}
		return nil, err
	}
	if err := validate.ID("id", subID); err != nil {
		return nil, err
	}
	sub, err := s.store.GetSubscription(ctx, ws, subID)
	if errors.Is(err, store.ErrNotFound) || err == nil && sub.Mode != store.ModePull {
		return nil, errs.NotFoundf("mailbox")
	}
	return sub, err
}

// ClaimInput asks for messages; nil fields take their defaults.
type ClaimInput struct {
	Count        *int   `json:"count"`
	LeaseSeconds *int   `json:"lease_seconds"`
	WaitSeconds  *int   `json:"wait_seconds"`
	Type         string `json:"type"`
	Subject      string `json:"subject"`
}

// Claimed is one claimed message, with its event.
type Claimed struct {
	ID           string       `json:"id"`
	Event        *store.Event `json:"event"`
	ClaimedUntil time.Time    `json:"claimed_until"`
	Claims       int          `json:"claims"`
	LeaseID      string       `json:"lease_id"`
}

// Claims is a claim's answer.
type Claims struct {
	Messages []Claimed `json:"messages"`
}

func bounded(field string, v *int, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, errs.Invalidf(field, "must be from %d to %d", lo, hi)
	}
	return *v, nil
}

// Claim claims the oldest new messages of a mailbox (GetNextNewAndClaim).
// With wait_seconds, a claim that finds none waits up to that long for
// one, woken when messages are stored or a delay or lease runs out.
func (s *Service) Claim(ctx context.Context, p *auth.Principal, ws, subID string, in ClaimInput) (*Claims, error) {
	sub, err := s.mailbox(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	count, err := bounded("count", in.Count, 1, 1, MaxCount)
	if err != nil {
		return nil, err
	}
	lease, err := bounded("lease_seconds", in.LeaseSeconds, DefaultLeaseSeconds, 1, MaxLeaseSeconds)
	if err != nil {
		return nil, err
	}
	wait, err := bounded("wait_seconds", in.WaitSeconds, 0, 0, MaxWaitSeconds)
	if err != nil {
		return nil, err
	}
	if in.Type != "" {
		if err := validate.EventTypeName("type", in.Type); err != nil {
			return nil, err
		}
	}
	if err := validate.Line("subject", in.Subject, 255); err != nil {
		return nil, err
	}
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	// One lease for the whole call: what it claims, and what is handed to
	// it, answer under one lease id.
	leaseID := newLeaseID()
	// w, once the claim waits, takes messages handed over by publishes on
	// this node; finish collects them with what the last claim found.
	var w *waiter
	finish := func(got []store.ClaimedMessage) *Claims {
		if w != nil {
			s.leave(w)
			for len(w.got) > 0 {
				got = append(got, <-w.got)
			}
		}
		out := &Claims{Messages: make([]Claimed, len(got))}
		for i := range got {
			m := &got[i].Message
			out.Messages[i] = Claimed{ID: m.ID, Event: &got[i].Event, ClaimedUntil: *m.ClaimedUntil, Claims: m.Claims, LeaseID: m.LeaseID}
		}
		return out
	}
	defer func() {
		if w != nil && !w.done { // an error: give back what was handed over
			s.leave(w)
			for len(w.got) > 0 {
				s.release(<-w.got)
			}
		}
	}()
	for {
		woken := s.woken(sub.ID) // before the claim: a publish after it still wakes
		now := s.clock()
		got, err := s.store.ClaimMessages(ctx, store.MailboxClaim{WorkspaceID: ws, SubscriptionID: sub.ID, Count: count,
			Type: in.Type, Subject: in.Subject, Now: now, LeaseUntil: now.Add(time.Duration(lease) * time.Second),
			LeaseID: leaseID})
		if err != nil {
			return nil, err
		}
		if len(got) > 0 || wait == 0 || w != nil && len(w.got) > 0 {
			return finish(got), nil
		}
		if w == nil {
			w = &waiter{sub: sub.ID, typ: in.Type, subject: in.Subject, count: count, lease: time.Duration(lease) * time.Second,
				leaseID: leaseID, got: make(chan store.ClaimedMessage, count)}
			s.wait(w)
		}
		// Nothing yet: wait for a message handed over, a publish, the
		// earliest delay or lease to run out, or the wait to end.
		var due <-chan time.Time
		var timer *time.Timer
		if next, ok, err := s.store.NextMessage(ctx, sub.ID, now); err != nil {
			return nil, err
		} else if ok {
			timer = time.NewTimer(max(next.Sub(now), time.Millisecond))
			due = timer.C
		}
		var handed *store.ClaimedMessage
		select {
		case cm := <-w.got:
			handed = &cm
		case <-woken:
		case <-due:
		case <-deadline.C:
			wait = 0 // one last look, then answer
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			if handed != nil {
				s.release(*handed)
			}
			return nil, err
		}
		if handed != nil {
			return finish([]store.ClaimedMessage{*handed}), nil
		}
	}
}

func newLeaseID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "lease_" + hex.EncodeToString(b)
}

// AckInput is an acknowledgement's body.
type AckInput struct {
	// LeaseID, when given, must be the claim's: an acknowledgement made
	// after another claim took the message is then refused, not applied.
	LeaseID      string `json:"lease_id"`
	Reason       string `json:"reason"`
	DelaySeconds *int   `json:"delay_seconds"`
	LeaseSeconds *int   `json:"lease_seconds"`
}

// Ack acknowledges a claimed message: action is store.AckSuccess,
// AckFailed (a reason is required), AckRelease (new again after
// delay_seconds) or AckExtend (the lease runs lease_seconds from now). A
// message whose lease was lost is refused with lease_lost.
func (s *Service) Ack(ctx context.Context, p *auth.Principal, ws, subID, msgID, action string, in AckInput) (*store.MailboxMessage, error) {
	sub, err := s.mailbox(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	a, err := acknowledgement(ws, sub.ID, "message_id", msgID, action, in, s.clock())
	if err != nil {
		return nil, err
	}
	m, err := s.acks.ack(ctx, a)
	if err = ackError(err); err != nil {
		return nil, err
	}
	if action == store.AckRelease {
		s.Notify(sub.ID) // a waiting claim may take it (now or after its delay)
	}
	return m, nil
}

// acknowledgement checks one acknowledgement of message msgID (its field
// named idField) and returns it for the store: the rules of Ack and
// AckBatch alike.
func acknowledgement(ws, subID, idField, msgID, action string, in AckInput, now time.Time) (store.MailboxAck, error) {
	a := store.MailboxAck{WorkspaceID: ws, SubscriptionID: subID, MessageID: msgID, LeaseID: in.LeaseID, Action: action, Now: now}
	if msgID == "" {
		return a, errs.Invalidf(idField, "is required: the message's id")
	}
	if err := validate.ID(idField, msgID); err != nil {
		return a, err
	}
	if err := validate.ID("lease_id", in.LeaseID); err != nil {
		return a, err
	}
	switch action {
	case store.AckSuccess:
	case store.AckFailed, store.AckRelease:
		if err := validate.Text("reason", in.Reason, MaxReason); err != nil {
			return a, err
		}
		if action == store.AckFailed && in.Reason == "" {
			return a, errs.Invalidf("reason", "is required: why the message failed for good")
		}
		a.Reason = in.Reason
		delay, err := bounded("delay_seconds", in.DelaySeconds, 0, 0, MaxDelaySeconds)
		if err != nil {
			return a, err
		}
		a.AvailableAt = now.Add(time.Duration(delay) * time.Second)
	case store.AckExtend:
		if in.LeaseSeconds == nil {
			return a, errs.Invalidf("lease_seconds", "is required: how long the lease runs from now")
		}
		lease, err := bounded("lease_seconds", in.LeaseSeconds, 0, 1, MaxLeaseSeconds)
		if err != nil {
			return a, err
		}
		a.LeaseUntil = now.Add(time.Duration(lease) * time.Second)
	default:
		return a, errs.Invalidf("action", "must be one of success, failed, release, extend")
	}
	if action != store.AckFailed && action != store.AckRelease && in.Reason != "" {
		return a, errs.Invalidf("reason", "applies to failed and release only")
	}
	if action != store.AckRelease && in.DelaySeconds != nil {
		return a, errs.Invalidf("delay_seconds", "applies to release only")
	}
	if action != store.AckExtend && in.LeaseSeconds != nil {
		return a, errs.Invalidf("lease_seconds", "applies to extend only")
	}
	return a, nil
}

// ackError is the refusal of an acknowledgement the store did not apply.
func ackError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errs.NotFoundf("message")
	case errors.Is(err, store.ErrLeaseLost):
		return errs.Conflictf("lease_lost", "the message's lease ran out or another claim holds it; claim it again")
	}
	return err
}

// MaxAcks is how many acknowledgements one batch may hold.
const MaxAcks = 1000

// AckItem is one acknowledgement of a batch: the message's id, the action
// (success, failed, release, extend) and that action's fields.
type AckItem struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	AckInput
}

// AckBatchInput is a batch acknowledgement's body.
type AckBatchInput struct {
	Acks []AckItem `json:"acks"`
}

// AckError is why one acknowledgement of a batch was refused.
type AckError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// AckResult is the outcome of one acknowledgement of a batch: the
// message's status now, or the refusal.
type AckResult struct {
	ID     string    `json:"id"`
	Status string    `json:"status,omitempty"`
	Error  *AckError `json:"error,omitempty"`
}

// AckResults is a batch acknowledgement's answer, in the batch's order.
type AckResults struct {
	Results []AckResult `json:"results"`
}

// AckBatch applies up to MaxAcks acknowledgements, each as Ack would and
// each on its own: one refused (invalid, naming acks[i].field; not_found;
// lease_lost) leaves the others applied. Those valid are written in one
// store transaction.
func (s *Service) AckBatch(ctx context.Context, p *auth.Principal, ws, subID string, in AckBatchInput) (*AckResults, error) {
	sub, err := s.mailbox(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	if len(in.Acks) == 0 || len(in.Acks) > MaxAcks {
		return nil, errs.Invalidf("acks", "must hold from 1 to %d acknowledgements", MaxAcks)
	}
	now := s.clock()
	out := &AckResults{Results: make([]AckResult, len(in.Acks))}
	refuse := func(i int, err error) error {
		e, ok := errs.As(err)
		if !ok {
			return err
		}
		out.Results[i].Error = &AckError{Code: e.Code, Message: e.Error()}
		return nil
	}
	acks := make([]store.MailboxAck, 0, len(in.Acks))
	at := make([]int, 0, len(in.Acks)) // acks[j] is in.Acks[at[j]]
	released := false
	for i, it := range in.Acks {
		out.Results[i].ID = it.ID
		a, err := acknowledgement(ws, sub.ID, "id", it.ID, it.Action, it.AckInput, now)
		if err != nil {
			if err := refuse(i, errs.Prefix("acks["+strconv.Itoa(i)+"]", err)); err != nil {
				return nil, err
			}
			continue
		}
		acks = append(acks, a)
		at = append(at, i)
		released = released || it.Action == store.AckRelease
	}
	if len(acks) == 0 {
		return out, nil
	}
	res, err := s.store.AckMessages(ctx, acks)
	if err != nil {
		return nil, err
	}
	for j, r := range res {
		i := at[j]
		if r.Err != nil {
			if err := refuse(i, ackError(r.Err)); err != nil {
				return nil, err
			}
			continue
		}
		out.Results[i].Status = r.Message.Status
	}
	if released {
		s.Notify(sub.ID)
	}
	return out, nil
}

// Filter narrows a search of a mailbox.
type Filter struct {
	Status  string
	Type    string
	Subject string
}

// Search pages a mailbox's messages oldest first, narrowed by f; q.Limit
// is the route's count.
func (s *Service) Search(ctx context.Context, p *auth.Principal, ws, subID string, f Filter, q listing.Query) (listing.List[store.MailboxMessage], error) {
	var out listing.List[store.MailboxMessage]
	sub, err := s.mailbox(ctx, p, ws, subID)
	if err != nil {
		return out, err
	}
	if f.Status != "" && !validStatus(f.Status) {
		return out, errs.Invalidf("status", "must be one of new, claimed, success, failed, max_retries_exceeded, replaced")
	}
	if f.Type != "" {
		if err := validate.EventTypeName("type", f.Type); err != nil {
			return out, err
		}
	}
	if err := validate.Line("subject", f.Subject, 255); err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 100, MaxCount)
	if err != nil {
		if e, ok := errs.As(err); ok && e.Field == "limit" {
			return out, errs.Invalidf("count", "must be a whole number from 1 to %d", MaxCount)
		}
		return out, err
	}
	ms, err := s.store.ListMessages(ctx, ws, sub.ID, store.MessageFilter{Status: f.Status, Type: f.Type, Subject: f.Subject,
		Now: s.clock()}, pg)
	if err != nil {
		return out, err
	}
	return listing.Cut(ms, pg, func(m *store.MailboxMessage) string { return m.ID }), nil
}

func validStatus(v string) bool {
	for _, s := range store.MessageStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Stats counts a mailbox's messages by status.
func (s *Service) Stats(ctx context.Context, p *auth.Principal, ws, subID string) (map[string]int, error) {
	sub, err := s.mailbox(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	return s.store.MessageStats(ctx, ws, sub.ID, s.clock())
}

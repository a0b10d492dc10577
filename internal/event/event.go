// Package event is the service for events: publishing one or a batch
// (checked here, then routed and stored by ingest), reading one back with
// its deliveries, and resending a delivery. Every way in that creates
// events (the management API today, inbound webhooks next) publishes
// through it, so an event is checked by the same rules whatever sent it.
package event

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/workspace"
)

// Limits on an event's fields.
const (
	MaxUserID         = 255
	MaxSubject        = 255
	MaxIdempotencyKey = 255
	// MaxBatch is the most events one batch publish takes.
	MaxBatch = ingest.MaxBatch
)

// Store is what the service needs of the store.
type Store interface {
	GetEvent(ctx context.Context, workspaceID, id string) (*store.Event, []store.Delivery, error)
	ListEvents(ctx context.Context, workspaceID string, f store.EventFilter, p store.Page) ([]store.Event, error)
	Resend(ctx context.Context, workspaceID, deliveryID string, newID string, now time.Time) (*store.Delivery, error)
}

// Notifier wakes the dispatcher when deliveries become due.
type Notifier interface{ Notify() }

// Service decides about events.
type Service struct {
	store      Store
	workspaces *workspace.Service
	ingest     *ingest.Ingester
	delivery   Notifier
	now        func() time.Time
}

// New returns the service.
func New(st Store, ws *workspace.Service, in *ingest.Ingester, d Notifier, now func() time.Time) *Service {
	return &Service{store: st, workspaces: ws, ingest: in, delivery: d, now: now}
}

// Input is one event to publish.
type Input struct {
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
	UserID  *string         `json:"user_id"`
	Subject *string         `json:"subject"`
}

// BatchItem is one event of a batch, with its own idempotency key.
type BatchItem struct {
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data"`
	UserID         *string         `json:"user_id"`
	Subject        *string         `json:"subject"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// Published is the answer for one stored event. Duplicate says an earlier
// event with the same idempotency key was returned instead.
type Published struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Duplicate bool      `json:"duplicate"`
}

// check applies the rules of one event. data is required and may be any
// JSON value but null: an event without data is published with {} or
// another value that says so.
func (in *Input) check() error {
	if err := validate.EventTypeName("type", in.Type); err != nil {
		return err
	}
	if len(in.Data) == 0 || string(in.Data) == "null" {
		return errs.Invalidf("data", "is required: any JSON value but null")
	}
	if err := validate.JSON("data", in.Data); err != nil {
		return err
	}
	if err := validate.Optional("user_id", in.UserID, MaxUserID); err != nil {
		return err
	}
	return validate.Optional("subject", in.Subject, MaxSubject)
}

func checkKey(field, key string) error {
	return validate.Line(field, key, MaxIdempotencyKey)
}

func (in *Input) publish(ws, key string) ingest.Publish {
	return ingest.Publish{WorkspaceID: ws, Type: in.Type, Data: in.Data, UserID: in.UserID, Subject: in.Subject,
		IdempotencyKey: key}
}

func published(r store.InsertResult) Published {
	return Published{r.Event.ID, r.Event.Type, r.Event.CreatedAt, r.Duplicate}
}

// Publish stores one event durably and routes it. With an idempotency key
// seen within store.IdempotencyWindow it returns the first event instead.
func (s *Service) Publish(ctx context.Context, p *auth.Principal, ws string, in Input, key string) (Published, error) {
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		return Published{}, err
	}
	if err := in.check(); err != nil {
		return Published{}, err
	}
	if err := checkKey("Idempotency-Key", key); err != nil {
		return Published{}, err
	}
	res, err := s.ingest.Publish(ctx, in.publish(ws, key))
	if err != nil {
		return Published{}, err
	}
	return published(res), nil
}

// PublishBatch stores 1 to MaxBatch events in one transaction: all of
// them or, when one is refused, none, with the error naming it
// (events[i].field). Idempotency keys go per event: key, the request's
// own, must be empty.
func (s *Service) PublishBatch(ctx context.Context, p *auth.Principal, ws, key string, items []BatchItem) ([]Published, error) {
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if key != "" {
		return nil, errs.Invalidf("Idempotency-Key", "is not used by batch publishes; give each event its own idempotency_key")
	}
	if err := CheckBatchSize(len(items)); err != nil {
		return nil, err
	}
	ps := make([]ingest.Publish, len(items))
	for i, it := range items {
		in := Input{Type: it.Type, Data: it.Data, UserID: it.UserID, Subject: it.Subject}
		err := in.check()
		if err == nil {
			err = checkKey("idempotency_key", it.IdempotencyKey)
		}
		if err != nil {
			return nil, errs.Prefix(ItemField(i), err)
		}
		ps[i] = in.publish(ws, it.IdempotencyKey)
	}
	res, err := s.ingest.PublishBatch(ctx, ps)
	if be := (*ingest.BatchError)(nil); errors.As(err, &be) {
		return nil, errs.Prefix(ItemField(be.Index), be.Err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Published, len(res))
	for i, r := range res {
		out[i] = published(r)
	}
	return out, nil
}

// CheckBatchSize refuses an empty batch or one over MaxBatch. Transports
// call it before decoding the events one by one.
func CheckBatchSize(n int) error {
	switch {
	case n == 0:
		return errs.Invalidf("events", "must hold at least one event")
	case n > MaxBatch:
		return errs.Invalidf("events", "must hold at most %d events; split the batch", MaxBatch)
	}
	return nil
}

// ItemField names the i-th event of a batch in errors.
func ItemField(i int) string { return "events[" + strconv.Itoa(i) + "]" }

// Filter narrows a list of events, as a client sends it: empty fields do
// not filter; Since and Until are RFC 3339 times.
type Filter struct {
	Type    string
	Subject string
	Since   string
	Until   string
}

func (f Filter) parse() (store.EventFilter, error) {
	out := store.EventFilter{Type: f.Type, Subject: f.Subject}
	if f.Type != "" {
		if err := validate.EventTypeName("type", f.Type); err != nil {
			return out, err
		}
	}
	if err := validate.Line("subject", f.Subject, MaxSubject); err != nil {
		return out, err
	}
	for _, t := range []struct {
		field, v string
		dst      *time.Time
	}{{"since", f.Since, &out.Since}, {"until", f.Until, &out.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return out, errs.Invalidf(t.field, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		*t.dst = v
	}
	return out, nil
}

// List pages ws's events newest first, filtered by f. Data over 4 KiB is
// left out of a list (data_truncated); the event's own route shows it.
func (s *Service) List(ctx context.Context, p *auth.Principal, ws string, f Filter, q listing.Query) (listing.List[store.Event], error) {
	var out listing.List[store.Event]
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		return out, err
	}
	ef, err := f.parse()
	if err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return out, err
	}
	es, err := s.store.ListEvents(ctx, ws, ef, pg)
	if err != nil {
		return out, err
	}
	return listing.Cut(es, pg, func(e *store.Event) string { return e.ID }), nil
}

// WithDeliveries is an event with its deliveries.
type WithDeliveries struct {
	*store.Event
	Deliveries []store.Delivery `json:"deliveries"`
}

// Get returns an event of ws with its deliveries.
func (s *Service) Get(ctx context.Context, p *auth.Principal, ws, eventID string) (*WithDeliveries, error) {
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if err := validate.ID("id", eventID); err != nil {
		return nil, err
	}
	e, ds, err := s.store.GetEvent(ctx, ws, eventID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("event")
	}
	if err != nil {
		return nil, err
	}
	return &WithDeliveries{e, ds}, nil
}

// Resend makes one more delivery of a delivery's event to its subscription.
func (s *Service) Resend(ctx context.Context, p *auth.Principal, ws, deliveryID string) (*store.Delivery, error) {
	if err := s.workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if err := validate.ID("id", deliveryID); err != nil {
		return nil, err
	}
	d, err := s.store.Resend(ctx, ws, deliveryID, id.New(id.Delivery), s.now().UTC().Truncate(time.Microsecond))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("delivery")
	}
	if err != nil {
		return nil, err
	}
	s.delivery.Notify()
	return d, nil
}

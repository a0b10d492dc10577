// Package ingest turns published events into stored events with their
// deliveries. It routes each event to the subscriptions that want it and
// writes through a group-commit writer: while one transaction commits, the
// next publishes gather, and they commit together. One fsync then covers
// many events, so ingest is not bounded by the disk's flush rate, and a
// publish is answered only once its event and deliveries are durable.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/schema"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/telemetry"
)

// Store is what ingest needs of the store: event types and subscriptions
// to route by, and the group-commit insert.
type Store interface {
	GetEventType(ctx context.Context, workspaceID, name string) (*store.EventType, error)
	RoutableSubscriptions(ctx context.Context, workspaceID string) ([]store.Subscription, error)
	InsertEvents(ctx context.Context, events []store.NewEvent) ([]store.InsertResult, error)
}

// maxBatch bounds one group commit.
const maxBatch = 512

// routeTTL bounds how stale a node's view of a workspace's subscriptions
// may be; changes made on this node invalidate it at once.
const routeTTL = time.Second

// Publish is one event to ingest.
type Publish struct {
	WorkspaceID    string
	Type           string
	Data           json.RawMessage
	UserID         *string
	Subject        *string
	IdempotencyKey string
}

// Dispatch is the part of the delivery engine that ingest hands fresh
// deliveries to: a delivery with a place reserved in its subscription's
// queue is stored leased to this node and handed over after the commit,
// so it is sent without being claimed from the store.
type Dispatch interface {
	// Reserve returns the lease to store the delivery under: its owner and
	// how long it lasts from the commit. size is the length of the event's
	// data, the same for Release.
	Reserve(subID string, size int) (owner string, lease time.Duration, ok bool)
	Release(subID string, size int)
	Handoff(store.ClaimedDelivery)
	// Notify says that deliveries were stored pending.
	Notify()
}

// Mailboxes is the part of the mailbox service that ingest hands new
// messages to: a message reserved for a waiting claim is stored claimed
// under its lease and handed over after the commit, so that the claim needs
// no transaction of its own.
type Mailboxes interface {
	Reserve(subID, typ string, subject *string) (leaseID string, lease time.Duration, ok bool)
	Release(subID, leaseID string)
	Handoff(subID, leaseID string, cm store.ClaimedMessage)
	// Notify says the mailbox of subID got new messages.
	Notify(subID string)
}

// Ingester accepts events.
type Ingester struct {
	// Mailboxes, when set, takes new messages straight to claims waiting
	// on this node, as the dispatcher takes deliveries, and is told of the
	// mailboxes a commit put new messages in.
	Mailboxes Mailboxes
	// Tracer, when set, makes a span of each publish, from routing to its
	// commit, and stores its traceparent with the publish's events, for
	// their deliveries to continue the trace. Nil (tracing off) costs
	// nothing and stores nothing.
	Tracer trace.Tracer

	store    Store
	now      func() time.Time
	dispatch Dispatch
	writers  int // group commits in flight at once
	metrics  *metrics.Metrics
	log      *slog.Logger
	reqs     chan *request
	stopped  chan struct{} // closed once the writer has stopped for good

	mu     sync.Mutex
	gen    uint64 // bumped by Invalidate: a load begun before is not cached
	routes map[string]routes
	types  map[[2]string]eventType // by (workspace, name): event types never change

	schemas *schema.Cache // compiled schemas, bounded in count and bytes
}

// eventType is what routing needs of an event type: its label, and its
// schema document (empty without one, which then costs nothing).
type eventType struct {
	label  string
	schema []byte
}

type routes struct {
	subs   []store.Subscription
	loaded time.Time
}

// request is one publish call: its events are written in one transaction.
type request struct {
	nes   []store.NewEvent
	lease time.Duration // of its deliveries stored as sending, from the commit
	done  chan reply
}

type reply struct {
	res []store.InsertResult
	err error
}

// New returns an Ingester that hands its deliveries to dispatch and
// commits with writers transactions at a time: one for an engine with a
// single writer (SQLite), more where concurrent transactions overlap their
// round trips and flushes (PostgreSQL).
// now is its clock.
func New(s Store, dispatch Dispatch, writers int, m *metrics.Metrics, log *slog.Logger, now func() time.Time) *Ingester {
	return &Ingester{store: s, now: now, dispatch: dispatch, writers: max(writers, 1), metrics: m, log: log,
		reqs: make(chan *request, 4*maxBatch), stopped: make(chan struct{}), routes: map[string]routes{}, types: map[[2]string]eventType{},
		schemas: schema.NewCache(0, 0)}
}

// Invalidate drops the cached routes of a workspace after a subscription changed.
func (in *Ingester) Invalidate(workspaceID string) {
	in.mu.Lock()
	delete(in.routes, workspaceID)
	in.gen++
	in.mu.Unlock()
}

// Publish stores an event and its deliveries durably. With an idempotency
// key seen within a day it returns the first event and Duplicate set.
func (in *Ingester) Publish(ctx context.Context, p Publish) (store.InsertResult, error) {
	res, err := in.PublishBatch(ctx, []Publish{p})
	if be := (*BatchError)(nil); errors.As(err, &be) {
		err = be.Err
	}
	if err != nil {
		return store.InsertResult{}, err
	}
	return res[0], nil
}

// MaxBatch is the most events one PublishBatch takes.
const MaxBatch = 1000

// BatchError says which event of a batch was refused; the batch stored nothing.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("events[%d]: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// PublishBatch stores events and their deliveries durably, all in one
// transaction: either every event is stored or none is. A refused event
// fails the whole batch with a *BatchError naming it.
func (in *Ingester) PublishBatch(ctx context.Context, ps []Publish) (res []store.InsertResult, err error) {
	var traceParent string
	if in.Tracer != nil {
		var span trace.Span
		ctx, span = in.startSpan(ctx, ps)
		defer func() { endSpan(span, res, err) }()
		traceParent = telemetry.TraceParent(ctx)
	}
	now := in.now().UTC().Truncate(time.Microsecond)
	r := &request{nes: make([]store.NewEvent, 0, len(ps)), done: make(chan reply, 1)}
	for i, p := range ps {
		ne, lease, err := in.route(ctx, p, now)
		if err != nil {
			in.releaseAll(r.nes)
			return nil, &BatchError{Index: i, Err: err}
		}
		ne.Event.TraceParent = traceParent
		r.nes = append(r.nes, ne)
		r.lease = max(r.lease, lease)
	}
	select {
	case in.reqs <- r:
	case <-ctx.Done():
		in.releaseAll(r.nes)
		return nil, ctx.Err()
	case <-in.stopped:
		in.releaseAll(r.nes)
		return nil, errShuttingDown
	}
	// Once queued, the events will be written whatever happens to ctx: wait
	// for the outcome so that the caller learns it.
	select {
	case rep := <-r.done:
		return rep.res, rep.err
	case <-in.stopped:
	}
	select {
	case rep := <-r.done: // answered by the writer's last drain
		return rep.res, rep.err
	default: // queued after the writer stopped: never written
		in.releaseAll(r.nes)
		return nil, errShuttingDown
	}
}

// startSpan starts the span of one publish (of one event or a batch), a
// child of the request's span in ctx.
func (in *Ingester) startSpan(ctx context.Context, ps []Publish) (context.Context, trace.Span) {
	attrs := make([]attribute.KeyValue, 0, 3)
	if len(ps) > 0 {
		attrs = append(attrs, attribute.String("postbode.workspace_id", ps[0].WorkspaceID))
	}
	attrs = append(attrs, attribute.Int("postbode.events", len(ps)))
	if len(ps) == 1 {
		attrs = append(attrs, attribute.String("postbode.event_type", ps[0].Type))
	}
	return in.Tracer.Start(ctx, "ingest", trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

// endSpan ends a publish's span with what it stored, or its error.
func endSpan(span trace.Span, res []store.InsertResult, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return
	}
	if len(res) == 1 {
		span.SetAttributes(attribute.String("postbode.event_id", res[0].Event.ID),
			attribute.Bool("postbode.duplicate", res[0].Duplicate))
	}
	span.End()
}

// route builds the stored form of one event: one delivery per subscription
// that wants it, each leased to this node when its queue has room.
// lease is how long the leased ones' leases last from the commit (0: none).
func (in *Ingester) route(ctx context.Context, p Publish, now time.Time) (ne store.NewEvent, lease time.Duration, err error) {
	et, err := in.eventType(ctx, p.WorkspaceID, p.Type)
	if err != nil {
		return ne, 0, err
	}
	// A stored schema that no longer compiles was logged when its type
	// loaded; it must not take publishing down, so its events go unchecked.
	if sch, err := in.schemas.Get(p.WorkspaceID+"\x00"+p.Type, et.schema); err == nil {
		if err := sch.Validate(p.Data); err != nil {
			return ne, 0, schemaError(err)
		}
	}
	subs, err := in.subscriptions(ctx, p.WorkspaceID)
	if err != nil {
		return ne, 0, err
	}
	ne = store.NewEvent{
		Event: store.Event{ID: id.New(id.Event), WorkspaceID: p.WorkspaceID, Type: p.Type, Label: et.label,
			Data: p.Data, UserID: p.UserID, Subject: p.Subject, CreatedAt: now},
		IdempotencyKey:   p.IdempotencyKey,
		IdempotencySince: now.Add(-store.IdempotencyWindow),
	}
	for i := range subs {
		s := &subs[i]
		if !s.Matches(p.Type) {
			continue
		}
		if s.Mode == store.ModePull {
			// A message in the subscription's mailbox, for its consumer to
			// claim; the store drops it if the subscription was deleted.
			m := store.MailboxMessage{ID: id.New(id.Message), WorkspaceID: p.WorkspaceID,
				SubscriptionID: s.ID, EventID: ne.Event.ID, Type: p.Type, Subject: p.Subject, Status: store.MessageNew,
				AvailableAt: now, CreatedAt: now, UpdatedAt: now, Coalesce: s.CoalesceBySubject}
			// A claim waiting for it takes it claimed; not when coalescing,
			// where a later message of the batch may replace it.
			if in.Mailboxes != nil && !s.CoalesceBySubject {
				if leaseID, l, ok := in.Mailboxes.Reserve(s.ID, p.Type, p.Subject); ok {
					until := now.Add(l)
					m.Status, m.Claims, m.LeaseID, m.ClaimedUntil = store.MessageClaimed, 1, leaseID, &until
				}
			}
			ne.Messages = append(ne.Messages, m)
			continue
		}
		// Pending (or sending, leased to this node) whatever the cached
		// status says: the cache may be stale. The store holds it, in the
		// same transaction, if the subscription is not active at commit
		// (and drops it if the subscription was deleted).
		d := store.Delivery{ID: id.New(id.Delivery), SubscriptionID: s.ID, Status: store.DeliveryPending,
			NextAttemptAt: &now, CreatedAt: now}
		if owner, l, ok := in.dispatch.Reserve(s.ID, len(p.Data)); ok {
			d.Status, d.LeaseOwner, lease = store.DeliverySending, owner, l
		}
		ne.Deliveries = append(ne.Deliveries, d)
	}
	return ne, lease, nil
}

var errShuttingDown = errors.New("shutting down")

// eventType returns the workspace's event type typ, or an error naming
// the field "type" when there is none.
func (in *Ingester) eventType(ctx context.Context, ws, typ string) (eventType, error) {
	key := [2]string{ws, typ}
	in.mu.Lock()
	et, ok := in.types[key]
	in.mu.Unlock()
	if ok {
		return et, nil
	}
	st, err := in.store.GetEventType(ctx, ws, typ)
	if errors.Is(err, store.ErrNotFound) {
		return et, errs.InvalidCode("unknown_event_type", "type", "this workspace has no event type %q; create it first", typ)
	}
	if err != nil {
		return et, err
	}
	et = eventType{label: st.Label, schema: st.Schema}
	// Stored schemas compiled when their type was created; one that no
	// longer does (a library change) is said once, here.
	if _, err := in.schemas.Get(ws+"\x00"+typ, st.Schema); err != nil {
		in.log.Error("an event type's stored schema does not compile; its events are not checked",
			"workspace", ws, "type", typ, "err", err)
	}
	in.mu.Lock()
	in.types[key] = et
	in.mu.Unlock()
	return et, nil
}

// schemaError is the refusal of data that its type's schema refuses,
// naming the failing place in the data.
func schemaError(err error) error {
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		at := ve.Path
		if at == "" {
			at = "/"
		}
		return errs.InvalidCode("schema_mismatch", "data", "does not match the event type's schema at %s: %s", at, ve.Message)
	}
	return errs.InvalidCode("schema_mismatch", "data", "does not match the event type's schema: %v", err)
}

func (in *Ingester) subscriptions(ctx context.Context, ws string) ([]store.Subscription, error) {
	in.mu.Lock()
	r, ok := in.routes[ws]
	gen := in.gen
	in.mu.Unlock()
	if ok && in.now().Sub(r.loaded) < routeTTL {
		return r.subs, nil
	}
	subs, err := in.store.RoutableSubscriptions(ctx, ws)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	if in.gen == gen { // else a change came in while loading: this may be older
		in.routes[ws] = routes{subs: subs, loaded: in.now()}
	}
	in.mu.Unlock()
	return subs, nil
}

// Run runs the group-commit writers; it returns when ctx ends, after
// failing whatever is still queued.
func (in *Ingester) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range in.writers {
		wg.Go(func() { in.write(ctx) })
	}
	wg.Wait()
	in.drainClosed()
	close(in.stopped)
}

// write is one group-commit writer: it takes whatever publishes are queued
// (up to maxBatch events) into one transaction, until ctx ends.
func (in *Ingester) write(ctx context.Context) {
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-in.reqs:
			batch = append(batch[:0], r)
		}
		events := len(batch[0].nes)
	fill:
		for events < maxBatch {
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
				events += len(r.nes)
			default:
				break fill
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		in.commit(ctx, batch)
		cancel()
	}
}

// commitTimeout bounds one batch, the one-by-one retries of a failed batch
// included, so that a store that does not answer fails publishes instead of
// holding them.
const commitTimeout = 30 * time.Second

// commit writes the requests of a batch in one transaction; if it fails as
// a whole, each request is written alone so that one bad request cannot
// fail its neighbours.
func (in *Ingester) commit(ctx context.Context, batch []*request) {
	var nes []store.NewEvent
	for _, r := range batch {
		// A lease runs from the commit, not from the reservation.
		until := in.now().Add(r.lease)
		for i := range r.nes {
			for j := range r.nes[i].Deliveries {
				if d := &r.nes[i].Deliveries[j]; d.Status == store.DeliverySending {
					d.LeaseUntil = &until
				}
			}
		}
		nes = append(nes, r.nes...)
	}
	res, err := in.store.InsertEvents(ctx, nes)
	retry := err != nil
	if err == nil && len(res) != len(nes) {
		// Committed, but the answer cannot be matched to the publishes:
		// writing them again would store them twice.
		err = fmt.Errorf("the store answered %d results for %d events", len(res), len(nes))
	}
	if retry && len(batch) > 1 && ctx.Err() == nil {
		in.log.Warn("group commit failed; writing publishes one by one", "err", err, "events", len(nes))
		for _, r := range batch {
			in.commit(ctx, []*request{r})
		}
		return
	}
	created := 0
	// queued: a delivery was written pending, for the claimer to take. One
	// written sending was handed to this node's dispatcher already, and
	// waking the claimer for it would only read that nothing is due.
	queued := false
	var filled map[string]bool // mailboxes that got new messages
	for _, r := range batch {
		if err != nil {
			in.releaseAll(r.nes)
			r.done <- reply{err: err}
			continue
		}
		mine := res[:len(r.nes)]
		res = res[len(r.nes):]
		for i := range r.nes {
			if !mine[i].Duplicate {
				created++
				for j := range r.nes[i].Deliveries {
					queued = queued || r.nes[i].Deliveries[j].Status == store.DeliveryPending
				}
				for _, m := range r.nes[i].Messages {
					if m.LeaseID != "" {
						continue // handed over: no other claim can take it
					}
					if filled == nil {
						filled = map[string]bool{}
					}
					filled[m.SubscriptionID] = true
				}
				in.handMessages(&r.nes[i], &mine[i].Event)
			} else {
				in.handMessages(&r.nes[i], nil)
			}
			in.handOver(&r.nes[i], mine[i].Leased)
		}
		r.done <- reply{res: mine}
	}
	if created > 0 {
		in.metrics.EventsAccepted.Add(float64(created))
	}
	if queued {
		in.dispatch.Notify()
	}
	if in.Mailboxes != nil {
		for sub := range filled {
			in.Mailboxes.Notify(sub)
		}
	}
}

// releaseAll gives back the places reserved for events that were not written.
func (in *Ingester) releaseAll(nes []store.NewEvent) {
	for i := range nes {
		in.handOver(&nes[i], nil)
		in.handMessages(&nes[i], nil)
	}
}

// handMessages gives the claims they were reserved for the messages of one
// event stored claimed (ev set), or gives the reservations back (ev nil:
// not stored, or a duplicate).
func (in *Ingester) handMessages(ne *store.NewEvent, ev *store.Event) {
	if in.Mailboxes == nil {
		return
	}
	for _, m := range ne.Messages {
		if m.LeaseID == "" {
			continue
		}
		if ev == nil {
			in.Mailboxes.Release(m.SubscriptionID, m.LeaseID)
			continue
		}
		in.Mailboxes.Handoff(m.SubscriptionID, m.LeaseID, store.ClaimedMessage{Message: m, Event: *ev})
	}
}

// handOver gives the dispatcher the deliveries of one event stored leased
// to this node and releases the places reserved for the others.
func (in *Ingester) handOver(ne *store.NewEvent, leased []string) {
	// A set, not a scan of leased per delivery: a fan-out to a thousand
	// subscriptions would otherwise cost a million comparisons per event.
	stored := make(map[string]bool, len(leased))
	for _, id := range leased {
		stored[id] = true
	}
	for _, d := range ne.Deliveries {
		if d.Status != store.DeliverySending {
			continue
		}
		if !stored[d.ID] {
			in.dispatch.Release(d.SubscriptionID, len(ne.Event.Data))
			continue
		}
		d.WorkspaceID, d.EventID = ne.Event.WorkspaceID, ne.Event.ID
		in.dispatch.Handoff(store.ClaimedDelivery{Delivery: d, Event: ne.Event})
	}
}

// drainClosed answers publishes that arrived after shutdown began.
func (in *Ingester) drainClosed() {
	for {
		select {
		case r := <-in.reqs:
			in.releaseAll(r.nes)
			r.done <- reply{err: errShuttingDown}
		default:
			return
		}
	}
}

// The dispatcher: it claims due deliveries from the store under leases,
// spreads them over per-subscription queues with their own concurrency limit
// (so a slow or dead receiver only ever holds up itself), and hands results
// to a completer that writes them back in batches.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/store"
)

// Tuning. Leases are short so that a dead node's work is taken over soon,
// and renewed by a heartbeat while this node holds them. Queues are deep
// while memory is plentiful: a delivery that finds room is handed over at
// publish and written twice, one that does not is stored pending and costs
// a claim, a third write. Once half of maxInMemory or of the memory budget
// (Options.QueueMemory) is in use they are shallow, so that a few slow
// subscriptions cannot take the memory every other subscription needs.
const (
	claimBatch    = 500
	completeBatch = 1000
	// completeLinger is how long a result waits for others to share its
	// write: at 100 deliveries/s, about five to a transaction.
	completeLinger = 50 * time.Millisecond
	maxInMemory    = 20000
	deepQueue      = 64 // places per request in flight, while memory is plentiful
	shallowQueue   = 8  // and once it is not
	// deliveryOverhead is what a delivery weighs in memory besides its
	// event's data: the delivery and event, their ids and its places in a
	// queue and in held measure about 0.8 KiB.
	deliveryOverhead = 1 << 10
	// maxEventData bounds an event's data: the API refuses larger requests.
	// A claim takes no more deliveries than would fit if each were this
	// large, since their sizes are known only once claimed.
	maxEventData  = 1 << 20
	leaseDuration = 30 * time.Second
	heartbeat     = leaseDuration / 3
	targetTTL     = 5 * time.Second // how stale a node's view of a subscription may be
	idlePoll      = time.Second
)

// Options configure a Dispatcher.
type Options struct {
	Owner         string // lease owner: this node
	Concurrency   int    // requests in flight per subscription
	RetrySchedule []time.Duration
	// QueueMemory is the budget, in bytes, of the deliveries held in memory
	// (queued, being sent or their results being written), each weighing
	// its event's data plus deliveryOverhead. Past it, new deliveries stay
	// in the store until memory frees.
	QueueMemory int64
	Metrics     *metrics.Metrics
	Log         *slog.Logger
}

// Store is what the dispatcher needs of the store: the subscriptions it
// sends to, and the deliveries as a queue.
type Store interface {
	SubscriptionByID(ctx context.Context, id string) (*store.Subscription, error)
	NextDue(ctx context.Context) (time.Time, bool, error)
	ClaimDeliveries(ctx context.Context, c store.Claim) ([]store.ClaimedDelivery, error)
	CompleteDeliveries(ctx context.Context, now time.Time, outcomes []store.Outcome) ([]string, error)
	ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int, error)
	ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error)
	RecordTestAttempt(ctx context.Context, e *store.Event, d *store.Delivery, a *store.Attempt) error
}

// Dispatcher runs the push delivery engine.
type Dispatcher struct {
	store  Store
	sender *Sender
	opt    Options

	wake    chan struct{} // new work may be due
	room    chan struct{} // a queue drained to half
	results chan outcome

	mu       sync.Mutex
	queues   map[string]*subQueue
	targets  map[string]*target
	mem      memory              // claimed, handed off or reserved
	held     map[string]struct{} // deliveries leased to this node, queued or being sent
	gen      uint64              // bumped by Invalidate: a load begun before is not cached
	runCtx   context.Context     // the workers' context while Run runs
	stopping bool                // Run's context ended: results are written a few times at most

	workers sync.WaitGroup
}

type subQueue struct {
	items    []store.ClaimedDelivery
	running  int
	reserved int // places promised to ingest by Reserve
}

type outcome struct {
	store.Outcome
	r        *result
	inactive bool  // not sent: the subscription was not active
	weight   int64 // what the delivery counts for in memory until it is written
}

// memory accounts for the deliveries in memory: claimed, handed off or
// reserved, until their results are written. d.mu guards it.
type memory struct {
	count  int
	bytes  int64 // their weights
	budget int64
}

// weight is what a delivery whose event data is n bytes counts for.
func weight(n int) int64 { return int64(n) + deliveryOverhead }

// fits reports whether a delivery of weight w may be taken into memory.
// Anything fits while nothing is in memory: an event larger than the whole
// budget is still sent, alone, rather than left in the store for good.
func (m *memory) fits(w int64) bool {
	return m.count < maxInMemory && (m.count == 0 || m.bytes+w <= m.budget)
}

// claimable is how many deliveries of any size a claim may take; at least
// one while nothing is in memory, as for fits.
func (m *memory) claimable() int {
	n := int((m.budget - m.bytes) / weight(maxEventData))
	if m.count == 0 {
		n = max(n, 1)
	}
	return min(n, maxInMemory-m.count)
}

// plentiful reports whether less than half of memory is in use.
func (m *memory) plentiful() bool {
	return m.count < maxInMemory/2 && m.bytes < m.budget/2
}

func (m *memory) add(w int64) {
	m.count++
	m.bytes += w
}

func (m *memory) remove(w int64) {
	m.count--
	m.bytes -= w
}

// New returns a dispatcher; Run starts it.
func New(s Store, sender *Sender, opt Options) *Dispatcher {
	return &Dispatcher{
		store: s, sender: sender, opt: opt,
		wake:    make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		results: make(chan outcome, 4096),
		queues:  map[string]*subQueue{},
		targets: map[string]*target{},
		held:    map[string]struct{}{},
		mem:     memory{budget: opt.QueueMemory},
	}
}

// Notify tells the dispatcher that new work may be due. It never blocks.
func (d *Dispatcher) Notify() { signal(d.wake) }

// signal sets a wake-up channel without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Invalidate drops the cached view of a subscription after it changed.
func (d *Dispatcher) Invalidate(subID string) {
	d.mu.Lock()
	delete(d.targets, subID)
	d.gen++
	d.mu.Unlock()
	d.Notify()
}

// Run claims and sends until ctx ends, then lets in-flight sends finish,
// writes their results and returns unsent leases to the queue.
func (d *Dispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	d.runCtx = ctx
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.complete()
		close(done)
	}()
	// The heartbeat outlives ctx: sends under way finish after it ends, and
	// their leases must hold until their results are written.
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() {
		d.heartbeat(hbCtx)
		close(hbDone)
	}()
	d.fetchLoop(ctx)
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	d.workers.Wait()
	close(d.results)
	<-done
	stopHeartbeat()
	<-hbDone
	// Whatever is still queued in memory was never sent.
	bg, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.store.ReleaseLeases(bg, d.opt.Owner, time.Now()); err != nil {
		d.opt.Log.Error("releasing leases at shutdown", "err", err)
	}
}

// heartbeat renews the leases of the deliveries this node holds until ctx
// ends. A delivery leased to this node that it does not hold (a claim whose
// answer was lost) is not renewed, so its lease runs out and another round
// of maintenance hands it back to the queue.
func (d *Dispatcher) heartbeat(ctx context.Context) {
	renewals := backoff{what: "renewing delivery leases", log: d.opt.Log}
	t := time.NewTimer(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		wait := heartbeat
		d.mu.Lock()
		ids := make([]string, 0, len(d.held))
		for id := range d.held {
			ids = append(ids, id)
		}
		d.mu.Unlock()
		if len(ids) > 0 {
			bg, cancel := context.WithTimeout(context.Background(), heartbeat)
			_, err := d.store.ExtendLeases(bg, d.opt.Owner, ids, time.Now().Add(leaseDuration))
			cancel()
			if err != nil {
				// Sooner than the next heartbeat (the back-off stays below
				// it), so that the leases are renewed soon after the store
				// answers again, before they run out.
				wait = renewals.failed(err)
			} else {
				renewals.ok()
			}
		}
		t.Reset(wait)
	}
}

func (d *Dispatcher) fetchLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	claims := backoff{what: "claiming deliveries", log: d.opt.Log}
	// more: due work was left behind, for full queues only. The loop then
	// parks: new work waits for a queue to drain to half, or for the next
	// poll (20 ms), rather than waking a claim per publish that would find
	// nothing to take after reading past the whole backlog.
	more := false
	for {
		wake, room := d.wake, d.room
		if more {
			wake = nil
		}
		if claims.failing() {
			// Only time ends a back-off: a publish or a finished send
			// does not make the store answer.
			wake, room = nil, nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-room:
		case <-timer.C:
		}
		// Claiming is a write transaction; a read first says whether
		// anything is due at all, which after most wake-ups nothing is.
		next, ok, err := d.store.NextDue(ctx)
		more = false
		if err == nil && ok && !next.After(time.Now()) {
			if more, err = d.fill(ctx); err == nil && !more {
				next, ok, err = d.store.NextDue(ctx) // what the claims left
			}
		}
		if ctx.Err() != nil {
			return // the store calls failed for that, not for the store
		}
		wait := idlePoll
		switch {
		case err != nil:
			wait = claims.failed(err)
		case more:
			wait = 20 * time.Millisecond
		case ok:
			wait = min(max(time.Until(next), time.Millisecond), idlePoll)
		}
		if err == nil {
			claims.ok()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// fill claims due deliveries while there is room in memory. It reports
// whether due work was left behind because queues or memory were full, or
// the error of a claim that failed (those before it are queued).
func (d *Dispatcher) fill(ctx context.Context) (bool, error) {
	for ctx.Err() == nil {
		d.mu.Lock()
		perSub := d.queueCap()
		// No more than one queue's worth: a claim then needs no
		// per-subscription cap, which costs the store a sort.
		room := min(d.mem.claimable(), claimBatch, perSub)
		var skip []string
		for subID, q := range d.queues {
			if len(q.items)+q.reserved >= perSub {
				skip = append(skip, subID)
			}
		}
		d.mu.Unlock()
		if room <= 0 {
			return true, nil
		}
		now := time.Now()
		claimed, err := d.store.ClaimDeliveries(ctx, store.Claim{Owner: d.opt.Owner, Now: now,
			LeaseUntil: now.Add(leaseDuration), Limit: room, Skip: skip, PerSubscription: perSub})
		if err != nil {
			return false, err
		}
		d.enqueue(ctx, claimed)
		if len(claimed) < room {
			return len(skip) > 0, nil
		}
	}
	return false, nil
}

func (d *Dispatcher) enqueue(ctx context.Context, claimed []store.ClaimedDelivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cd := range claimed {
		d.mem.add(weight(len(cd.Event.Data)))
		d.held[cd.Delivery.ID] = struct{}{}
		subID := cd.Delivery.SubscriptionID
		d.push(ctx, subID, d.queue(subID), cd)
	}
}

// queueCap is how many deliveries one subscription's queue holds; d.mu is held.
func (d *Dispatcher) queueCap() int {
	if d.mem.plentiful() {
		return d.opt.Concurrency * deepQueue
	}
	return d.opt.Concurrency * shallowQueue
}

// queue returns a subscription's queue, made if needed; d.mu is held.
func (d *Dispatcher) queue(subID string) *subQueue {
	q := d.queues[subID]
	if q == nil {
		q = &subQueue{}
		d.queues[subID] = q
	}
	return q
}

// push appends to a queue and starts a worker if the subscription has room
// for one more request in flight; d.mu is held.
func (d *Dispatcher) push(ctx context.Context, subID string, q *subQueue, cd store.ClaimedDelivery) {
	q.items = append(q.items, cd)
	if q.running < d.opt.Concurrency {
		q.running++
		d.workers.Add(1)
		go d.work(ctx, subID, q)
	}
}

// dropIdle forgets a queue with nothing in it, running or promised; d.mu is held.
func (d *Dispatcher) dropIdle(subID string, q *subQueue) {
	if q.running == 0 && q.reserved == 0 && len(q.items) == 0 && d.queues[subID] == q {
		delete(d.queues, subID)
	}
}

// Reserve promises ingest a place in a subscription's queue for a delivery
// of an event whose data is size bytes, about to be inserted, so that the
// delivery can be stored leased to this node and sent without a claim. It
// returns the lease to store (its owner and length), or false when the
// queue or memory is full or the dispatcher is not running: the delivery is
// then stored pending and claimed as usual.
func (d *Dispatcher) Reserve(subID string, size int) (owner string, lease time.Duration, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := weight(size)
	if d.runCtx == nil || d.runCtx.Err() != nil || !d.mem.fits(w) {
		return "", 0, false
	}
	q := d.queue(subID)
	if len(q.items)+q.reserved >= d.queueCap() {
		return "", 0, false
	}
	q.reserved++
	d.mem.add(w)
	return d.opt.Owner, leaseDuration, true
}

// Release gives back a place Reserve promised, with the same size: nothing
// was leased after all.
func (d *Dispatcher) Release(subID string, size int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queue(subID)
	q.reserved--
	d.mem.remove(weight(size))
	d.dropIdle(subID, q)
}

// Handoff queues a delivery that ingest stored leased to this node, in the
// place Reserve promised: its event's data is as large as Reserve was told.
func (d *Dispatcher) Handoff(cd store.ClaimedDelivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	subID := cd.Delivery.SubscriptionID
	q := d.queue(subID)
	q.reserved--
	d.held[cd.Delivery.ID] = struct{}{}
	d.push(d.runCtx, subID, q, cd)
}

// work sends a subscription's queued deliveries until its queue is empty.
func (d *Dispatcher) work(ctx context.Context, subID string, q *subQueue) {
	defer d.workers.Done()
	for {
		d.mu.Lock()
		if len(q.items) == 0 {
			q.running--
			d.dropIdle(subID, q)
			d.mu.Unlock()
			return
		}
		cd := q.items[0]
		q.items[0] = store.ClaimedDelivery{}
		q.items = q.items[1:]
		// Half empty: wake the fetch loop now, so that a backlog in the
		// store tops the queue up before it runs dry, rather than at the
		// next poll.
		refill := len(q.items) == d.queueCap()/2
		d.mu.Unlock()
		if refill {
			signal(d.room)
		}
		o := d.deliver(ctx, subID, &cd)
		o.weight = weight(len(cd.Event.Data))
		d.results <- o
	}
}

// deliver makes one attempt at a claimed delivery and decides what follows.
func (d *Dispatcher) deliver(ctx context.Context, subID string, cd *store.ClaimedDelivery) outcome {
	o := outcome{Outcome: store.Outcome{Owner: d.opt.Owner, DeliveryID: cd.Delivery.ID, SubscriptionID: subID}}
	if ctx.Err() != nil {
		// Shutting down: leave it pending, due now, as it was.
		o.Status, o.NextAttemptAt = store.DeliveryPending, time.Now()
		return o
	}
	t, err := d.target(ctx, subID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		o.Status = store.DeliveryHeld // deleted: the row is gone too; nothing is written
		return o
	case err != nil:
		// The store is unreachable: try again soon rather than send blind.
		o.Status = store.DeliveryPending
		o.NextAttemptAt = time.Now().Add(5 * time.Second)
		// The cause goes to the log: it may name database hosts and users,
		// and the delivery's last_error is shown to the workspace.
		d.opt.Log.Warn("loading a subscription to send to", "subscription_id", subID, "err", err)
		o.Error = "the subscription could not be loaded; trying again shortly"
		return o
	case t.sub.Status != store.SubscriptionActive:
		// Put it back as pending, due now, rather than held: the store holds
		// pending deliveries of a subscription that is not active in the
		// same transaction, against its status at that moment. Writing held
		// here would race an enable that commits between this decision and
		// the write, and leave the delivery held under an active subscription.
		o.Status, o.NextAttemptAt, o.inactive = store.DeliveryPending, time.Now(), true
		return o
	}
	now := time.Now()
	attempts := cd.Delivery.Attempts + 1
	// A send under way finishes even when shutdown begins; its timeout bounds it.
	r := d.sender.send(context.WithoutCancel(ctx), t, &cd.Event, cd.Delivery.ID, attempts, now)
	o.r = &r
	o.Attempt = &r.attempt
	switch {
	case r.ok:
		o.Status, o.Success = store.DeliverySucceeded, true
	case r.gone:
		o.Status, o.Gone, o.Error = store.DeliveryHeld, true, r.attempt.Error
	default:
		o.CountFailure, o.Error = true, r.attempt.Error
		if delay, ok := nextDelay(t.schedule, attempts, r.retryAfter); ok {
			o.Status, o.NextAttemptAt = store.DeliveryPending, time.Now().Add(delay)
		} else {
			o.Status = store.DeliveryFailed
		}
	}
	// Checked first, so that at info level the line costs nothing.
	if d.opt.Log.Enabled(ctx, slog.LevelDebug) {
		d.logAttempt(ctx, cd, &r, attempts, &o)
	}
	return o
}

// logAttempt writes the debug line of one attempt: what was sent where,
// the answer and how long it took, and what happens to the delivery next.
func (d *Dispatcher) logAttempt(ctx context.Context, cd *store.ClaimedDelivery, r *result, attempt int, o *outcome) {
	status := 0
	if r.attempt.Response != nil {
		status = r.attempt.Response.Status
	}
	attrs := []slog.Attr{
		slog.String("subscription_id", cd.Delivery.SubscriptionID),
		slog.String("event_id", cd.Event.ID),
		slog.String("delivery_id", cd.Delivery.ID),
		slog.Int("attempt", attempt),
		slog.Int("status", status),
		slog.Int64("duration_ms", r.attempt.DurationMS),
		slog.String("outcome", o.Status),
	}
	if o.Status == store.DeliveryPending && !o.NextAttemptAt.IsZero() {
		attrs = append(attrs, slog.Time("next_attempt_at", o.NextAttemptAt))
	}
	if r.attempt.Error != "" {
		attrs = append(attrs, slog.String("error", r.attempt.Error))
	}
	d.opt.Log.LogAttrs(ctx, slog.LevelDebug, "delivery attempt", attrs...)
}

// target returns the cached, prepared subscription, reloading it when stale.
func (d *Dispatcher) target(ctx context.Context, subID string) (*target, error) {
	now := time.Now()
	d.mu.Lock()
	t := d.targets[subID]
	gen := d.gen
	d.mu.Unlock()
	if t != nil && now.Sub(t.loaded) < targetTTL && (t.prevUntil.IsZero() || now.Before(t.prevUntil)) {
		return t, nil
	}
	sub, err := d.store.SubscriptionByID(ctx, subID)
	if err != nil {
		return nil, err
	}
	if t, err = newTarget(sub, d.opt.RetrySchedule, now); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.gen == gen { // else a change came in while loading: this may be older
		d.targets[subID] = t
	}
	d.mu.Unlock()
	return t, nil
}

// complete writes results back in batches until results is closed.
func (d *Dispatcher) complete() {
	writes := backoff{what: "writing delivery results", log: d.opt.Log}
	batch := make([]outcome, 0, completeBatch)
	linger := time.NewTimer(completeLinger)
	linger.Stop()
	for o := range d.results {
		batch = append(batch[:0], o)
		// Results that arrive one at a time (a steady, modest rate) wait a
		// moment for others, so that one transaction writes several: the
		// transaction, not the rows, is what a result costs then. Nothing
		// waits on the write but the memory the outcome holds; a lease
		// outlasts the wait many times over.
		linger.Reset(completeLinger)
	gather:
		for len(batch) < completeBatch {
			select {
			case o, ok := <-d.results:
				if !ok {
					break gather
				}
				batch = append(batch, o)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		d.write(batch, &writes)
	}
}

// write writes one batch of results, trying again with writes's back-off
// while the store fails.
func (d *Dispatcher) write(batch []outcome, writes *backoff) {
	outs := make([]store.Outcome, len(batch))
	for i := range batch {
		outs[i] = batch[i].Outcome
	}
	var disabled []string
	// Chunks still to write. A store that refuses a chunk for anything but
	// being out of reach has met a result it cannot keep: the chunk is
	// split, so that one such result cannot hold up every other one.
	chunks := [][]store.Outcome{outs}
	for try := 0; len(chunks) > 0; try++ {
		chunk := chunks[len(chunks)-1]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		dis, err := d.store.CompleteDeliveries(ctx, time.Now().UTC(), chunk)
		cancel()
		if err == nil {
			writes.ok()
			disabled = append(disabled, dis...)
			chunks = chunks[:len(chunks)-1]
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			if len(chunk) > 1 {
				h := len(chunk) / 2
				chunks = append(chunks[:len(chunks)-1], chunk[h:], chunk[:h])
				continue
			}
			if a := chunk[0].Attempt; a != nil && a.Response != nil {
				// Keep the delivery's outcome; give up what of the answer
				// the store would not take.
				d.opt.Log.Error("the store refused an attempt's response; keeping the outcome without it",
					"delivery_id", chunk[0].DeliveryID, "err", err)
				kept := *a
				kept.Response = nil
				kept.Error = strings.TrimPrefix(kept.Error+"; ", "; ") + "the response could not be stored"
				chunk[0].Attempt = &kept
				continue
			}
		}
		wait := writes.failed(err)
		// Never drop a result while running: the leases keep the deliveries
		// safe meanwhile. At shutdown give up after a few tries, so that an
		// unreachable store cannot keep the process from exiting; the
		// deliveries' leases run out and they are sent again (at least once).
		d.mu.Lock()
		stopping := d.stopping
		d.mu.Unlock()
		if stopping && try >= 2 {
			n := 0
			for _, c := range chunks {
				n += len(c)
			}
			d.opt.Log.Error("dropping delivery results at shutdown; they will be sent again", "err", err, "count", n)
			break
		}
		time.Sleep(wait)
	}
	m := d.opt.Metrics
	for i := range batch {
		o := &batch[i]
		if o.r != nil {
			m.AttemptDuration.Observe(float64(o.r.attempt.DurationMS) / 1000)
		}
		switch {
		case o.inactive:
			m.Deliveries.WithLabelValues("held").Inc()
		case o.Status == store.DeliverySucceeded:
			m.Deliveries.WithLabelValues("succeeded").Inc()
		case o.Status == store.DeliveryPending:
			m.Deliveries.WithLabelValues("retried").Inc()
		case o.Status == store.DeliveryFailed:
			m.Deliveries.WithLabelValues("failed").Inc()
		case o.Status == store.DeliveryHeld:
			m.Deliveries.WithLabelValues("held").Inc()
		}
	}
	for _, subID := range disabled {
		d.opt.Log.Warn("subscription disabled after repeated failures", "subscription_id", subID)
	}
	d.mu.Lock()
	for i := range batch {
		d.mem.remove(batch[i].weight)
		delete(d.held, batch[i].DeliveryID)
	}
	for _, subID := range disabled {
		delete(d.targets, subID)
	}
	d.mu.Unlock()
	// A retry is due later: the claimer learns when. A finished delivery
	// leaves nothing for it (room in a full queue wakes it through room).
	for i := range batch {
		if batch[i].Status == store.DeliveryPending {
			d.Notify()
			break
		}
	}
}

// Test sends a webhook.test event to sub now and records the attempt; it
// does not count toward auto-disable.
func (d *Dispatcher) Test(ctx context.Context, sub *store.Subscription, data []byte) (*store.Attempt, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	t, err := newTarget(sub, d.opt.RetrySchedule, now)
	if err != nil {
		return nil, err
	}
	e := &store.Event{ID: id.New(id.Event), WorkspaceID: sub.WorkspaceID, Type: store.TestEventType, Label: "Test",
		Data: data, CreatedAt: now}
	dl := &store.Delivery{ID: id.New(id.Delivery), WorkspaceID: sub.WorkspaceID, EventID: e.ID,
		SubscriptionID: sub.ID, CreatedAt: now}
	r := d.sender.send(ctx, t, e, dl.ID, 1, now)
	r.attempt.Test = true
	dl.Status, dl.LastError = store.DeliverySucceeded, ""
	if !r.ok {
		dl.Status, dl.LastError = store.DeliveryFailed, r.attempt.Error
	}
	if err := d.store.RecordTestAttempt(ctx, e, dl, &r.attempt); err != nil {
		return nil, err
	}
	return &r.attempt, nil
}

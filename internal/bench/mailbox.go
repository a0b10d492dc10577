// --mailbox: pull subscriptions. Events are routed to one pull
// subscription's mailbox; claimers claim them (POST …/mailbox/claim) and
// acknowledge them in batches (POST …/mailbox/ack). Without --rate, the
// events are published first (through the batch API) and --concurrency
// claimers (default 8) each claim 100 at a time and acknowledge them,
// until all are done: messages claimed and acknowledged per second. With
// --rate, one claimer long-polls while the events are published at that
// rate: publish→claim-received latency.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The claimers' settings.
const (
	mailboxCount        = 100 // messages per claim
	mailboxLease        = 60  // seconds
	mailboxWait         = 1   // seconds a throughput claimer long-polls
	mailboxLatencyWait  = 30  // seconds the latency claimer long-polls
	mailboxPublishBatch = 1000
)

// MailboxReport covers --mailbox.
type MailboxReport struct {
	Claimers      int     `json:"claimers"`
	Count         int     `json:"count"` // messages asked for per claim
	Claimed       int     `json:"claimed"`
	Acknowledged  int     `json:"acknowledged"` // success acknowledgements applied
	AckRefused    int     `json:"ack_refused"`  // acknowledgements refused in their result (lease_lost, …)
	Errors        int     `json:"errors"`       // failed claim or ack requests
	FirstError    string  `json:"first_error,omitempty"`
	ClaimRequests int     `json:"claim_requests"`
	AckRequests   int     `json:"ack_requests"`
	Seconds       float64 `json:"seconds"` // first claim sent → last acknowledgement answered
	PerSec        float64 `json:"per_sec"` // messages claimed and acknowledged per second
	ClaimLatency  Percent `json:"claim_latency_ms"`
	AckLatency    Percent `json:"ack_latency_ms"`
}

// createPull makes the bench's pull subscription in ws.
func (c *client) createPull(ctx context.Context, ws string) (string, error) {
	var s struct{ ID string }
	err := c.call(ctx, http.MethodPost, "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
		"name": "bench mailbox", "mode": "pull", "event_types": []string{benchEventType},
	}, http.StatusCreated, &s)
	return s.ID, err
}

// claimAnswer is the part of a claim's answer the bench reads.
type claimAnswer struct {
	Messages []struct {
		ID      string `json:"id"`
		LeaseID string `json:"lease_id"`
		Event   struct {
			ID string `json:"id"`
		} `json:"event"`
	} `json:"messages"`
}

// mailboxRun is the claimers' shared bookkeeping.
type mailboxRun struct {
	c     *client
	path  string // …/subscriptions/{id}/mailbox
	epoch time.Time
	one   bool         // acknowledge each message with its own request
	want  atomic.Int64 // messages to acknowledge before stopping

	claimed, acked, refused, failed, claims, ackReqs atomic.Int64
	lastAck                                          atomic.Int64 // since epoch

	mu               sync.Mutex
	firstErr         string
	claimLat, ackLat []time.Duration
	received         map[string]time.Duration // event id → claim answered, since epoch
	done             chan struct{}
	doneOnce         sync.Once
}

func (m *mailboxRun) fail(err error) {
	if m.failed.Add(1) == 1 {
		m.mu.Lock()
		m.firstErr = err.Error()
		m.mu.Unlock()
	}
}

// claim asks for up to mailboxCount messages, long-polling up to wait seconds.
func (m *mailboxRun) claim(ctx context.Context, wait int) (*claimAnswer, error) {
	body := `{"count":` + strconv.Itoa(mailboxCount) + `,"lease_seconds":` + strconv.Itoa(mailboxLease) +
		`,"wait_seconds":` + strconv.Itoa(wait) + `}`
	var out claimAnswer
	start := time.Now()
	err := m.c.call(ctx, http.MethodPost, m.path+"/claim", []byte(body), http.StatusOK, &out)
	at := time.Now()
	if err != nil {
		return nil, err
	}
	m.claims.Add(1)
	m.claimed.Add(int64(len(out.Messages)))
	m.mu.Lock()
	if len(out.Messages) > 0 {
		m.claimLat = append(m.claimLat, at.Sub(start))
	}
	if m.received != nil {
		for _, msg := range out.Messages {
			m.received[msg.Event.ID] = at.Sub(m.epoch)
		}
	}
	m.mu.Unlock()
	return &out, nil
}

// ack acknowledges the claimed messages as success in one batch, or each
// with its own request, all at once.
func (m *mailboxRun) ack(ctx context.Context, got *claimAnswer) error {
	if m.one {
		return m.ackEach(ctx, got)
	}
	body := make([]byte, 0, 16+len(got.Messages)*96)
	body = append(body, `{"acks":[`...)
	for i, msg := range got.Messages {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"id":"`...)
		body = append(body, msg.ID...)
		body = append(body, `","action":"success","lease_id":"`...)
		body = append(body, msg.LeaseID...)
		body = append(body, `"}`...)
	}
	body = append(body, "]}"...)
	var out struct {
		Results []struct {
			Error *struct{ Code string } `json:"error"`
		} `json:"results"`
	}
	start := time.Now()
	if err := m.c.call(ctx, http.MethodPost, m.path+"/ack", body, http.StatusOK, &out); err != nil {
		return err
	}
	took := time.Since(start)
	m.ackReqs.Add(1)
	ok := 0
	for _, r := range out.Results {
		if r.Error == nil {
			ok++
		}
	}
	m.refused.Add(int64(len(out.Results) - ok))
	m.mu.Lock()
	m.ackLat = append(m.ackLat, took)
	m.mu.Unlock()
	m.lastAck.Store(int64(time.Since(m.epoch)))
	if m.acked.Add(int64(ok)) >= m.want.Load() {
		m.doneOnce.Do(func() { close(m.done) })
	}
	return nil
}

// ackEach acknowledges each claimed message with its own request, all in
// flight at once.
func (m *mailboxRun) ackEach(ctx context.Context, got *claimAnswer) error {
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	errc := make(chan error, 1)
	for _, msg := range got.Messages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := m.c.call(ctx, http.MethodPost, m.path+"/"+msg.ID+"/success", []byte(`{"lease_id":"`+msg.LeaseID+`"}`), http.StatusOK, nil)
			var ae *apiError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ae) && ae.Status == http.StatusConflict:
				refused.Add(1)
			default:
				select {
				case errc <- err:
				default:
				}
				return
			}
			m.ackReqs.Add(1)
			m.mu.Lock()
			m.ackLat = append(m.ackLat, time.Since(start))
			m.mu.Unlock()
		}()
	}
	wg.Wait()
	m.refused.Add(refused.Load())
	m.lastAck.Store(int64(time.Since(m.epoch)))
	if m.acked.Add(ok.Load()) >= m.want.Load() {
		m.doneOnce.Do(func() { close(m.done) })
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// measureMailbox runs --mailbox and fills in rep.
func measureMailbox(ctx context.Context, o *options, c *client, publishTo []*client, ws, sub string,
	rep *Report, epoch time.Time, stderr io.Writer) error {
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	claimers := o.concurrency
	if o.rate > 0 {
		claimers = 1
	}
	conns := claimers + 1
	if o.singleAcks {
		conns = claimers * (mailboxCount + 1)
	}
	m := &mailboxRun{c: newClient(c.base, c.token, conns), epoch: epoch, done: make(chan struct{}), one: o.singleAcks,
		path: "/api/v1/workspaces/" + ws + "/subscriptions/" + sub + "/mailbox"}
	pub := newPublisher(publishTo, ws, o.events, o.payload, 1, epoch)

	if o.rate == 0 {
		// Fill the mailbox first, fast; that is not what is measured.
		pub.batch = min(mailboxPublishBatch, o.events)
		pub.closedLoop(runCtx, 2)
		if pub.accepted.Load() == 0 {
			return fmt.Errorf("no event was accepted: %s", pub.firstErr)
		}
	}
	stopProfiles, err := startProfiles(o)
	if err != nil {
		return err
	}
	defer stopProfiles()
	mem := startSampler()
	cpu0 := readCPU()
	var start time.Duration
	if o.rate == 0 {
		m.want.Store(pub.accepted.Load())
		start = time.Since(epoch)
		m.throughput(runCtx, claimers)
	} else {
		m.want.Store(int64(o.events))
		m.received = make(map[string]time.Duration, o.events)
		start = time.Since(epoch)
		m.latency(runCtx, func(ctx context.Context) {
			pub.openLoop(ctx, o.concurrency, o.rate)
			// Failed publishes will never be claimed: stop waiting for them.
			if m.want.Store(pub.accepted.Load()); m.acked.Load() >= m.want.Load() {
				m.doneOnce.Do(func() { close(m.done) })
			}
		})
	}
	cpu1 := readCPU()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			fmt.Fprintln(stderr, "bench: writing the heap profile:", err)
		}
	}
	rep.MaxSampledRSSMB = mem.stop()
	_, rep.PeakRSSMB = readMem()
	summarise(rep, pub, nil, 1, 0, false)

	end := time.Duration(m.lastAck.Load())
	mr := &MailboxReport{Claimers: claimers, Count: mailboxCount, Claimed: int(m.claimed.Load()),
		Acknowledged: int(m.acked.Load()), AckRefused: int(m.refused.Load()), Errors: int(m.failed.Load()),
		FirstError: m.firstErr, ClaimRequests: int(m.claims.Load()), AckRequests: int(m.ackReqs.Load()),
		ClaimLatency: percentiles(m.claimLat), AckLatency: percentiles(m.ackLat)}
	if end > start {
		mr.Seconds = round((end - start).Seconds(), 3)
		mr.PerSec = rate(mr.Acknowledged, end-start)
	}
	rep.Mailbox = mr
	rep.Expected = rep.Accepted
	rep.Delivered = mr.Acknowledged
	rep.Undelivered = rep.Expected - rep.Delivered
	rep.TimedOut = rep.Undelivered > 0
	rep.DeliverSeconds, rep.DeliveredPerSec = mr.Seconds, mr.PerSec
	if m.received != nil {
		// Publish sent → the claim holding the event answered.
		lat := make([]time.Duration, 0, len(m.received))
		for _, r := range pub.records {
			if at, ok := m.received[r.id]; ok && r.id != "" {
				lat = append(lat, at-r.start)
			}
		}
		rep.Latency = percentiles(lat)
		rep.LatencyFrom = "publish"
	} else {
		rep.Latency, rep.LatencyFrom = Percent{}, ""
	}
	rep.cpuUsage(cpu0, cpu1)
	if rep.TimedOut && runCtx.Err() == nil && ctx.Err() == nil && mr.Errors > 0 {
		return fmt.Errorf("mailbox: %d requests failed (first: %s)", mr.Errors, mr.FirstError)
	}
	return nil
}

// throughput runs n claimers until every message is acknowledged.
func (m *mailboxRun) throughput(ctx context.Context, n int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-m.done:
			cancel() // claimers still long-polling an empty mailbox stop
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("part", "claimer"), func(ctx context.Context) {
			defer wg.Done()
			for ctx.Err() == nil {
				got, err := m.claim(ctx, mailboxWait)
				if err == nil && len(got.Messages) > 0 {
					err = m.ack(ctx, got)
				}
				if err != nil && ctx.Err() == nil {
					m.fail(err)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

// latency runs one long-polling claimer while publish runs; a second
// goroutine acknowledges what it claimed, so that it claims again at once.
func (m *mailboxRun) latency(ctx context.Context, publish func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	acks := make(chan *claimAnswer, 64)
	var wg sync.WaitGroup
	wg.Add(2)
	go pprof.Do(ctx, pprof.Labels("part", "claimer"), func(ctx context.Context) {
		defer wg.Done()
		defer close(acks)
		for ctx.Err() == nil {
			got, err := m.claim(ctx, mailboxLatencyWait)
			if err != nil {
				if ctx.Err() == nil {
					m.fail(err)
					time.Sleep(10 * time.Millisecond)
				}
				continue
			}
			if len(got.Messages) > 0 {
				acks <- got
			}
		}
	})
	go func() {
		defer wg.Done()
		for got := range acks {
			if err := m.ack(ctx, got); err != nil && ctx.Err() == nil {
				m.fail(err)
			}
		}
	}()
	publish(ctx)
	select {
	case <-m.done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
}

// startProfiles starts the --cpuprofile and --trace of the measured run;
// the function it returns stops them.
func startProfiles(o *options) (func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			stop()
			return func() {}, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return func() {}, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

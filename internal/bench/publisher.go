// Load generation: publishing bench events through the management API,
// closed loop (--concurrency requests always in flight) or open loop
// (--rate events/s on a fixed schedule), and the raw loopback baseline that
// hits a receiver with a plain Go client for comparison.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postbode/postbode/internal/delivery"
	"github.com/postbode/postbode/internal/store"
)

// pubRecord is one publish; times are since the bench's epoch.
type pubRecord struct {
	id       string // empty when the publish failed
	start    time.Duration
	accepted time.Duration
}

type publisher struct {
	cs      []*client // publishes go to these nodes in turn
	path    string
	epoch   time.Time
	payload int  // bytes of padding in data
	batch   int  // events per request; above 1 through …/events/batch
	inbound bool // path is an inbound webhook's: the body is the data alone

	records  []pubRecord
	accepted atomic.Int64
	failed   atomic.Int64
	lagNS    atomic.Int64 // --rate: worst lateness of a send against its schedule

	errMu    sync.Mutex
	firstErr string
}

func newPublisher(cs []*client, ws string, events, payload, batch int, epoch time.Time) *publisher {
	return &publisher{cs: cs, path: "/api/v1/workspaces/" + ws + "/events", epoch: epoch, payload: payload,
		batch: max(batch, 1), records: make([]pubRecord, events)}
}

// body is the publish request of event seq: for an inbound webhook, the
// event's data alone.
func (p *publisher) body(seq int) []byte {
	b := make([]byte, 0, 64+p.payload)
	if !p.inbound {
		b = append(b, `{"type":"`+benchEventType+`","data":`...)
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `,"pad":"`...)
	for range p.payload {
		b = append(b, 'x')
	}
	b = append(b, `"}`...)
	if !p.inbound {
		b = append(b, '}')
	}
	return b
}

// one publishes event seq and records it.
func (p *publisher) one(ctx context.Context, seq int) {
	rec := &p.records[seq]
	rec.start = time.Since(p.epoch)
	var out struct{ ID string }
	err := p.cs[seq%len(p.cs)].call(ctx, http.MethodPost, p.path, p.body(seq), http.StatusAccepted, &out)
	if err == nil && out.ID == "" {
		err = errNoID
	}
	p.record(err, rec, out.ID)
}

// several publishes events from..to-1 in one batch request and records them.
func (p *publisher) several(ctx context.Context, from, to int) {
	body := []byte(`{"events":[`)
	start := time.Since(p.epoch)
	for seq := from; seq < to; seq++ {
		if seq > from {
			body = append(body, ',')
		}
		body = append(body, p.body(seq)...)
		p.records[seq].start = start
	}
	body = append(body, "]}"...)
	var out struct{ Events []struct{ ID string } }
	err := p.cs[from%len(p.cs)].call(ctx, http.MethodPost, p.path+"/batch", body, http.StatusAccepted, &out)
	if err == nil && len(out.Events) != to-from {
		err = errNoID
	}
	for i := range to - from {
		id := ""
		if err == nil {
			id = out.Events[i].ID
		}
		p.record(err, &p.records[from+i], id)
	}
}

// record notes the outcome of one publish.
func (p *publisher) record(err error, rec *pubRecord, id string) {
	if err == nil && id == "" {
		err = errNoID
	}
	if err != nil {
		if p.failed.Add(1) == 1 {
			p.errMu.Lock()
			p.firstErr = err.Error()
			p.errMu.Unlock()
		}
		return
	}
	rec.accepted = time.Since(p.epoch)
	rec.id = id
	p.accepted.Add(1)
}

var errNoID = errors.New("the publish answer has no id for an event")

// closedLoop keeps conc publish requests in flight until every event was sent or ctx ends.
func (p *publisher) closedLoop(ctx context.Context, conc int) {
	pprof.Do(ctx, pprof.Labels("part", "publisher"), func(ctx context.Context) { p.closed(ctx, conc) })
}

func (p *publisher) closed(ctx context.Context, conc int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, len(p.records)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				from := int(next.Add(int64(p.batch))) - p.batch
				if from >= len(p.records) {
					return
				}
				if p.batch == 1 {
					p.one(ctx, from)
				} else {
					p.several(ctx, from, min(from+p.batch, len(p.records)))
				}
			}
		}()
	}
	wg.Wait()
}

// openLoop sends event i at start + i/rate, whatever the answers do, on up
// to conc requests in flight. When all of them are busy the schedule slips,
// and the slip is reported rather than hidden.
func (p *publisher) openLoop(ctx context.Context, conc int, perSec float64) {
	pprof.Do(ctx, pprof.Labels("part", "publisher"), func(ctx context.Context) { p.open(ctx, conc, perSec) })
}

func (p *publisher) open(ctx context.Context, conc int, perSec float64) {
	jobs := make(chan int, conc)
	var wg sync.WaitGroup
	for range min(conc, len(p.records)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				p.one(ctx, seq)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / perSec)
	start := time.Now()
	timer := time.NewTimer(0)
	<-timer.C
loop:
	for seq := range p.records {
		due := start.Add(time.Duration(seq) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break loop
			}
		}
		select {
		case jobs <- seq:
		case <-ctx.Done():
			break loop
		}
		if lag := time.Since(due); lag > time.Duration(p.lagNS.Load()) {
			p.lagNS.Store(int64(lag))
		}
	}
	close(jobs)
	wg.Wait()
}

// sampleBody is the body Postbode sends for a bench event, built by the
// delivery package itself, so the baseline sends bodies of the same size.
func sampleBody(payload int) []byte {
	p := &publisher{payload: payload}
	var in struct {
		Data json.RawMessage `json:"data"`
	}
	json.Unmarshal(p.body(1_000_000), &in)
	now := time.Now().UTC().Truncate(time.Microsecond)
	sub := &store.Subscription{ID: "sub_0123456789abcdef0123456789abcdef", Format: "envelope", Payload: "full"}
	e := &store.Event{ID: "evt_0123456789abcdef0123456789abcdef", WorkspaceID: "ws_0123456789abcdef0123456789abcdef",
		Type: benchEventType, Label: "Bench event", Data: in.Data, CreatedAt: now}
	b, err := delivery.Body(sub, e)
	if err != nil {
		return bytes.Repeat([]byte("x"), payload+300)
	}
	return b
}

// baseline posts body to url from conc keep-alive connections for d and
// returns the completed request rate. The requests carry the same kind of
// headers a webhook does, each with its own webhook-id, so the receiver
// does the same work per request as in the real run.
func baseline(ctx context.Context, url string, conc int, d time.Duration, body []byte, paced float64) *Baseline {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: conc, MaxIdleConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := "v1," + strings.Repeat("A", 43) + "="
	var ok, failed atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cpu0 := readCPU()
	start := time.Now()
	var wg sync.WaitGroup
	// Paced, the workers take the requests of one schedule in turn: request
	// n is sent at start + n/paced, as the measured run offers its events.
	var next atomic.Int64
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prefix := "evt_raw_" + strconv.Itoa(w) + "_"
			for n := 0; ctx.Err() == nil; n++ {
				if paced > 0 {
					at := start.Add(time.Duration(float64(next.Add(1)-1) * float64(time.Second) / paced))
					if wait := time.Until(at); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header["Content-Type"] = []string{"application/json"}
				req.Header["User-Agent"] = []string{"Postbode/bench"}
				req.Header["webhook-id"] = []string{prefix + strconv.Itoa(n)}
				req.Header["webhook-timestamp"] = []string{ts}
				req.Header["webhook-signature"] = []string{sig}
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := int(ok.Load())
	var usage Report
	usage.Delivered = n
	usage.cpuUsage(cpu0, readCPU())
	return &Baseline{RequestsPerSec: rate(n, elapsed), Requests: n, Errors: int(failed.Load()),
		Seconds: round(elapsed.Seconds(), 2), Concurrency: conc, BodyBytes: len(body), PacedPerSec: paced,
		CPUPerReqUS: usage.CPUPerEventUS, OtherBusyPct: usage.OtherBusyPct}
}

// The bench's webhook receiver: a plain net/http server that answers 200 at
// once and records when each (event, subscription) pair first arrived, so
// arrivals can be matched to publishes through the webhook-id header (the
// event id). It shares the machine with everything it measures, so it does
// as little as it can: one map insert under a mutex per request.
package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// arrivalKey is one delivery: an event at one subscription (its index in
// the bench, taken from the path /s/{i}).
type arrivalKey struct {
	id  string
	sub int32
}

type receiver struct {
	URL   string // base URL the server posts to
	epoch time.Time
	srv   *http.Server
	ln    net.Listener

	mu  sync.Mutex
	got map[arrivalKey]time.Duration // first arrival, since epoch

	unique     atomic.Int64
	duplicates atomic.Int64
	requests   atomic.Int64
	bodyBytes  atomic.Int64
}

// newReceiver listens on addr; publicURL, when set, is the base URL a remote
// server must use to reach it.
func newReceiver(addr, publicURL string, epoch time.Time) (*receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &receiver{URL: strings.TrimSuffix(publicURL, "/"), epoch: epoch, ln: ln, got: map[arrivalKey]time.Duration{}}
	if rc.URL == "" {
		rc.URL = "http://" + ln.Addr().String()
	}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// Labelled so that a --cpuprofile splits the time between the parts.
	go pprof.Do(context.Background(), pprof.Labels("part", "receiver"), func(context.Context) { rc.srv.Serve(ln) })
	return rc, nil
}

// reset forgets the arrivals, for the next round on the same subscriptions.
func (rc *receiver) reset() {
	rc.mu.Lock()
	clear(rc.got)
	rc.mu.Unlock()
	rc.unique.Store(0)
	rc.duplicates.Store(0)
	rc.requests.Store(0)
	rc.bodyBytes.Store(0)
}

// ServeHTTP records the arrival (when the headers were read) and answers 200.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Since(rc.epoch)
	n, _ := io.Copy(io.Discard, r.Body)
	rc.requests.Add(1)
	rc.bodyBytes.Add(n)
	if id := r.Header.Get("Webhook-Id"); id != "" {
		k := arrivalKey{id: id, sub: subIndex(r.URL.Path)}
		rc.mu.Lock()
		_, dup := rc.got[k]
		if !dup {
			rc.got[k] = at
		}
		rc.mu.Unlock()
		if dup {
			rc.duplicates.Add(1)
		} else {
			rc.unique.Add(1)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// subIndex reads i from /s/{i}; anything else is -1.
func subIndex(path string) int32 {
	rest, ok := strings.CutPrefix(path, "/s/")
	if !ok {
		return -1
	}
	i, err := strconv.ParseInt(rest, 10, 32)
	if err != nil {
		return -1
	}
	return int32(i)
}

// arrivals hands over what arrived so far; later arrivals start a new map.
func (rc *receiver) arrivals() map[arrivalKey]time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := rc.got
	rc.got = map[arrivalKey]time.Duration{}
	return got
}

func (rc *receiver) close() { rc.srv.Close() }

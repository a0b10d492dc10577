package app_test

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// TestClusterLosesNoAcceptedEvent runs three real nodes on one PostgreSQL
// database, publishes through two of them, SIGKILLs one of those mid-run,
// and checks that every event answered 202 reaches the receiver (at least
// once: duplicates are counted and reported), that the surviving nodes
// shared the sending, and that the dead node's leased work was taken over.
func TestClusterLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds the postbode binary and SIGKILLs it mid-run")
	}
	db := pgtest.URL(t)
	bin := buildPostbode(t)

	var delivered deliveredIDs
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		// Slower than the publishers, so that a backlog builds and every
		// node, the killed one included, always holds leased deliveries.
		time.Sleep(200 * time.Millisecond)
		delivered.add(r.Header.Get("webhook-id"))
	})

	// The first node migrates and bootstraps; the others find it done.
	nodes := []*node{startNode(t, bin, "--database", db)}
	nodes = append(nodes, startNode(t, bin, "--database", db), startNode(t, bin, "--database", db))
	srv := &apptest.Server{URL: nodes[0].url}
	ws := srv.Workspace(t, "order.created")
	createSubscription(t, srv, ws, rc.URL+"/hook", nil)
	time.Sleep(1100 * time.Millisecond) // every node's routing cache has seen the subscription

	var wg sync.WaitGroup
	var survivorIDs, killedIDs []string
	var refused int
	stop := make(chan struct{})
	wg.Go(func() { survivorIDs, _ = publishUntil(t, nodes[0].url, ws, 4, stop) })
	wg.Go(func() { killedIDs, refused = publishUntilKilled(t, nodes[1], ws, 4, 1500*time.Millisecond) })
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	accepted := map[string]bool{}
	for _, id := range append(survivorIDs, killedIDs...) {
		accepted[id] = true
	}
	t.Logf("accepted %d through the survivor, %d through the killed node (%d refused at kill time)",
		len(survivorIDs), len(killedIDs), refused)
	if len(survivorIDs) < 50 || len(killedIDs) < 50 {
		t.Fatalf("too few publishes accepted to say anything: %d and %d", len(survivorIDs), len(killedIDs))
	}

	// The killed node's leases run out after at most 30 s; the maintenance
	// leader (checking every 10 s) then hands its deliveries to the others.
	if missing := delivered.waitFor(accepted, 90*time.Second); len(missing) > 0 {
		for _, n := range nodes {
			n.logTail(t)
		}
		t.Fatalf("%d of %d accepted events never reached the receiver, e.g. %v",
			len(missing), len(accepted), missing[:min(5, len(missing))])
	}
	duplicates := 0
	for _, n := range delivered.snapshot() {
		duplicates += n - 1
	}
	t.Logf("all %d accepted events delivered; %d duplicate deliveries (at-least-once)", len(accepted), duplicates)

	// The killed node held leases; a survivor's maintenance returned them.
	released := false
	for _, i := range []int{0, 2} {
		b, _ := os.ReadFile(nodes[i].logPath)
		released = released || strings.Contains(string(b), "lease ran out")
	}
	if !released {
		t.Errorf("no surviving node returned the killed node's leased deliveries to the queue")
	}

	// Both survivors sent: work is shared, not pinned to the node that took the publish.
	for _, i := range []int{0, 2} {
		if n := succeeded(t, nodes[i]); n == 0 {
			t.Errorf("node %d delivered nothing", i)
		} else {
			t.Logf("node %d delivered %d", i, n)
		}
	}
	for _, i := range []int{0, 2} {
		if err := nodes[i].stop(); err != nil {
			nodes[i].logTail(t)
			t.Errorf("node %d: graceful shutdown: %v", i, err)
		}
	}
}

var succeededMetric = regexp.MustCompile(`postbode_deliveries_total\{outcome="succeeded"\} (\d+)`)

// succeeded reads a node's count of successful deliveries from /metrics.
func succeeded(t *testing.T, n *node) int {
	t.Helper()
	_, body := get(t, n.url+"/metrics")
	m := succeededMetric.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no succeeded count in /metrics")
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

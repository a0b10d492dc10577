package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
)

// TestCrashLosesNoAcceptedEvent runs the real binary, publishes from several
// goroutines while deliveries are under way, SIGKILLs it mid-run, restarts it
// on the same data directory (twice), and checks that every event whose
// publish was answered 202 reaches the receiver: at least once, duplicates
// allowed and counted.
func TestCrashLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds the postbode binary and SIGKILLs it mid-run")
	}
	bin := buildPostbode(t)
	dataDir := t.TempDir()

	var delivered deliveredIDs
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		// A little latency keeps sends in flight; the odd 503 keeps retries pending.
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
		if rand.IntN(20) == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered.add(r.Header.Get("webhook-id"))
	})
	received := delivered.snapshot

	node := startNode(t, bin, "--data-dir", dataDir)
	srv := &apptest.Server{URL: node.url} // for its admin-token helpers
	ws := srv.Workspace(t, "order.created")
	createSubscription(t, srv, ws, rc.URL+"/hook", nil)

	accepted := map[string]bool{}
	var refused int
	for round := range 2 {
		ids, failed := publishUntilKilled(t, node, ws, 6, time.Second)
		for _, id := range ids {
			accepted[id] = true
		}
		refused += failed
		t.Logf("round %d: %d publishes accepted, %d not (killed); receiver has %d events so far",
			round, len(ids), failed, len(received()))
		node = startNode(t, bin, "--data-dir", dataDir)
	}
	if len(accepted) < 100 {
		t.Fatalf("only %d publishes were accepted; too few to say anything", len(accepted))
	}

	if missing := delivered.waitFor(accepted, 20*time.Second); len(missing) > 0 {
		node.logTail(t)
		t.Fatalf("%d of %d accepted events never reached the receiver, e.g. %v",
			len(missing), len(accepted), missing[:min(5, len(missing))])
	}

	got := received()
	duplicates, unacknowledged := 0, 0
	for id, n := range got {
		duplicates += n - 1
		if !accepted[id] {
			unacknowledged++ // stored, but the 202 was lost with the process
		}
	}
	t.Logf("%d accepted events all delivered; %d duplicate deliveries (at-least-once); %d events delivered "+
		"whose 202 was lost; %d publishes failed at kill time; %d requests in all",
		len(accepted), duplicates, unacknowledged, refused, len(rc.Requests()))

	// The restarted node still shuts down cleanly.
	if err := node.stop(); err != nil {
		node.logTail(t)
		t.Errorf("graceful shutdown after the crashes: %v", err)
	}
}

// deliveredIDs counts, per webhook-id, the requests a receiver answered 2xx.
type deliveredIDs struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *deliveredIDs) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]int{}
	}
	d.n[id]++
}

func (d *deliveredIDs) snapshot() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.n))
	for k, v := range d.n {
		out[k] = v
	}
	return out
}

// waitFor waits up to timeout for every accepted id to arrive and returns
// those that did not.
func (d *deliveredIDs) waitFor(accepted map[string]bool, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		got := d.snapshot()
		var missing []string
		for id := range accepted {
			if got[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildPostbode builds ./cmd/postbode into a temporary directory.
func buildPostbode(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(t.TempDir(), "postbode")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/postbode")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/postbode: %v\n%s", err, out)
	}
	return bin
}

type node struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	exited  chan struct{}
	waitErr error
}

// startNode runs `postbode serve` with storeArgs (--data-dir or --database)
// on a free loopback port and waits until it answers.
func startNode(t *testing.T, bin string, storeArgs ...string) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.CreateTemp(t.TempDir(), "postbode-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--allow-private-targets"}, storeArgs...)...)
	cmd.Env = append(os.Environ(),
		"POSTBODE_BOOTSTRAP_TOKEN="+apptest.Token,
		"POSTBODE_RETRY_SCHEDULE="+strings.TrimSuffix(strings.Repeat("100ms,", 20), ","),
		"POSTBODE_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd, url: "http://" + addr, logPath: logFile.Name(), exited: make(chan struct{})}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() { n.kill() })

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case <-n.exited:
			n.logTail(t)
			t.Fatalf("postbode exited before it was ready: %v", n.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			n.logTail(t)
			t.Fatalf("postbode not ready within 15s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Kill()
	<-n.exited
}

// stop asks for a graceful shutdown and waits for the exit status.
func (n *node) stop() error {
	if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case <-n.exited:
		return n.waitErr
	case <-time.After(20 * time.Second):
		n.kill()
		return errors.New("did not exit within 20s of SIGINT")
	}
}

func (n *node) logTail(t *testing.T) {
	t.Helper()
	b, _ := os.ReadFile(n.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	t.Logf("postbode log (tail):\n%s", b)
}

// publishUntilKilled publishes from workers goroutines, SIGKILLs the node
// after runFor while they are still going, and returns the ids of every
// publish answered 202 and how many publishes failed.
func publishUntilKilled(t *testing.T, n *node, ws string, workers int, runFor time.Duration) ([]string, int) {
	t.Helper()
	stop := make(chan struct{})
	go func() {
		time.Sleep(runFor)
		n.kill() // SIGKILL, with publishes and deliveries in flight
		time.Sleep(50 * time.Millisecond)
		close(stop)
	}()
	return publishUntil(t, n.url, ws, workers, stop)
}

// publishUntil publishes to the node at url from workers goroutines until
// stop is closed, and returns the ids of every publish answered 202 and how
// many publishes failed with a connection error (not accepted).
func publishUntil(t *testing.T, url, ws string, workers int, stop <-chan struct{}) ([]string, int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu         sync.Mutex
		ids        []string
		failed     int
		unexpected []string
		wg         sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"type":"order.created","data":{"worker":%d,"n":%d}}`, w, i)
				id, status, err := publishOnce(ctx, client, url, ws, body)
				mu.Lock()
				switch {
				case err != nil:
					failed++ // the process is gone: not accepted
				case status == http.StatusAccepted:
					ids = append(ids, id)
				default:
					unexpected = append(unexpected, fmt.Sprintf("status %d", status))
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	<-stop
	cancel()
	wg.Wait()
	if len(unexpected) > 0 {
		t.Errorf("%d publishes got neither 202 nor a connection error, e.g. %v", len(unexpected), unexpected[0])
	}
	return ids, failed
}

func publishOnce(ctx context.Context, client *http.Client, url, ws, body string) (id string, status int, err error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/workspaces/"+ws+"/events", bytes.NewReader([]byte(body)))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, err // cut off mid-answer: not accepted
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", resp.StatusCode, nil
	}
	var ev struct{ ID string }
	if err := json.Unmarshal(b, &ev); err != nil || ev.ID == "" {
		return "", 0, fmt.Errorf("202 with body %q", b)
	}
	return ev.ID, resp.StatusCode, nil
}

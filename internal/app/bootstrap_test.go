package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/postbode/postbode/internal/app"
	"github.com/postbode/postbode/internal/app/apptest"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveBriefly runs a node on dir until it serves, then stops it, and
// returns what it logged.
func serveBriefly(t *testing.T, dir, token string) string {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DataDir, cfg.BootstrapToken = dir, token
	var logs syncBuffer
	srv := apptest.StartLogged(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	srv.Stop()
	return logs.String()
}

// TestBootstrapAfterBind: building a node makes no admin and shows no
// credentials (a node whose port turns out busy never gets further); the
// first Serve does, once; a configured token on a database that already
// has users is ignored with a warning.
func TestBootstrapAfterBind(t *testing.T) {
	dir := t.TempDir()
	cfg := apptest.Config(t)
	cfg.DataDir, cfg.BootstrapToken = dir, ""
	var logs syncBuffer
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.Store.CountUsers(context.Background())
	a.Store.Close()
	if err != nil || n != 0 || strings.Contains(logs.String(), "password") {
		t.Fatalf("before Serve: %d users, %v, logs %q", n, err, logs.String())
	}

	first := serveBriefly(t, dir, "")
	if strings.Count(first, "password=") != 1 || strings.Count(first, "token=pbi_") != 1 {
		t.Errorf("first start shows the credentials %d/%d times, want once: %s",
			strings.Count(first, "password="), strings.Count(first, "token=pbi_"), first)
	}
	second := serveBriefly(t, dir, "")
	if strings.Contains(second, "password=") || strings.Contains(second, "POSTBODE_BOOTSTRAP_TOKEN") {
		t.Errorf("second start: %s", second)
	}
	third := serveBriefly(t, dir, apptest.Token)
	if !strings.Contains(third, "POSTBODE_BOOTSTRAP_TOKEN is set but the database already has users; it was ignored") ||
		strings.Contains(third, apptest.Token) {
		t.Errorf("a start with a token on a bootstrapped database: %s", third)
	}
}

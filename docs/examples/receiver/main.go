// Command receiver is a small webhook receiver for Postbode: an HTTP
// server that verifies every request with webhook.Middleware and prints the
// events that verified.
//
//	POSTBODE_SECRET=whsec_… go run ./docs/examples/receiver -addr 127.0.0.1:9000
//
// The secret is the subscription's, shown when it was made. For a
// subscription with signature_scheme hmac-sha256, set
// POSTBODE_SIGNATURE_SCHEME=hmac-sha256 (and POSTBODE_SIGNATURE_HEADER if
// it has its own signature_header).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/postbode/postbode/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	path := flag.String("path", "/hook", "the path Postbode posts to")
	flag.Parse()

	secret := os.Getenv("POSTBODE_SECRET")
	if secret == "" {
		log.Fatal("set POSTBODE_SECRET to the subscription's secret (whsec_…)")
	}
	opts := []webhook.Option{
		webhook.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, status int, err error) {
			log.Printf("refused %s %s: %d %v", r.Method, r.URL.Path, status, err)
			http.Error(w, http.StatusText(status), status) // tell the sender nothing more
		}),
	}
	if s := os.Getenv("POSTBODE_SIGNATURE_SCHEME"); s != "" {
		opts = append(opts, webhook.WithScheme(s))
	}
	if h := os.Getenv("POSTBODE_SIGNATURE_HEADER"); h != "" {
		opts = append(opts, webhook.WithSignatureHeader(h))
	}
	v, err := webhook.NewVerifier(secret, opts...)
	if err != nil {
		log.Fatal(err)
	}

	seen := newSeen(24 * time.Hour)
	mux := http.NewServeMux()
	mux.Handle("POST "+*path, v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body) // the verified body, whole
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		ev, err := webhook.Parse(body)
		if errors.Is(err, webhook.ErrNotEnvelope) {
			// format raw or entity: the body is not the envelope.
			fmt.Printf("verified %d bytes: %s\n", len(body), body)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Delivery is at least once: the same event may come again after
		// a retry. Its id is the same every time.
		if seen.add(ev.ID) {
			fmt.Printf("%s %s (%s) subject=%s data=%s\n", ev.Timestamp.Format(time.RFC3339), ev.Type, ev.ID, str(ev.Subject), ev.Data)
		} else {
			fmt.Printf("%s again, ignored\n", ev.ID)
		}
		w.WriteHeader(http.StatusNoContent) // any 2xx within the timeout is success
	})))
	log.Printf("listening on http://%s%s (%s signatures)", *addr, *path, v.Scheme())
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func str(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

// seen remembers event ids for a while, to drop repeats.
type seen struct {
	mu  sync.Mutex
	ttl time.Duration
	ids map[string]time.Time
}

func newSeen(ttl time.Duration) *seen { return &seen{ttl: ttl, ids: map[string]time.Time{}} }

// add records id and reports whether it is new.
func (s *seen) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, t := range s.ids {
		if now.Sub(t) > s.ttl {
			delete(s.ids, k)
		}
	}
	if _, ok := s.ids[id]; ok {
		return false
	}
	s.ids[id] = now
	return true
}

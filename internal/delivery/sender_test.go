package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
)

func ptr[T any](v T) *T { return &v }

func testEvent() *store.Event {
	return &store.Event{
		ID: "evt_1", WorkspaceID: "ws_1", Type: "invoice.paid", Label: "Invoice paid",
		Data:      json.RawMessage(`{"amount": 42, "lines":[1,2]}`),
		UserID:    ptr("user-7"),
		Subject:   ptr("invoice/9"),
		CreatedAt: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC),
	}
}

func testSubscription() *store.Subscription {
	return &store.Subscription{
		ID: "sub_1", WorkspaceID: "ws_1", Name: "billing", Mode: "push", URL: "http://example.invalid/hook",
		EventTypes: []string{"*"}, Status: store.SubscriptionActive, Payload: "full", Format: "envelope",
		Headers: map[string]string{}, SignatureScheme: "standard", SignatureHeader: "X-Postbode-Signature",
		Secret: signing.NewSecret(), TimeoutSeconds: 5, FailureThreshold: 5,
	}
}

var envelopeKeys = []string{"id", "type", "label", "workspace_id", "subscription_id", "user_id", "subject", "data",
	"timestamp", "api_version"}

func TestBody(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*store.Subscription, *store.Event)
		wantKeys []string
		want     map[string]string // key → exact JSON value
	}{
		{
			name:     "full envelope",
			mutate:   func(s *store.Subscription, e *store.Event) { s.APIVersion = ptr("2026-01-01") },
			wantKeys: envelopeKeys,
			want: map[string]string{
				"id": `"evt_1"`, "type": `"invoice.paid"`, "label": `"Invoice paid"`, "workspace_id": `"ws_1"`,
				"subscription_id": `"sub_1"`, "user_id": `"user-7"`, "subject": `"invoice/9"`,
				"data": `{"amount":42,"lines":[1,2]}`, "timestamp": `"2026-03-01T12:00:00.123456Z"`,
				"api_version": `"2026-01-01"`,
			},
		},
		{
			name: "absent optional fields are null",
			mutate: func(s *store.Subscription, e *store.Event) {
				e.UserID, e.Subject = nil, nil
			},
			wantKeys: envelopeKeys,
			want:     map[string]string{"user_id": "null", "subject": "null", "api_version": "null"},
		},
		{
			name:     "data that is JSON null is still sent",
			mutate:   func(s *store.Subscription, e *store.Event) { e.Data = json.RawMessage("null") },
			wantKeys: envelopeKeys,
			want:     map[string]string{"data": "null"},
		},
		{
			name:     "notification leaves data out",
			mutate:   func(s *store.Subscription, e *store.Event) { s.Payload = "notification" },
			wantKeys: slices.DeleteFunc(slices.Clone(envelopeKeys), func(k string) bool { return k == "data" }),
			want:     map[string]string{"id": `"evt_1"`, "type": `"invoice.paid"`, "subscription_id": `"sub_1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, e := testSubscription(), testEvent()
			tt.mutate(sub, e)
			body, err := Body(sub, e)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not a JSON object: %v: %s", err, body)
			}
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			wantKeys := slices.Sorted(slices.Values(tt.wantKeys))
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("envelope keys %v, want %v", keys, wantKeys)
			}
			for k, v := range tt.want {
				if string(got[k]) != v {
					t.Errorf("%s = %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

func TestBodyRawIsExactlyTheData(t *testing.T) {
	for _, data := range []string{`{"amount": 42, "lines":[1,2]}`, `[1, 2,3]`, `"text"`, `17`, `null`, "{\n  \"é\": \"ü\"\n}"} {
		sub, e := testSubscription(), testEvent()
		sub.Format, e.Data = "raw", json.RawMessage(data)
		body, err := Body(sub, e)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != data {
			t.Errorf("raw body %q, want exactly %q", body, data)
		}
	}
}

// sendTo makes one attempt at delivering testEvent to a receiver answering with h.
func sendTo(t *testing.T, h http.HandlerFunc, mutate func(*store.Subscription)) (result, *http.Request, []byte) {
	t.Helper()
	var gotReq atomic.Pointer[http.Request]
	var gotBody atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotReq.Store(r.Clone(context.Background()))
		gotBody.Store(&b)
		h(w, r)
	}))
	defer srv.Close()
	sub := testSubscription()
	sub.URL = srv.URL + "/hook"
	if mutate != nil {
		mutate(sub)
	}
	now := time.Now()
	tg, err := newTarget(sub, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(true, "9.9.9")
	defer s.Close()
	r := s.send(context.Background(), tg, testEvent(), "dlv_1", 1, now)
	var body []byte
	if b := gotBody.Load(); b != nil {
		body = *b
	}
	return r, gotReq.Load(), body
}

func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name           string
		handler        http.HandlerFunc
		timeoutSeconds int
		wantOK         bool
		wantGone       bool
		wantStatus     int // 0: no response
		wantRetryAfter time.Duration
		wantError      string // substring; "" means no error
	}{
		{name: "200", handler: status(200, nil), wantOK: true, wantStatus: 200},
		{name: "204", handler: status(204, nil), wantOK: true, wantStatus: 204},
		{name: "299", handler: status(299, nil), wantOK: true, wantStatus: 299},
		{name: "302 is not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, wantStatus: 302, wantError: "302"},
		{name: "304", handler: status(304, nil), wantStatus: 304, wantError: "304"},
		{name: "400", handler: status(400, nil), wantStatus: 400, wantError: "400"},
		{name: "410 gone", handler: status(410, nil), wantGone: true, wantStatus: 410, wantError: "410"},
		{name: "500", handler: status(500, nil), wantStatus: 500, wantError: "500"},
		{name: "500 ignores retry-after", handler: status(500, map[string]string{"Retry-After": "30"}),
			wantStatus: 500, wantError: "500"},
		{name: "429 with retry-after", handler: status(429, map[string]string{"Retry-After": "30"}),
			wantStatus: 429, wantRetryAfter: 30 * time.Second, wantError: "429"},
		{name: "503 with retry-after", handler: status(503, map[string]string{"Retry-After": "2"}),
			wantStatus: 503, wantRetryAfter: 2 * time.Second, wantError: "503"},
		{name: "429 with garbage retry-after", handler: status(429, map[string]string{"Retry-After": "later"}),
			wantStatus: 429, wantError: "429"},
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, timeoutSeconds: 1, wantError: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, req, _ := sendTo(t, tt.handler, func(s *store.Subscription) {
				if tt.timeoutSeconds > 0 {
					s.TimeoutSeconds = tt.timeoutSeconds
				}
			})
			if req == nil {
				t.Fatal("the receiver got no request")
			}
			if r.ok != tt.wantOK || r.attempt.Succeeded != tt.wantOK {
				t.Errorf("ok = %v, succeeded = %v; want %v", r.ok, r.attempt.Succeeded, tt.wantOK)
			}
			if r.gone != tt.wantGone {
				t.Errorf("gone = %v, want %v", r.gone, tt.wantGone)
			}
			if r.retryAfter != tt.wantRetryAfter {
				t.Errorf("retryAfter = %v, want %v", r.retryAfter, tt.wantRetryAfter)
			}
			switch {
			case tt.wantStatus == 0 && r.attempt.Response != nil:
				t.Errorf("response %+v, want none", r.attempt.Response)
			case tt.wantStatus != 0 && (r.attempt.Response == nil || r.attempt.Response.Status != tt.wantStatus):
				t.Errorf("response %+v, want status %d", r.attempt.Response, tt.wantStatus)
			}
			if tt.wantError == "" && r.attempt.Error != "" || !strings.Contains(r.attempt.Error, tt.wantError) {
				t.Errorf("error %q, want one containing %q", r.attempt.Error, tt.wantError)
			}
		})
	}
}

func status(code int, headers map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
	}
}

func TestSendRequest(t *testing.T) {
	r, req, body := sendTo(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "yes")
		io.WriteString(w, "thanks")
	}, func(s *store.Subscription) {
		s.Headers = map[string]string{"X-Tenant": "acme", "authorization": "Bearer downstream"}
	})
	if req.Method != http.MethodPost || req.URL.Path != "/hook" {
		t.Errorf("request %s %s, want POST /hook", req.Method, req.URL.Path)
	}
	wantHeaders := map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    "Postbode/9.9.9",
		"X-Tenant":      "acme",
		"Authorization": "Bearer downstream",
		"Webhook-Id":    "evt_1",
	}
	for k, v := range wantHeaders {
		if got := req.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if req.Header.Get("webhook-timestamp") == "" || !strings.HasPrefix(req.Header.Get("webhook-signature"), "v1,") {
		t.Errorf("signature headers missing: %v", req.Header)
	}
	if string(body) != r.attempt.Request.Body {
		t.Errorf("the attempt logs body %q, the receiver got %q", r.attempt.Request.Body, body)
	}
	if got := r.attempt.Request.Headers["webhook-signature"]; got != req.Header.Get("webhook-signature") {
		t.Errorf("the attempt logs signature %q, the receiver got %q", got, req.Header.Get("webhook-signature"))
	}
	if r.attempt.Response == nil || r.attempt.Response.Body != "thanks" || r.attempt.Response.Headers["X-Receiver"] != "yes" {
		t.Errorf("response logged as %+v", r.attempt.Response)
	}
	if r.attempt.DeliveryID != "dlv_1" || r.attempt.EventID != "evt_1" || r.attempt.EventType != "invoice.paid" ||
		r.attempt.SubscriptionID != "sub_1" || r.attempt.WorkspaceID != "ws_1" {
		t.Errorf("attempt identifiers %+v", r.attempt)
	}
}

func TestSendHMACSHA256(t *testing.T) {
	var secret string
	r, req, body := sendTo(t, status(200, nil), func(s *store.Subscription) {
		s.SignatureScheme, s.SignatureHeader = "hmac-sha256", "X-Dastra-Signature"
		secret = s.Secret
	})
	if !r.ok {
		t.Fatalf("attempt failed: %s", r.attempt.Error)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := req.Header.Get("X-Dastra-Signature"); got != want {
		t.Errorf("X-Dastra-Signature = %q, want %q", got, want)
	}
	for _, h := range []string{"webhook-signature", "webhook-id", "webhook-timestamp"} {
		if v := req.Header.Get(h); v != "" {
			t.Errorf("hmac-sha256 scheme also sent %s: %q", h, v)
		}
	}
}

func TestSendKeepsAtMost64KiBOfTheResponse(t *testing.T) {
	r, _, _ := sendTo(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 200<<10))
	}, nil)
	if !r.ok {
		t.Fatalf("attempt failed: %s", r.attempt.Error)
	}
	if n := len(r.attempt.Response.Body); n != maxResponseBody {
		t.Errorf("kept %d bytes of the response body, want %d", n, maxResponseBody)
	}
}

func TestSendSignsWithThePreviousSecretUntilItExpires(t *testing.T) {
	tests := []struct {
		name     string
		scheme   string
		expires  time.Duration // from now
		wantBoth bool
	}{
		{"standard, during rotation", "standard", time.Hour, true},
		{"standard, after rotation", "standard", -time.Second, false},
		{"hmac-sha256, during rotation", "hmac-sha256", time.Hour, true},
		{"hmac-sha256, after rotation", "hmac-sha256", -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, prev := signing.NewSecret(), signing.NewSecret()
			sub := testSubscription()
			mutate := func(s *store.Subscription) {
				s.SignatureScheme, s.Secret, s.PreviousSecret = tt.scheme, cur, prev
				s.PreviousSecretExpiresAt = ptr(time.Now().Add(tt.expires))
			}
			mutate(sub)
			r, req, body := sendTo(t, status(200, nil), mutate)
			if !r.ok {
				t.Fatalf("attempt failed: %s", r.attempt.Error)
			}

			header := "webhook-signature"
			if tt.scheme == "hmac-sha256" {
				header = sub.SignatureHeader
			}
			sigs := strings.Fields(req.Header.Get(header))
			if want := map[bool]int{false: 1, true: 2}[tt.wantBoth]; len(sigs) != want {
				t.Errorf("%d signatures %q, want %d", len(sigs), sigs, want)
			}
			if got := r.attempt.Request.Headers[header]; got != req.Header.Get(header) {
				t.Errorf("the attempt logs %s %q, the receiver got %q", header, got, req.Header.Get(header))
			}
			if tt.scheme == "hmac-sha256" {
				want := []string{hmacSHA256(cur, body)}
				if tt.wantBoth {
					want = append(want, hmacSHA256(prev, body))
				}
				if !slices.Equal(sigs, want) {
					t.Errorf("%s = %q, want %q", header, sigs, want)
				}
			} else {
				for _, k := range []struct {
					name, secret string
					want         bool
				}{{"current", cur, true}, {"previous", prev, tt.wantBoth}} {
					wh, err := standardwebhooks.NewWebhook(k.secret)
					if err != nil {
						t.Fatal(err)
					}
					if err := wh.Verify(body, req.Header); (err == nil) != k.want {
						t.Errorf("verifying with the %s secret: %v, want success: %v", k.name, err, k.want)
					}
				}
			}

			// A previous secret that no longer signs must not leave the
			// target to be reloaded on every send.
			tg, err := newTarget(sub, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := !tg.prevUntil.IsZero(); got != tt.wantBoth {
				t.Errorf("target prevUntil %v, want it set: %v", tg.prevUntil, tt.wantBoth)
			}
		})
	}
}

func hmacSHA256(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSendReadsResponsesOfAnySize(t *testing.T) {
	for _, n := range []int{0, 1, 4 << 10, 4<<10 + 1, 50 << 10, maxResponseBody, maxResponseBody + 1, 300 << 10} {
		body := strings.Repeat("0123456789abcdef", n/16+1)[:n]
		r, _, _ := sendTo(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }, nil)
		if !r.ok {
			t.Fatalf("%d bytes: attempt failed: %s", n, r.attempt.Error)
		}
		if want := body[:min(n, maxResponseBody)]; r.attempt.Response.Body != want {
			t.Errorf("%d bytes: kept %d bytes, want the first %d", n, len(r.attempt.Response.Body), len(want))
		}
	}
}

func TestSendReusesTheConnectionAfterACutResponse(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("x", 200<<10))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	sub := testSubscription()
	sub.URL = srv.URL
	tg, err := newTarget(sub, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(true, "9.9.9")
	defer s.Close()
	for i := range 3 {
		if r := s.send(context.Background(), tg, testEvent(), "dlv_1", 1, time.Now()); !r.ok {
			t.Fatalf("send %d: %s", i, r.attempt.Error)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 sends opened %d connections, want 1", n)
	}
}

// TestSendCapsResponseHeaders: an attempt keeps at most 64 KiB of response
// headers, saying so in an extra entry when it left some out, and the
// client refuses a response whose headers pass 1 MiB.
func TestSendCapsResponseHeaders(t *testing.T) {
	tests := []struct {
		name      string
		headers   func(http.Header)
		wantOK    bool
		wantCut   bool
		wantKept  []string // headers that must be kept
		wantError string   // substring, when the attempt fails
	}{
		{name: "small headers are all kept", headers: func(h http.Header) { h.Set("X-Receiver", "yes") },
			wantOK: true, wantKept: []string{"X-Receiver", "Content-Length", "Date"}},
		{name: "many headers, 900 KiB in total", headers: func(h http.Header) {
			for i := range 900 {
				h.Set(fmt.Sprintf("X-Filler-%03d", i), strings.Repeat("x", 1000))
			}
			h.Set("X-Receiver", "yes")
		}, wantOK: true, wantCut: true, wantKept: []string{"X-Receiver", "Content-Length"}},
		{name: "one header of 900 KiB", headers: func(h http.Header) {
			h.Set("X-Huge", strings.Repeat("x", 900<<10))
			h.Set("X-Receiver", "yes")
		}, wantOK: true, wantCut: true, wantKept: []string{"X-Receiver"}},
		{name: "one header repeated to 900 KiB", headers: func(h http.Header) {
			for range 900 {
				h.Add("X-Repeated", strings.Repeat("x", 1000))
			}
		}, wantOK: true, wantCut: true},
		{name: "3 MiB of headers are refused", headers: func(h http.Header) {
			for i := range 3 << 10 {
				h.Set(fmt.Sprintf("X-Filler-%04d", i), strings.Repeat("x", 1000))
			}
		}, wantError: "headers exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := sendTo(t, func(w http.ResponseWriter, r *http.Request) {
				tt.headers(w.Header())
				w.WriteHeader(http.StatusOK)
			}, nil)
			if r.ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (error %q)", r.ok, tt.wantOK, r.attempt.Error)
			}
			if !tt.wantOK {
				if !strings.Contains(r.attempt.Error, tt.wantError) || r.attempt.Response != nil {
					t.Errorf("error %q, response %v; want an error containing %q and no response",
						r.attempt.Error, r.attempt.Response, tt.wantError)
				}
				return
			}
			kept := r.attempt.Response.Headers
			size := 0
			for k, v := range kept {
				size += len(k) + len(v)
			}
			if size > maxResponseHeaders {
				t.Errorf("kept %d bytes of response headers, want at most %d", size, maxResponseHeaders)
			}
			if note, cut := kept[store.HeadersCutHeader]; cut != tt.wantCut || cut && !strings.Contains(note, "left out") {
				t.Errorf("%s = %q (present: %v), want present: %v", store.HeadersCutHeader, note, cut, tt.wantCut)
			}
			for _, k := range tt.wantKept {
				if _, ok := kept[k]; !ok {
					t.Errorf("header %s was not kept", k)
				}
			}
		})
	}
}

// TestSendRedactsSecretsInTheAttempt: the receiver gets the credentials as
// configured; the attempt, which is stored and shown, holds *** instead.
// Signature headers are shown, even under a name that looks secret.
func TestSendRedactsSecretsInTheAttempt(t *testing.T) {
	tests := []struct {
		name        string
		userinfo    string // put in the subscription's URL
		headers     map[string]string
		scheme      string // signature scheme; "" is standard
		sigHeader   string
		wantURL     string // the attempt's URL after the loopback address
		wantLogged  map[string]string
		wantVisible []string // headers logged as the receiver got them
	}{
		{name: "password in the URL", userinfo: "alice:s3cret@", wantURL: "alice:***@",
			wantVisible: []string{"webhook-signature", "webhook-id", "User-Agent"}},
		{name: "user without password: it may be a key", userinfo: "sk_live_1@", wantURL: "***@"},
		{name: "credential headers",
			headers: map[string]string{"Authorization": "Bearer downstream", "X-Shop-Token": "t0k", "X-API-Key": "k",
				"Cookie": "session=1", "X-Tenant": "acme"},
			wantLogged:  map[string]string{"Authorization": "***", "X-Shop-Token": "***", "X-API-Key": "***", "Cookie": "***"},
			wantVisible: []string{"X-Tenant", "webhook-signature"}},
		{name: "hmac signature header with a secret-looking name", scheme: "hmac-sha256", sigHeader: "X-Secret-Signature",
			headers:     map[string]string{"X-Secret": "s"},
			wantLogged:  map[string]string{"X-Secret": "***"},
			wantVisible: []string{"X-Secret-Signature"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, req, _ := sendTo(t, status(200, nil), func(s *store.Subscription) {
				s.URL = strings.Replace(s.URL, "http://", "http://"+tt.userinfo, 1)
				s.Headers = tt.headers
				if tt.scheme != "" {
					s.SignatureScheme, s.SignatureHeader = tt.scheme, tt.sigHeader
				}
			})
			if !r.ok {
				t.Fatalf("attempt failed: %s", r.attempt.Error)
			}
			if want := "http://" + tt.wantURL + req.Host + "/hook"; r.attempt.Request.URL != want {
				t.Errorf("the attempt logs URL %q, want %q", r.attempt.Request.URL, want)
			}
			if user, pass, ok := req.BasicAuth(); tt.userinfo == "alice:s3cret@" && (!ok || user != "alice" || pass != "s3cret") {
				t.Errorf("the receiver got basic auth %q %q %v, want alice s3cret", user, pass, ok)
			}
			for k, want := range tt.wantLogged {
				if got := r.attempt.Request.Headers[k]; got != want {
					t.Errorf("the attempt logs %s: %q, want %q", k, got, want)
				}
				if got := req.Header.Get(k); got != tt.headers[k] {
					t.Errorf("the receiver got %s: %q, want %q", k, got, tt.headers[k])
				}
			}
			for _, k := range tt.wantVisible {
				if got := r.attempt.Request.Headers[k]; got == "" || got != req.Header.Get(k) {
					t.Errorf("the attempt logs %s: %q, the receiver got %q", k, got, req.Header.Get(k))
				}
			}
		})
	}
}

// TestSendErrorsShowNoSecret: an attempt that fails before any answer
// shows neither the URL's password in its URL nor in its error.
func TestSendErrorsShowNoSecret(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	host := strings.TrimPrefix(closed.URL, "http://")
	tests := []struct {
		name, url, wantURL, wantError string
	}{
		{"invalid url", "http://alice:pa/ss@" + host + "/%zz", "http://alice:***@" + host + "/%zz", "invalid url"},
		{"unreachable", "http://alice:s3cret@" + host + "/hook", "http://alice:***@" + host + "/hook", "refused"},
		{"unreachable, a key as the user name", "http://s3cret@" + host + "/hook", "http://***@" + host + "/hook", "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := testSubscription()
			sub.URL = tt.url
			tg, err := newTarget(sub, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s := NewSender(true, "9.9.9")
			defer s.Close()
			r := s.send(context.Background(), tg, testEvent(), "dlv_1", 1, time.Now())
			if r.attempt.Request.URL != tt.wantURL {
				t.Errorf("the attempt logs URL %q, want %q", r.attempt.Request.URL, tt.wantURL)
			}
			if !strings.Contains(r.attempt.Error, tt.wantError) || strings.Contains(r.attempt.Error, "pa/ss") ||
				strings.Contains(r.attempt.Error, "s3cret") {
				t.Errorf("error %q, want one containing %q and no password", r.attempt.Error, tt.wantError)
			}
		})
	}
}

// TestEntityBody: format entity is Aanmelder's body, from an event of type
// <entity>.<action> about subject <entity>/<id>.
func TestEntityBody(t *testing.T) {
	sub := testSubscription()
	sub.Format = "entity"
	subject := func(s string) *string { return &s }
	tests := []struct {
		name    string
		typ     string
		subject *string
		data    string
		payload string
		want    string
	}{
		{"new, a numeric id", "user.new", subject("user/1"), `{"id":1,"name_first":"Guan"}`, "",
			`{"entity_id":1,"entity_type":"user","action_type":"new","result":{"id":1,"name_first":"Guan"}}`},
		{"update, a text id", "company.update", subject("company/c-42"), `{"name":"Let's Get Digital"}`, "",
			`{"entity_id":"c-42","entity_type":"company","action_type":"update","result":{"name":"Let's Get Digital"}}`},
		{"delete has no result", "user.delete", subject("user/7"), `{"id":7}`, "",
			`{"entity_id":7,"entity_type":"user","action_type":"delete"}`},
		{"no subject", "user.new", nil, `{}`, "",
			`{"entity_id":null,"entity_type":"user","action_type":"new","result":{}}`},
		{"an id too large for a number stays text", "user.new", subject("user/99999999999999999999"), `{}`, "",
			`{"entity_id":"99999999999999999999","entity_type":"user","action_type":"new","result":{}}`},
		{"notification leaves the result out", "user.update", subject("user/1"), `{"id":1}`, "notification",
			`{"entity_id":1,"entity_type":"user","action_type":"update"}`},
		{"the test button", "webhook.test", nil, `{"id":"usr_1","email":"ada@example.com","name":"Ada"}`, "",
			`{"entity_id":"usr_1","entity_type":"user","action_type":"test","result":{"id":"usr_1","email":"ada@example.com","name":"Ada"}}`},
	}
	for _, tt := range tests {
		sub.Payload = tt.payload
		e := testEvent()
		e.Type, e.Subject, e.Data = tt.typ, tt.subject, []byte(tt.data)
		got, err := Body(sub, e)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %s, %v\nwant %s", tt.name, got, err, tt.want)
		}
	}
}

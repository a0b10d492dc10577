// Table-driven tests of Verify for both schemes: good and bad signatures,
// rotation, the timestamp's tolerance, missing and malformed headers; and
// of Middleware's answers.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // base64 of 24 bytes
	secretB = "whsec_dGhlIG90aGVyIHNlY3JldCBvZiB0aGlydHkgdHdvIGJ5dGVz"
)

var now = time.Unix(1_700_000_000, 0)

func clock() time.Time { return now }

func standardHeaders(t *testing.T, id string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	var sigs []string
	for _, s := range secrets {
		sig, err := SignStandard(s, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return h
}

// TestSignStandardByHand checks SignStandard against the scheme written
// out: HMAC-SHA256 over id.timestamp.body keyed with the decoded secret.
func TestSignStandardByHand(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretA, "whsec_"))
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, "msg_1.1700000000.{}")
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got, _ := SignStandard(secretA, "msg_1", now, []byte("{}")); got != want {
		t.Fatalf("SignStandard %q, want %q", got, want)
	}
	mac = hmac.New(sha256.New, []byte(secretA)) // the whole string, prefix included
	io.WriteString(mac, "{}")
	if got := SignHMAC(secretA, []byte("{}")); got != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("SignHMAC %q", got)
	}
}

func TestVerifyStandard(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	v, err := NewVerifier(secretA, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	good := func() http.Header { return standardHeaders(t, "evt_1", now, body, secretA) }
	cases := []struct {
		name   string
		header func() http.Header
		body   []byte
		want   error
	}{
		{"good", good, body, nil},
		{"rotation, new first", func() http.Header { return standardHeaders(t, "evt_1", now, body, secretA, secretB) }, body, nil},
		{"rotation, ours second", func() http.Header { return standardHeaders(t, "evt_1", now, body, secretB, secretA) }, body, nil},
		{"another secret only", func() http.Header { return standardHeaders(t, "evt_1", now, body, secretB) }, body, ErrInvalidSignature},
		{"body changed", good, []byte(`{"id":"evt_1","type":"invoice.paid "}`), ErrInvalidSignature},
		{"empty body", good, nil, ErrInvalidSignature},
		{"id changed", func() http.Header { h := good(); h.Set(HeaderID, "evt_2"); return h }, body, ErrInvalidSignature},
		{"timestamp changed", func() http.Header {
			h := good()
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return h
		}, body, ErrInvalidSignature},
		{"4m59s old", func() http.Header { return standardHeaders(t, "evt_1", now.Add(-299*time.Second), body, secretA) }, body, nil},
		{"5m old", func() http.Header { return standardHeaders(t, "evt_1", now.Add(-5*time.Minute), body, secretA) }, body, nil},
		{"5m1s old", func() http.Header { return standardHeaders(t, "evt_1", now.Add(-301*time.Second), body, secretA) }, body, ErrTimestampTooOld},
		{"a day old", func() http.Header { return standardHeaders(t, "evt_1", now.Add(-24*time.Hour), body, secretA) }, body, ErrTimestampTooOld},
		{"5m ahead", func() http.Header { return standardHeaders(t, "evt_1", now.Add(5*time.Minute), body, secretA) }, body, nil},
		{"5m1s ahead", func() http.Header { return standardHeaders(t, "evt_1", now.Add(301*time.Second), body, secretA) }, body, ErrTimestampTooNew},
		{"no headers", func() http.Header { return http.Header{} }, body, ErrMissingHeaders},
		{"no id", func() http.Header { h := good(); h.Del(HeaderID); return h }, body, ErrMissingHeaders},
		{"no timestamp", func() http.Header { h := good(); h.Del(HeaderTimestamp); return h }, body, ErrMissingHeaders},
		{"no signature", func() http.Header { h := good(); h.Set(HeaderSignature, " "); return h }, body, ErrMissingHeaders},
		{"timestamp not a number", func() http.Header { h := good(); h.Set(HeaderTimestamp, "soon"); return h }, body, ErrMalformedHeader},
		{"timestamp in ms", func() http.Header {
			h := good()
			h.Set(HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10))
			return h
		}, body, ErrTimestampTooNew},
		{"no v1", func() http.Header {
			h := good()
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return h
		}, body, ErrMalformedHeader},
		{"v1 without comma", func() http.Header { h := good(); h.Set(HeaderSignature, "v1"); return h }, body, ErrMalformedHeader},
		{"not base64", func() http.Header { h := good(); h.Set(HeaderSignature, "v1,!!!"); return h }, body, ErrInvalidSignature},
		{"truncated", func() http.Header {
			h := good()
			h.Set(HeaderSignature, h.Get(HeaderSignature)[:20])
			return h
		}, body, ErrInvalidSignature},
		{"unknown version beside a good one", func() http.Header {
			h := good()
			h.Set(HeaderSignature, "v1a,xyz "+h.Get(HeaderSignature))
			return h
		}, body, nil},
		{"raw header names", func() http.Header {
			h := good()
			return http.Header{"webhook-id": h[http.CanonicalHeaderKey(HeaderID)],
				"Webhook-Timestamp": h[http.CanonicalHeaderKey(HeaderTimestamp)],
				"Webhook-Signature": h[http.CanonicalHeaderKey(HeaderSignature)]}
		}, body, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(tc.header(), tc.body)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestToleranceOptions(t *testing.T) {
	body := []byte(`{}`)
	old := standardHeaders(t, "evt_1", now.Add(-time.Hour), body, secretA)
	strict, _ := NewVerifier(secretA, WithClock(clock), WithTolerance(10*time.Second))
	if err := strict.Verify(standardHeaders(t, "evt_1", now.Add(-11*time.Second), body, secretA), body); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("11s with a 10s tolerance: %v", err)
	}
	lax, _ := NewVerifier(secretA, WithClock(clock), WithTolerance(2*time.Hour))
	if err := lax.Verify(old, body); err != nil {
		t.Fatalf("an hour with a 2h tolerance: %v", err)
	}
	off, _ := NewVerifier(secretA, WithClock(clock), WithTolerance(0))
	if err := off.Verify(old, body); err != nil {
		t.Fatalf("tolerance off: %v", err)
	}
	// The default clock is the real one.
	def, _ := NewVerifier(secretA)
	if err := def.Verify(standardHeaders(t, "evt_1", time.Now(), body, secretA), body); err != nil {
		t.Fatal(err)
	}
	if err := def.Verify(old, body); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("an old message on the real clock: %v", err)
	}
}

func TestVerifyHMAC(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	secret := "whsec_plain-secret-string"
	v, err := NewVerifier(secret, WithScheme(SchemeHMACSHA256))
	if err != nil {
		t.Fatal(err)
	}
	custom, err := NewVerifier(secret, WithScheme(SchemeHMACSHA256), WithSignatureHeader("Dastra-Signature"))
	if err != nil {
		t.Fatal(err)
	}
	sig := SignHMAC(secret, body)
	other := SignHMAC("whsec_other", body)
	cases := []struct {
		name   string
		v      *Verifier
		header http.Header
		body   []byte
		want   error
	}{
		{"good", v, http.Header{"X-Postbode-Signature": {sig}}, body, nil},
		{"rotation, new first", v, http.Header{"X-Postbode-Signature": {other + " " + sig}}, body, nil},
		{"rotation, ours first", v, http.Header{"X-Postbode-Signature": {sig + " " + other}}, body, nil},
		{"another secret", v, http.Header{"X-Postbode-Signature": {other}}, body, ErrInvalidSignature},
		{"body changed", v, http.Header{"X-Postbode-Signature": {sig}}, []byte(`{"id":"evt_2"}`), ErrInvalidSignature},
		{"missing", v, http.Header{}, body, ErrMissingHeaders},
		{"not base64", v, http.Header{"X-Postbode-Signature": {"%%%"}}, body, ErrMalformedHeader},
		{"hex instead of base64", v, http.Header{"X-Postbode-Signature": {"deadbeef"}}, body, ErrInvalidSignature},
		{"custom header", custom, http.Header{"Dastra-Signature": {sig}}, body, nil},
		{"custom header, default name sent", custom, http.Header{"X-Postbode-Signature": {sig}}, body, ErrMissingHeaders},
		{"standard headers do not count", v, standardHeaders(t, "evt_1", now, body, secretA), body, ErrMissingHeaders},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Verify(tc.header, tc.body)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		secret string
		opts   []Option
	}{
		"empty":               {"", nil},
		"not base64":          {"whsec_***", nil},
		"empty key":           {"whsec_", nil},
		"unknown scheme":      {secretA, []Option{WithScheme("sha1")}},
		"empty header":        {"s", []Option{WithScheme(SchemeHMACSHA256), WithSignatureHeader("")}},
		"bad second secret":   {secretA, []Option{WithSecrets("nope!")}},
		"empty hmac secret":   {"", []Option{WithScheme(SchemeHMACSHA256)}},
		"empty second (hmac)": {"s", []Option{WithScheme(SchemeHMACSHA256), WithSecrets("")}},
	} {
		v, err := NewVerifier(tc.secret, tc.opts...)
		if err == nil || v != nil {
			t.Errorf("%s: NewVerifier accepted it", name)
		}
		if err != nil && strings.Contains(err.Error(), "***") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
	// A secret without the whsec_ prefix is its base64 alone: accepted.
	if _, err := NewVerifier(strings.TrimPrefix(secretA, "whsec_")); err != nil {
		t.Fatal(err)
	}
}

func TestWithSecrets(t *testing.T) {
	body := []byte(`{}`)
	v, err := NewVerifier(secretA, WithClock(clock), WithSecrets(secretB))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secretA, secretB} {
		if err := v.Verify(standardHeaders(t, "evt_1", now, body, s), body); err != nil {
			t.Fatalf("signed with one of the secrets: %v", err)
		}
	}
}

func TestMiddleware(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"invoice.paid","data":{"n":1}}`)
	var got []byte
	var calls int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		got, _ = io.ReadAll(r.Body)
		if r.ContentLength != int64(len(got)) {
			t.Errorf("ContentLength %d for %d bytes", r.ContentLength, len(got))
		}
		w.WriteHeader(http.StatusNoContent)
	})
	v, err := NewVerifier(secretA, WithClock(clock), WithMaxBodySize(100))
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(next)
	big := bytes.Repeat([]byte("x"), 101)
	cases := []struct {
		name   string
		header http.Header
		body   io.Reader
		status int
	}{
		{"good", standardHeaders(t, "evt_1", now, body, secretA), bytes.NewReader(body), http.StatusNoContent},
		{"bad signature", standardHeaders(t, "evt_1", now, body, secretB), bytes.NewReader(body), http.StatusUnauthorized},
		{"too old", standardHeaders(t, "evt_1", now.Add(-time.Hour), body, secretA), bytes.NewReader(body), http.StatusUnauthorized},
		{"no headers", http.Header{}, bytes.NewReader(body), http.StatusUnauthorized},
		{"too large", standardHeaders(t, "evt_1", now, big, secretA), bytes.NewReader(big), http.StatusRequestEntityTooLarge},
		{"unreadable", standardHeaders(t, "evt_1", now, body, secretA), io.MultiReader(bytes.NewReader(body[:5]), errReader{}), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, got = 0, nil
			r := httptest.NewRequest("POST", "/hook", tc.body)
			r.Header = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == http.StatusNoContent {
				if calls != 1 || !bytes.Equal(got, body) {
					t.Fatalf("next called %d times with body %q", calls, got)
				}
			} else if calls != 0 {
				t.Fatal("next was called for a refused request")
			}
		})
	}
	// A custom error handler gets the status and the reason.
	var status int
	var reason error
	v2, _ := NewVerifier(secretA, WithClock(clock), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, s int, err error) {
		status, reason = s, err
		w.WriteHeader(s)
	}))
	r := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	r.Header = standardHeaders(t, "evt_1", now.Add(time.Hour), body, secretA)
	v2.Middleware(next).ServeHTTP(httptest.NewRecorder(), r)
	if status != http.StatusUnauthorized || !errors.Is(reason, ErrTimestampTooNew) {
		t.Fatalf("error handler got %d, %v", status, reason)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParse(t *testing.T) {
	e, err := Parse([]byte(`{"id":"evt_1","type":"invoice.paid","label":"Invoice paid","workspace_id":"ws_1",
		"subscription_id":"sub_1","user_id":null,"subject":"invoice/1","data":{"n":1},
		"timestamp":"2026-11-25T12:27:16.068663Z","api_version":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_1" || e.Label != "Invoice paid" || e.UserID != nil || e.Subject == nil || *e.Subject != "invoice/1" ||
		string(e.Data) != `{"n":1}` || e.Timestamp.Year() != 2026 || e.APIVersion != nil || e.SubscriptionID != "sub_1" {
		t.Fatalf("event %+v", e)
	}
	var data struct{ N int }
	if err := e.DecodeData(&data); err != nil || data.N != 1 {
		t.Fatalf("data %+v, %v", data, err)
	}
	n, err := Parse([]byte(`{"id":"evt_1","type":"a","timestamp":"2026-11-25T12:27:16Z"}`)) // payload notification
	if err != nil || n.Data != nil || n.DecodeData(&data) == nil {
		t.Fatalf("notification %+v, %v", n, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"id":"evt_1"}`, `{"entity_id":1,"entity_type":"user","action_type":"new"}`} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrNotEnvelope) {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}

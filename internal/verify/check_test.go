// Tests of Check: published vectors, then the same battery for every
// scheme (valid, wrong secret, tampered body, missing and malformed
// header, stale and future timestamp, several signatures), then what is
// particular to each scheme. The test signers below use crypto/hmac
// directly, not the package's code, so the schemes are checked, not echoed.

package verify_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/verify"
)

// Published vectors.
const (
	// docs.github.com, "Validating webhook deliveries".
	githubSecret = "It's a Secret to Everybody"
	githubBody   = "Hello, World!"
	githubSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

	// Slack, "Verifying requests from Slack" (api.slack.com and
	// docs.slack.dev/authentication/verifying-requests-from-slack).
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTS     = "1531420618"
	slackBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

	// Standard Webhooks' published vector (also in internal/signing's tests).
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	standardID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	standardTS     = "1614265330"
	standardBody   = `{"test": 2432232314}`
	standardSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// Vectors computed with OpenSSL from the documented algorithms (Stripe and
// Shopify publish none with a secret and a body), e.g.
//
//	printf '1700000000.{…}' | openssl dgst -sha256 -hmac 'whsec_…'
//	printf '{…}' | openssl dgst -sha256 -hmac 'shpss_…' -binary | base64
const (
	stripeSecret = "whsec_3kQ9vR7tLmN2pX8wZ4yB6cD1eF5gH0jK"
	stripeTS     = "1700000000"
	stripeBody   = `{"id":"evt_1PostbodeTest","object":"event","type":"invoice.paid"}`
	stripeSig    = "20d4005946a39ce2e221928e99570dd0a82263be2104a34075fbb61c307338c3"

	shopifySecret = "shpss_postbode_test_secret"
	shopifyBody   = `{"id":820982911946154508,"email":"jon@example.com"}`
	shopifySig    = "Jmvvf/quIM2HJp4A6uZxUgBjrA3D0azaqJ0x03YfOME="

	dastraSecret = "dastra-test-secret"
	dastraBody   = `{"event":"record.updated"}`
	dastraSHA1   = "013062c1437102f7be002fc8294feb2159b37b35"
	dastraSHA256 = "qQCMpBH0f+imbTtPe3E64oE3bvQeA7iBsJ2VLGZh0Qk="
	dastraSHA512 = "OwEF+T0h9fEcwz/AmubtwwzFqJkESe6t1NtstY9xKs/xNpRD5uDzq0OAqDhiz8tGUXWK8tVTq33EZntHdbwbYQ=="
)

func unix(ts string) time.Time {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		panic(err)
	}
	return time.Unix(n, 0)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestCheckVectors(t *testing.T) {
	tests := []struct {
		name string
		cfg  verify.Config
		h    http.Header
		body string
		now  time.Time
	}{
		{"github (documented)", verify.Config{Scheme: "github", Secret: githubSecret},
			hdr("X-Hub-Signature-256", githubSig), githubBody, time.Now()},
		{"slack (documented)", verify.Config{Scheme: "slack", Secret: slackSecret},
			hdr("X-Slack-Signature", slackSig, "X-Slack-Request-Timestamp", slackTS), slackBody, unix(slackTS).Add(time.Minute)},
		{"standard (documented)", verify.Config{Scheme: "standard", Secret: standardSecret},
			hdr("webhook-id", standardID, "webhook-timestamp", standardTS, "webhook-signature", standardSig), standardBody, unix(standardTS)},
		{"stripe (computed)", verify.Config{Scheme: "stripe", Secret: stripeSecret},
			hdr("Stripe-Signature", "t="+stripeTS+",v1="+stripeSig), stripeBody, unix(stripeTS)},
		{"shopify (computed)", verify.Config{Scheme: "shopify", Secret: shopifySecret},
			hdr("X-Shopify-Hmac-Sha256", shopifySig), shopifyBody, time.Now()},
		{"hmac sha1 hex (computed)", verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha1", Encoding: "hex", Prefix: "sha1=", Secret: dastraSecret},
			hdr("Dastra-Signature", "sha1="+dastraSHA1), dastraBody, time.Now()},
		{"hmac sha256 base64 (computed)", verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha256", Encoding: "base64", Secret: dastraSecret},
			hdr("Dastra-Signature", dastraSHA256), dastraBody, time.Now()},
		{"hmac sha512 base64 (computed)", verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha512", Encoding: "base64", Secret: dastraSecret},
			hdr("Dastra-Signature", dastraSHA512), dastraBody, time.Now()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if err := tt.cfg.Check(tt.h, []byte(tt.body), tt.now); err != nil {
				t.Fatalf("Check = %v, want nil", err)
			}
			// One byte changed, anywhere, fails.
			for _, i := range []int{0, len(tt.body) / 2, len(tt.body) - 1} {
				b := []byte(tt.body)
				b[i] ^= 1
				wantFailure(t, tt.cfg.Check(tt.h, b, tt.now), verify.ErrMismatch, "signature does not match", tt.cfg.Secret)
			}
		})
	}
}

// wantFailure checks a failed check: its kind, code, cause and message,
// and that it shows none of the secrets. A want ending in "…" is a prefix.
func wantFailure(t *testing.T, err, why error, want string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Check = nil, want %q", want)
	}
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.Unauthenticated || e.Code != "invalid_signature" {
		t.Fatalf("Check = %#v, want an Unauthenticated invalid_signature *errs.Error", err)
	}
	if !errors.Is(err, why) {
		t.Errorf("Check = %v, want it to wrap %v", err, why)
	}
	if p, ok := strings.CutSuffix(want, "…"); ok {
		if !strings.HasPrefix(err.Error(), p) {
			t.Errorf("Check = %q, want it to start with %q", err, p)
		}
	} else if err.Error() != want {
		t.Errorf("Check = %q, want %q", err, want)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("Check = %q shows a secret or the expected signature %q", err, s)
		}
	}
}

func mac(h func() hash.Hash, key, msg string) []byte {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key, msg string) string {
	return hex.EncodeToString(mac(h, key, msg))
}

func b64MAC(h func() hash.Hash, key, msg string) string {
	return base64.StdEncoding.EncodeToString(mac(h, key, msg))
}

// fixture describes a scheme for the common battery.
type fixture struct {
	cfg       verify.Config
	other     string // another valid secret
	sigHeader string // the header that carries the signature
	timed     bool   // whether a timestamp is signed
	// sign returns one signature as the header spells it.
	sign func(secret string, ts int64, body string) string
	// header builds a request's headers with sigs, in order.
	header func(ts int64, sigs ...string) http.Header
}

func addAll(h http.Header, name string, vals []string) http.Header {
	for _, v := range vals {
		h.Add(name, v)
	}
	return h
}

func standardKey(secret string) string {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return string(k)
}

func bodyHMAC(scheme, header string, sign func(secret, body string) string) fixture {
	return fixture{
		cfg:       verify.Config{Scheme: scheme, Secret: "s3cret-" + scheme},
		other:     "other-" + scheme,
		sigHeader: header,
		sign:      func(secret string, _ int64, body string) string { return sign(secret, body) },
		header: func(_ int64, sigs ...string) http.Header {
			return addAll(http.Header{}, header, sigs)
		},
	}
}

var fixtures = map[string]fixture{
	"standard": {
		cfg:       verify.Config{Scheme: "standard", Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))},
		other:     "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of twenty-four+ bytes")),
		sigHeader: "webhook-signature",
		timed:     true,
		sign: func(secret string, ts int64, body string) string {
			return "v1," + b64MAC(sha256.New, standardKey(secret), "msg_2x."+strconv.FormatInt(ts, 10)+"."+body)
		},
		header: func(ts int64, sigs ...string) http.Header {
			return hdr("webhook-id", "msg_2x", "webhook-timestamp", strconv.FormatInt(ts, 10), "webhook-signature", strings.Join(sigs, " "))
		},
	},
	"stripe": {
		cfg:       verify.Config{Scheme: "stripe", Secret: "whsec_stripeTestSecret0123456789"},
		other:     "whsec_stripeOtherSecret987654321",
		sigHeader: "Stripe-Signature",
		timed:     true,
		sign: func(secret string, ts int64, body string) string {
			return hexMAC(sha256.New, secret, strconv.FormatInt(ts, 10)+"."+body)
		},
		header: func(ts int64, sigs ...string) http.Header {
			v := "t=" + strconv.FormatInt(ts, 10)
			for _, s := range sigs {
				v += ",v1=" + s
			}
			return hdr("Stripe-Signature", v+",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
		},
	},
	"slack": {
		cfg:       verify.Config{Scheme: "slack", Secret: "slack-signing-secret"},
		other:     "other-slack-secret",
		sigHeader: "X-Slack-Signature",
		timed:     true,
		sign: func(secret string, ts int64, body string) string {
			return "v0=" + hexMAC(sha256.New, secret, "v0:"+strconv.FormatInt(ts, 10)+":"+body)
		},
		header: func(ts int64, sigs ...string) http.Header {
			return addAll(hdr("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10)), "X-Slack-Signature", sigs)
		},
	},
	"github": bodyHMAC("github", "X-Hub-Signature-256", func(secret, body string) string {
		return "sha256=" + hexMAC(sha256.New, secret, body)
	}),
	"shopify": bodyHMAC("shopify", "X-Shopify-Hmac-Sha256", func(secret, body string) string {
		return b64MAC(sha256.New, secret, body)
	}),
	"hmac sha256 base64": func() fixture {
		f := bodyHMAC("hmac", "Dastra-Signature", func(secret, body string) string {
			return b64MAC(sha256.New, secret, body)
		})
		f.cfg.Header, f.cfg.Encoding = "Dastra-Signature", "base64"
		return f
	}(),
	"hmac sha1 hex with prefix": func() fixture {
		f := bodyHMAC("hmac", "x-signature", func(secret, body string) string {
			return "sha1=" + hexMAC(sha1.New, secret, body)
		})
		f.cfg.Header, f.cfg.Algorithm, f.cfg.Encoding, f.cfg.Prefix = "x-signature", "sha1", "hex", "sha1="
		return f
	}(),
	"hmac sha512 defaults to hex": func() fixture {
		f := bodyHMAC("hmac", "X-Sig", func(secret, body string) string {
			return hexMAC(sha512.New, secret, body)
		})
		f.cfg.Header, f.cfg.Algorithm = "X-Sig", "SHA512"
		return f
	}(),
}

func TestCheckSchemes(t *testing.T) {
	const ts = 1_700_000_000
	at := time.Unix(ts, 0)
	body := `{"type":"invoice.paid","data":{"id":"in_123","amount":4200}}`
	for name, f := range fixtures {
		t.Run(name, func(t *testing.T) {
			if err := f.cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			secret := f.cfg.Secret
			good := f.sign(secret, ts, body)
			bad := f.sign(f.other, ts, body)
			// What an error must not show: the secret, the expected
			// signature for either body, and the bare MAC in it.
			hidden := []string{secret, good, f.sign(secret, ts, body+"x")}
			for _, s := range hidden[1:] {
				if _, mac, ok := strings.Cut(s, "="); ok && len(mac) > 20 {
					hidden = append(hidden, mac)
				}
			}
			stale, future := "", ""
			if f.timed {
				stale = "timestamp is 12m0s old, more than the 5m0s allowed"
				future = "timestamp is 6m0s in the future, more than the 5m0s allowed"
			}
			missing := f.header(ts, good)
			missing.Del(f.sigHeader)

			tests := []struct {
				name string
				h    http.Header
				body string
				now  time.Time
				why  error // nil: valid
				want string
			}{
				{name: "valid", h: f.header(ts, good), body: body, now: at},
				{name: "valid, 5m old", h: f.header(ts, good), body: body, now: at.Add(5*time.Minute + 999*time.Millisecond)},
				{name: "valid, 5m ahead", h: f.header(ts, good), body: body, now: at.Add(-5 * time.Minute)},
				{name: "valid, empty body", h: f.header(ts, f.sign(secret, ts, "")), body: "", now: at},
				{name: "wrong secret", h: f.header(ts, bad), body: body, now: at, why: verify.ErrMismatch, want: "signature does not match"},
				{name: "tampered body", h: f.header(ts, good), body: body + " ", now: at, why: verify.ErrMismatch, want: "signature does not match"},
				{name: "signature for another timestamp", h: f.header(ts, f.sign(secret, ts+1, body)), body: body, now: at,
					why: cond(f.timed, verify.ErrMismatch), want: cond(f.timed, "signature does not match")},
				{name: "missing header", h: missing, body: body, now: at, why: verify.ErrMissing, want: "missing " + f.sigHeader + " header"},
				{name: "empty header", h: f.header(ts, ""), body: body, now: at, why: cond(name == "stripe", verify.ErrMalformed, verify.ErrMissing)},
				{name: "malformed header", h: f.header(ts, "garbage"), body: body, now: at, why: verify.ErrMalformed, want: "malformed " + f.sigHeader + " header: …"},
				{name: "truncated signature", h: f.header(ts, good[:len(good)-4]), body: body, now: at, why: verify.ErrMalformed, want: "malformed " + f.sigHeader + " header: …"},
				{name: "stale timestamp (a replay)", h: f.header(ts, good), body: body, now: at.Add(12 * time.Minute), why: cond(f.timed, verify.ErrTimestamp), want: stale},
				{name: "future timestamp", h: f.header(ts, good), body: body, now: at.Add(-6 * time.Minute), why: cond(f.timed, verify.ErrTimestamp), want: future},
				{name: "several signatures, the last valid", h: f.header(ts, bad, good), body: body, now: at},
				{name: "several signatures, the first valid", h: f.header(ts, good, bad), body: body, now: at},
				{name: "several signatures, one malformed, one valid", h: f.header(ts, "garbage", good), body: body, now: at},
				{name: "several signatures, none valid", h: f.header(ts, bad, f.sign(secret, ts, body+"?")), body: body, now: at, why: verify.ErrMismatch, want: "signature does not match"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := f.cfg.Check(tt.h, []byte(tt.body), tt.now)
					if tt.why == nil {
						if err != nil {
							t.Fatalf("Check = %v, want nil", err)
						}
						return
					}
					want := tt.want
					if want == "" {
						want = "…"
					}
					wantFailure(t, err, tt.why, want, hidden...)
				})
			}
		})
	}
}

// cond is a when c holds, else the zero value or the optional b.
func cond[T any](c bool, a T, b ...T) T {
	if c {
		return a
	}
	var z T
	if len(b) > 0 {
		z = b[0]
	}
	return z
}

func TestCheckStandard(t *testing.T) {
	cfg := verify.Config{Scheme: "standard", Secret: standardSecret}
	at := unix(standardTS)
	std := func(kv ...string) http.Header {
		h := hdr("webhook-id", standardID, "webhook-timestamp", standardTS, "webhook-signature", standardSig)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		now  time.Time
		why  error
		want string
	}{
		{name: "svix header names", h: hdr("svix-id", standardID, "svix-timestamp", standardTS, "svix-signature", standardSig), now: at},
		{name: "svix, missing svix-id", h: hdr("svix-timestamp", standardTS, "svix-signature", standardSig), now: at,
			why: verify.ErrMissing, want: "missing svix-id header"},
		{name: "no headers", h: http.Header{}, now: at, why: verify.ErrMissing, want: "missing webhook-signature header"},
		{name: "missing webhook-id", h: std("webhook-id", ""), now: at, why: verify.ErrMissing, want: "missing webhook-id header"},
		{name: "another webhook-id", h: std("webhook-id", "msg_other"), now: at, why: verify.ErrMismatch, want: "signature does not match"},
		{name: "missing webhook-timestamp", h: std("webhook-timestamp", ""), now: at, why: verify.ErrMissing, want: "missing webhook-timestamp header"},
		{name: "timestamp not a number", h: std("webhook-timestamp", "2021-02-25T15:02:10Z"), now: at,
			why: verify.ErrMalformed, want: "malformed webhook-timestamp header: expected a timestamp in Unix seconds"},
		{name: "negative timestamp", h: std("webhook-timestamp", "-1614265330"), now: at, why: verify.ErrMalformed, want: "malformed webhook-timestamp header: …"},
		{name: "huge timestamp", h: std("webhook-timestamp", "999999999999999999999"), now: at, why: verify.ErrMalformed, want: "malformed webhook-timestamp header: …"},
		{name: "timestamp in milliseconds", h: std("webhook-timestamp", standardTS+"000"), now: at,
			why: verify.ErrTimestamp, want: "timestamp is 1612651064670s in the future, more than the 5m0s allowed"},
		{name: "two timestamps", h: func() http.Header { h := std(); h.Add("webhook-timestamp", "1614265331"); return h }(), now: at,
			why: verify.ErrMalformed, want: "malformed webhook-timestamp header: it is given 2 times"},
		{name: "only v1a entries", h: std("webhook-signature", "v1a,aGVsbG8="), now: at,
			why: verify.ErrMalformed, want: "malformed webhook-signature header: no v1 signature; only v1 (HMAC-SHA256) is checked"},
		{name: "v1a then v1", h: std("webhook-signature", "v1a,aGVsbG8= "+standardSig), now: at},
		{name: "v1 not base64", h: std("webhook-signature", "v1,!!!"), now: at,
			why: verify.ErrMalformed, want: `malformed webhook-signature header: expected space-separated "v1,<base64 HMAC-SHA256>" entries`},
		{name: "extra spaces", h: std("webhook-signature", "  v1,bad=   "+standardSig+"  "), now: at},
		{name: "in two header lines", h: func() http.Header {
			h := std("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
			h.Add("webhook-signature", standardSig)
			return h
		}(), now: at},
		{name: "ten years late", h: std(), now: at.Add(10 * 365 * 24 * time.Hour), why: verify.ErrTimestamp, want: "timestamp is 87600h0m0s old, more than the 5m0s allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cfg.Check(tt.h, []byte(standardBody), tt.now)
			if tt.why == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantFailure(t, err, tt.why, tt.want, standardSecret, standardSig[3:])
		})
	}
}

func TestCheckStripe(t *testing.T) {
	cfg := verify.Config{Scheme: "stripe", Secret: stripeSecret}
	at := unix(stripeTS)
	tests := []struct {
		name string
		v    string
		why  error
		want string
	}{
		{name: "v1 first, then t", v: "v1=" + stripeSig + ",t=" + stripeTS},
		{name: "spaces after commas", v: "t=" + stripeTS + ", v1=" + stripeSig},
		{name: "unknown schemes skipped", v: "t=" + stripeTS + ",v2=zz,v1=" + stripeSig},
		{name: "no t", v: "v1=" + stripeSig, why: verify.ErrMalformed, want: "malformed Stripe-Signature header: no t=<timestamp>"},
		{name: "t not a number", v: "t=abc,v1=" + stripeSig, why: verify.ErrMalformed, want: "malformed Stripe-Signature header: expected a timestamp in Unix seconds"},
		{name: "two different t", v: "t=" + stripeTS + ",t=1700000001,v1=" + stripeSig, why: verify.ErrMalformed, want: "malformed Stripe-Signature header: more than one t= timestamp"},
		{name: "only v0", v: "t=" + stripeTS + ",v0=" + stripeSig, why: verify.ErrMalformed, want: "malformed Stripe-Signature header: no v1=<signature>"},
		{name: "v1 not hex", v: "t=" + stripeTS + ",v1=xyz", why: verify.ErrMalformed, want: "malformed Stripe-Signature header: v1= must be a hex HMAC-SHA256 (64 characters)"},
		{name: "not key=value at all", v: "garbage", why: verify.ErrMalformed, want: "malformed Stripe-Signature header: no t=<timestamp>"},
		{name: "signed with another t", v: "t=1700000001,v1=" + stripeSig, why: verify.ErrMismatch, want: "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cfg.Check(hdr("Stripe-Signature", tt.v), []byte(stripeBody), at)
			if tt.why == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantFailure(t, err, tt.why, tt.want, stripeSecret, stripeSig)
		})
	}
}

func TestCheckSlack(t *testing.T) {
	cfg := verify.Config{Scheme: "slack", Secret: slackSecret}
	at := unix(slackTS)
	tests := []struct {
		name string
		h    http.Header
		why  error
		want string
	}{
		{name: "no headers", h: http.Header{}, why: verify.ErrMissing, want: "missing X-Slack-Signature header"},
		{name: "missing timestamp", h: hdr("X-Slack-Signature", slackSig), why: verify.ErrMissing, want: "missing X-Slack-Request-Timestamp header"},
		{name: "timestamp with a fraction", h: hdr("X-Slack-Signature", slackSig, "X-Slack-Request-Timestamp", slackTS+".5"),
			why: verify.ErrMalformed, want: "malformed X-Slack-Request-Timestamp header: expected a timestamp in Unix seconds"},
		{name: "no v0= prefix", h: hdr("X-Slack-Signature", slackSig[3:], "X-Slack-Request-Timestamp", slackTS),
			why: verify.ErrMalformed, want: `malformed X-Slack-Signature header: expected "v0=" followed by a hex HMAC-SHA256 (64 characters)`},
		{name: "upper-case hex", h: hdr("X-Slack-Signature", "v0="+strings.ToUpper(slackSig[3:]), "X-Slack-Request-Timestamp", slackTS)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cfg.Check(tt.h, []byte(slackBody), at)
			if tt.why == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantFailure(t, err, tt.why, tt.want, slackSecret, slackSig[3:])
		})
	}
}

func TestCheckBodyHMAC(t *testing.T) {
	gh := verify.Config{Scheme: "github", Secret: githubSecret}
	shop := verify.Config{Scheme: "shopify", Secret: shopifySecret}
	dastra := verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha256", Encoding: "base64", Secret: dastraSecret}
	sha1Hex := verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha1", Encoding: "hex", Prefix: "sha1=", Secret: dastraSecret}
	sigBytes, _ := base64.StdEncoding.DecodeString(dastraSHA256)
	tests := []struct {
		name string
		cfg  verify.Config
		h    http.Header
		body string
		why  error
		want string
	}{
		{name: "github: only the SHA-1 header", cfg: gh, h: hdr("X-Hub-Signature", "sha1=0000000000000000000000000000000000000000"), body: githubBody,
			why: verify.ErrMissing, want: "missing X-Hub-Signature-256 header"},
		{name: "github: sha1= prefix", cfg: gh, h: hdr("X-Hub-Signature-256", "sha1="+githubSig[7:]), body: githubBody,
			why: verify.ErrMalformed, want: `malformed X-Hub-Signature-256 header: expected "sha256=" followed by a hex HMAC-SHA256 (64 characters)`},
		{name: "github: upper-case prefix and hex", cfg: gh, h: hdr("X-Hub-Signature-256", strings.ToUpper(githubSig)), body: githubBody},
		{name: "github: the signature of another payload", cfg: gh, h: hdr("X-Hub-Signature-256", githubSig), body: "Hello, World?",
			why: verify.ErrMismatch, want: "signature does not match"},
		{name: "shopify: hex instead of base64", cfg: shop, h: hdr("X-Shopify-Hmac-Sha256", hexMAC(sha256.New, shopifySecret, shopifyBody)), body: shopifyBody,
			why: verify.ErrMalformed, want: "malformed X-Shopify-Hmac-Sha256 header: expected a base64 HMAC-SHA256 (44 characters)"},
		{name: "hmac: URL-safe base64 without padding", cfg: dastra, h: hdr("Dastra-Signature", base64.RawURLEncoding.EncodeToString(sigBytes)), body: dastraBody},
		{name: "hmac: base64 without padding", cfg: dastra, h: hdr("Dastra-Signature", strings.TrimRight(dastraSHA256, "=")), body: dastraBody},
		{name: "hmac: prefix missing", cfg: sha1Hex, h: hdr("Dastra-Signature", dastraSHA1), body: dastraBody,
			why: verify.ErrMalformed, want: `malformed Dastra-Signature header: expected "sha1=" followed by a hex HMAC-SHA1 (40 characters)`},
		{name: "hmac: sha256 sent for sha1", cfg: sha1Hex, h: hdr("Dastra-Signature", "sha1="+hexMAC(sha256.New, dastraSecret, dastraBody)), body: dastraBody,
			why: verify.ErrMalformed, want: "malformed Dastra-Signature header: …"},
		{name: "hmac: header missing", cfg: dastra, h: hdr("X-Other", dastraSHA256), body: dastraBody,
			why: verify.ErrMissing, want: "missing Dastra-Signature header"},
		{name: "no timestamp: valid any time", cfg: gh, h: hdr("X-Hub-Signature-256", githubSig), body: githubBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check(tt.h, []byte(tt.body), time.Time{})
			if tt.why == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			wantFailure(t, err, tt.why, tt.want, tt.cfg.Secret)
		})
	}
}

// A Config that cannot check fails closed, as an internal fault rather
// than the sender's: not an *errs.Error, so the API logs it.
func TestCheckBrokenConfig(t *testing.T) {
	h := hdr("X-Hub-Signature-256", githubSig, "Dastra-Signature", "x", "webhook-signature", standardSig,
		"webhook-id", standardID, "webhook-timestamp", standardTS)
	tests := []struct {
		name string
		cfg  *verify.Config
	}{
		{"nil", nil},
		{"no secret", &verify.Config{Scheme: "github"}},
		{"unresolved mask", &verify.Config{Scheme: "github", Secret: verify.SecretMask}},
		{"unknown scheme", &verify.Config{Scheme: "gitlab", Secret: "s"}},
		{"standard secret not base64", &verify.Config{Scheme: "standard", Secret: "whsec_not base64!"}},
		{"hmac without header", &verify.Config{Scheme: "hmac", Secret: "s"}},
		{"hmac with unknown algorithm", &verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "md5", Secret: "s"}},
		{"hmac with unknown encoding", &verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Encoding: "base32", Secret: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check(h, []byte(githubBody), unix(standardTS))
			if err == nil {
				t.Fatal("Check = nil, want an error")
			}
			if errs.KindOf(err) != errs.Internal {
				t.Errorf("Check = %#v, want an internal error", err)
			}
			if tt.cfg != nil && len(tt.cfg.Secret) > 3 && strings.Contains(err.Error(), tt.cfg.Secret) {
				t.Errorf("Check = %q shows the secret", err)
			}
		})
	}
}

// A stored hmac Config that never went through Validate gets the same
// defaults.
func TestCheckHMACDefaultsWithoutValidate(t *testing.T) {
	cfg := verify.Config{Scheme: "hmac", Header: "X-Sig", Secret: dastraSecret}
	h := hdr("X-Sig", hexMAC(sha256.New, dastraSecret, dastraBody))
	if err := cfg.Check(h, []byte(dastraBody), time.Now()); err != nil {
		t.Fatalf("Check = %v, want nil", err)
	}
}

func BenchmarkCheck(b *testing.B) {
	body := []byte(strings.Repeat(`{"k":"v"},`, 100))
	for _, name := range []string{"standard", "github", "stripe"} {
		f := fixtures[name]
		h := f.header(1_700_000_000, f.sign(f.cfg.Secret, 1_700_000_000, string(body)))
		now := time.Unix(1_700_000_000, 0)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := f.cfg.Check(h, body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

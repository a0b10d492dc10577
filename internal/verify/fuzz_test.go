// Fuzz targets: Check never panics on arbitrary headers and bodies and
// fails only in the documented ways; Parse refuses with a field or returns
// a Config that survives a round trip.

package verify_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/verify"
)

// fuzzConfigs are the configurations FuzzCheck picks from.
var fuzzConfigs = []verify.Config{
	{Scheme: "standard", Secret: standardSecret},
	{Scheme: "stripe", Secret: stripeSecret},
	{Scheme: "slack", Secret: slackSecret},
	{Scheme: "github", Secret: githubSecret},
	{Scheme: "shopify", Secret: shopifySecret},
	{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha256", Encoding: "base64", Secret: dastraSecret},
	{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha1", Encoding: "hex", Prefix: "sha1=", Secret: dastraSecret},
	{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha512", Encoding: "base64", Secret: dastraSecret},
}

// FuzzCheck sets every signature header to sig, every timestamp header to
// ts and every id header to id.
func FuzzCheck(f *testing.F) {
	seeds := []struct {
		scheme          uint8
		sig, ts, id     string
		body            string
		sigTwice, svix  bool
		nowAfterSeconds int64
	}{
		{0, standardSig, standardTS, standardID, standardBody, false, false, 0},
		{0, standardSig, standardTS, standardID, standardBody, false, true, 0},
		{0, "v1a,abc v1," + standardSig[3:], standardTS, standardID, standardBody, true, false, 299},
		{1, "t=" + stripeTS + ",v1=" + stripeSig + ",v0=00", "", "", stripeBody, false, false, 0},
		{2, slackSig, slackTS, "", slackBody, true, false, 0},
		{3, githubSig, "", "", githubBody, false, false, 0},
		{4, shopifySig, "", "", shopifyBody, false, false, 0},
		{5, dastraSHA256, "", "", dastraBody, false, false, 0},
		{6, "sha1=" + dastraSHA1, "", "", dastraBody, false, false, 0},
		{7, dastraSHA512, "", "", dastraBody, false, false, 0},
		{1, "t=,v1=,,==,t", "-1", "", "", false, false, -1 << 40},
		{0, "v1, v1,,", "99999999999999999999", ".", "\x00\xff", true, true, 1 << 40},
	}
	for _, s := range seeds {
		f.Add(s.scheme, s.sig, s.ts, s.id, []byte(s.body), s.sigTwice, s.svix, s.nowAfterSeconds)
	}
	f.Fuzz(func(t *testing.T, scheme uint8, sig, ts, id string, body []byte, sigTwice, svix bool, nowAfter int64) {
		cfg := fuzzConfigs[int(scheme)%len(fuzzConfigs)]
		prefix := "webhook-"
		if svix {
			prefix = "svix-"
		}
		h := http.Header{}
		for _, name := range []string{prefix + "signature", "Stripe-Signature", "X-Slack-Signature", "X-Hub-Signature-256", "X-Shopify-Hmac-Sha256", "Dastra-Signature"} {
			h.Add(name, sig)
			if sigTwice {
				h.Add(name, sig)
			}
		}
		h.Set(prefix+"timestamp", ts)
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set(prefix+"id", id)
		// Around each vector's own time, so that valid seeds stay valid.
		var base time.Time
		switch cfg.Scheme {
		case "standard":
			base = unix(standardTS)
		case "stripe":
			base = unix(stripeTS)
		case "slack":
			base = unix(slackTS)
		}
		now := base.Add(time.Duration(nowAfter%(1<<33)) * time.Second)

		err := cfg.Check(h, body, now)
		if err == nil {
			// A signature that passes binds the body.
			tampered := append(append([]byte(nil), body...), '!')
			if err := cfg.Check(h, tampered, now); !errors.Is(err, verify.ErrMismatch) {
				t.Fatalf("a valid %s signature also passes a tampered body: %v", cfg.Scheme, err)
			}
			return
		}
		e, ok := errs.As(err)
		if !ok || e.Kind != errs.Unauthenticated || e.Code != verify.Code {
			t.Fatalf("Check = %#v, want an Unauthenticated invalid_signature *errs.Error", err)
		}
		n := 0
		for _, why := range []error{verify.ErrMissing, verify.ErrMalformed, verify.ErrTimestamp, verify.ErrMismatch} {
			if errors.Is(err, why) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("Check = %v wraps %d of the reasons, want 1", err, n)
		}
		// Messages are built from header names and numbers only, so they
		// stay short whatever was sent, and never show the secret.
		msg := err.Error()
		if !utf8.ValidString(msg) || len(msg) > 200 || strings.Contains(msg, cfg.Secret) {
			t.Fatalf("Check = %q", msg)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"scheme":"github","secret":"It's a Secret to Everybody"}`,
		`{"scheme":"standard","secret":"` + standardSecret + `"}`,
		`{"scheme":"stripe","secret":"whsec_abc"}`,
		`{"scheme":"hmac","header":"Dastra-Signature","algorithm":"sha256","encoding":"base64","prefix":"","secret":"…"}`,
		`{"scheme":"hmac","header":"X-Sig","algorithm":"SHA1","prefix":"sha1=","secret":"s","encoding":null}`,
		`{"scheme":"slack","secret":"***"}`,
		`{"scheme":"shopify","secret":"a","secret":"b"}`,
		`{"Scheme":"github","secret":"\u0000"}`,
		`null`,
		`{"scheme":"github","secret":"s"} {}`,
		"{\"scheme\":\"github\",\"secret\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := verify.Parse(raw)
		if err != nil {
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.Invalid || e.Code != "invalid_field" || c != nil {
				t.Fatalf("Parse = %#v, %#v", c, err)
			}
			if e.Field != "verify" && !strings.HasPrefix(e.Field, "verify.") {
				t.Fatalf("Parse: field %q", e.Field)
			}
			// Short secrets may well be words of a message ("whse").
			var v struct{ Secret string }
			if json.Unmarshal(raw, &v) == nil && len(v.Secret) >= 16 && strings.Contains(e.Message, v.Secret) {
				t.Fatalf("Parse = %q shows the secret", err)
			}
			return
		}
		if c == nil {
			return // null
		}
		// What Parse returns is valid, stable and survives storage.
		again := *c
		if err := again.Validate(); err != nil || again != *c {
			t.Fatalf("Validate(Parse result %#v) = %v, %#v", *c, err, again)
		}
		stored, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := verify.Parse(stored)
		if err != nil || back == nil || *back != *c {
			t.Fatalf("Parse(%s) = %#v, %v; want %#v", stored, back, err, *c)
		}
		if m := c.Masked(); m.Secret != verify.SecretMask {
			t.Fatalf("Masked secret %q", m.Secret)
		}
	})
}

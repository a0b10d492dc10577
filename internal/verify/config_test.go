// Tests of Parse, Validate, Masked and KeepSecret.

package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/verify"
)

func whsec(n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, n))
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		raw  string
		want *verify.Config
	}{
		{`{"scheme":"github","secret":"It's a Secret to Everybody"}`, &verify.Config{Scheme: "github", Secret: "It's a Secret to Everybody"}},
		{`{"scheme":"shopify","secret":"shpss_x"}`, &verify.Config{Scheme: "shopify", Secret: "shpss_x"}},
		{`{"scheme":"slack","secret":"8f742231b10e8888abcd99yyyzzz85a5"}`, &verify.Config{Scheme: "slack", Secret: "8f742231b10e8888abcd99yyyzzz85a5"}},
		{`{"scheme":"stripe","secret":"whsec_abc"}`, &verify.Config{Scheme: "stripe", Secret: "whsec_abc"}},
		{`{"scheme":"standard","secret":"` + standardSecret + `"}`, &verify.Config{Scheme: "standard", Secret: standardSecret}},
		{`{"scheme":"standard","secret":"` + whsec(24) + `"}`, &verify.Config{Scheme: "standard", Secret: whsec(24)}},
		{`{"scheme":"standard","secret":"` + whsec(64) + `"}`, &verify.Config{Scheme: "standard", Secret: whsec(64)}},
		// The hmac defaults: sha256, hex.
		{`{"scheme":"hmac","header":"X-Sig","secret":"s"}`,
			&verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha256", Encoding: "hex", Secret: "s"}},
		{`{"scheme":"hmac","header":"Dastra-Signature","algorithm":"sha256","encoding":"base64","prefix":"","secret":"…"}`,
			&verify.Config{Scheme: "hmac", Header: "Dastra-Signature", Algorithm: "sha256", Encoding: "base64", Secret: "…"}},
		{`{"scheme":"hmac","header":"x-hub-signature","algorithm":"SHA1","encoding":"Hex","prefix":"sha1=","secret":"s"}`,
			&verify.Config{Scheme: "hmac", Header: "x-hub-signature", Algorithm: "sha1", Encoding: "hex", Prefix: "sha1=", Secret: "s"}},
		{`{"scheme":"hmac","header":"X-Sig","algorithm":"sha512","secret":"s","prefix":"Signature v1 "}`,
			&verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha512", Encoding: "hex", Prefix: "Signature v1 ", Secret: "s"}},
		// null is absent; whitespace around the object is fine.
		{" {\"scheme\":\"github\",\"secret\":\"s\",\"prefix\":null,\"header\":null}\n", &verify.Config{Scheme: "github", Secret: "s"}},
		{`{"secret":"s","scheme":"github"}`, &verify.Config{Scheme: "github", Secret: "s"}},
		// Any text: escapes decoded, multi-byte characters, at most 1024 bytes.
		{`{"scheme":"github","secret":"Gr\u00fc\u00dfe \ud83d\ude80"}`, &verify.Config{Scheme: "github", Secret: "Grüße 🚀"}},
		{`{"scheme":"github","secret":"` + strings.Repeat("é", 512) + `"}`, &verify.Config{Scheme: "github", Secret: strings.Repeat("é", 512)}},
		// The mask passes, for KeepSecret to resolve, whatever the scheme.
		{`{"scheme":"standard","secret":"***"}`, &verify.Config{Scheme: "standard", Secret: "***"}},
		// No verification.
		{`null`, nil},
		{" null ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.raw[:min(len(tt.raw), 60)], func(t *testing.T) {
			got, err := verify.Parse([]byte(tt.raw))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("Parse = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("a", 1025)
	tests := []struct {
		raw   string
		field string
	}{
		// Not one JSON object.
		{``, "verify"},
		{`   `, "verify"},
		{`[]`, "verify"},
		{`"github"`, "verify"},
		{`{`, "verify"},
		{`{"scheme":"github","secret":"s"`, "verify"},
		{`{"scheme":"github","secret":"s"} {}`, "verify"},
		{`{"scheme":"github","secret":"s"}x`, "verify"},
		{`{"scheme":"github","secret":"s",}`, "verify"},
		{`null null`, "verify"},
		{"{\"scheme\":\"github\",\"secret\":\"\xff\"}", "verify"},
		// Field names: exact, known, once.
		{`{"Scheme":"github","secret":"s"}`, "verify.Scheme"},
		{`{"scheme":"github","secret":"s","tolerance":300}`, "verify.tolerance"},
		{`{"scheme":"github","secret":"s","a b":1}`, "verify"},
		{`{"scheme":"github","secret":"s","` + long + `":1}`, "verify"},
		{`{"scheme":"github","secret":"s","secret":"t"}`, "verify.secret"},
		{`{"scheme":"github","secret":"s","scheme":"github"}`, "verify.scheme"},
		// Types.
		{`{"scheme":1,"secret":"s"}`, "verify.scheme"},
		{`{"scheme":"github","secret":{"v":"s"}}`, "verify.secret"},
		{`{"scheme":"hmac","header":["X-Sig"],"secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"X-Sig","secret":"s","prefix":false}`, "verify.prefix"},
		// The scheme.
		{`{}`, "verify.scheme"},
		{`{"secret":"s"}`, "verify.scheme"},
		{`{"scheme":"gitlab","secret":"s"}`, "verify.scheme"},
		{`{"scheme":"GitHub","secret":"s"}`, "verify.scheme"},
		// Presets take only scheme and secret.
		{`{"scheme":"github","secret":"s","header":"X-Hub-Signature-256"}`, "verify.header"},
		{`{"scheme":"slack","secret":"s","algorithm":"sha256"}`, "verify.algorithm"},
		{`{"scheme":"shopify","secret":"s","encoding":"base64"}`, "verify.encoding"},
		{`{"scheme":"stripe","secret":"whsec_s","prefix":"v1="}`, "verify.prefix"},
		{`{"scheme":"standard","secret":"` + standardSecret + `","header":"webhook-signature"}`, "verify.header"},
		// hmac's own fields.
		{`{"scheme":"hmac","secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"","secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"X Sig","secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"X-Sig:","secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"` + strings.Repeat("X", 101) + `","secret":"s"}`, "verify.header"},
		{`{"scheme":"hmac","header":"X-Sig","algorithm":"md5","secret":"s"}`, "verify.algorithm"},
		{`{"scheme":"hmac","header":"X-Sig","algorithm":"sha-256","secret":"s"}`, "verify.algorithm"},
		{`{"scheme":"hmac","header":"X-Sig","encoding":"base64url","secret":"s"}`, "verify.encoding"},
		{`{"scheme":"hmac","header":"X-Sig","prefix":"a\nb","secret":"s"}`, "verify.prefix"},
		{`{"scheme":"hmac","header":"X-Sig","prefix":" sha1=","secret":"s"}`, "verify.prefix"},
		{`{"scheme":"hmac","header":"X-Sig","prefix":"` + strings.Repeat("p", 101) + `","secret":"s"}`, "verify.prefix"},
		// Secrets.
		{`{"scheme":"github"}`, "verify.secret"},
		{`{"scheme":"github","secret":""}`, "verify.secret"},
		{`{"scheme":"github","secret":null}`, "verify.secret"},
		{`{"scheme":"github","secret":"` + long + `"}`, "verify.secret"},
		{`{"scheme":"github","secret":"a\u0000b"}`, "verify.secret"},
		{`{"scheme":"github","secret":"\ud800"}`, ""}, // a lone surrogate decodes to U+FFFD: valid
		{`{"scheme":"github","secret":"sekrit\n"}`, "verify.secret"},
		{`{"scheme":"github","secret":" sekrit"}`, "verify.secret"},
		{`{"scheme":"stripe","secret":"sk_live_51Habc"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"whsec_not-base64_at_all"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"whsec_MfKQ9r8GKYqr\nTwjUPD8ILPZIo2LaLaSw"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"` + whsec(23) + `"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"` + whsec(65) + `"}`, "verify.secret"},
		{`{"scheme":"standard","secret":"whsec_"}`, "verify.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.raw[:min(len(tt.raw), 60)], func(t *testing.T) {
			got, err := verify.Parse([]byte(tt.raw))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Parse = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse = %#v, want an error on %s", got, tt.field)
			}
			if got != nil {
				t.Errorf("Parse returned %#v with its error", got)
			}
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.Invalid || e.Code != "invalid_field" {
				t.Fatalf("Parse = %#v, want an invalid_field *errs.Error", err)
			}
			if e.Field != tt.field {
				t.Errorf("Parse = %q, field %q, want %q", err, e.Field, tt.field)
			}
			var v struct{ Secret any }
			if json.Unmarshal([]byte(tt.raw), &v) == nil {
				if s, ok := v.Secret.(string); ok && len(s) > 6 && strings.Contains(e.Message, strings.TrimSpace(s)) {
					t.Errorf("Parse = %q shows the secret", err)
				}
			}
		})
	}
}

func TestMasked(t *testing.T) {
	c := &verify.Config{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha256", Encoding: "hex", Secret: "top secret"}
	m := c.Masked()
	if m.Secret != verify.SecretMask || c.Secret != "top secret" {
		t.Fatalf("Masked: secret %q, original %q", m.Secret, c.Secret)
	}
	if m.Scheme != c.Scheme || m.Header != c.Header || m.Algorithm != c.Algorithm || m.Encoding != c.Encoding {
		t.Errorf("Masked = %#v, want the other fields kept", m)
	}
	b, _ := json.Marshal(m)
	if want := `{"scheme":"hmac","secret":"***","header":"X-Sig","algorithm":"sha256","encoding":"hex"}`; string(b) != want {
		t.Errorf("Masked as JSON = %s, want %s", b, want)
	}
	if (*verify.Config)(nil).Masked() != nil {
		t.Error("nil.Masked() != nil")
	}
	// Printing or logging a Config by mistake does not show the secret.
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "verify", c, "v", *c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", c), c.String(), logged.String()} {
		if strings.Contains(s, "top secret") || !strings.Contains(s, "***") {
			t.Errorf("printed as %q", s)
		}
	}
}

func TestKeepSecret(t *testing.T) {
	old := &verify.Config{Scheme: "github", Secret: "s3cr3t-0ld"}
	tests := []struct {
		name    string
		c, old  *verify.Config
		want    string // the secret after
		wantErr bool
	}{
		{name: "mask, same scheme", c: &verify.Config{Scheme: "github", Secret: "***"}, old: old, want: "s3cr3t-0ld"},
		{name: "new secret", c: &verify.Config{Scheme: "github", Secret: "fresh"}, old: old, want: "fresh"},
		{name: "new secret, no old", c: &verify.Config{Scheme: "github", Secret: "fresh"}, want: "fresh"},
		{name: "mask, no old", c: &verify.Config{Scheme: "github", Secret: "***"}, wantErr: true},
		{name: "mask, another scheme", c: &verify.Config{Scheme: "shopify", Secret: "***"}, old: old, wantErr: true},
		{name: "mask, old without secret", c: &verify.Config{Scheme: "github", Secret: "***"}, old: &verify.Config{Scheme: "github"}, wantErr: true},
		{name: "mask, old masked", c: &verify.Config{Scheme: "github", Secret: "***"}, old: old.Masked(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.KeepSecret(tt.old)
			if tt.wantErr {
				if e, ok := errs.As(err); !ok || e.Field != "verify.secret" || e.Kind != errs.Invalid {
					t.Fatalf("KeepSecret = %#v, want an invalid verify.secret", err)
				}
				if strings.Contains(err.Error(), "s3cr3t-0ld") {
					t.Errorf("KeepSecret = %q shows the old secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("KeepSecret = %v", err)
			}
			if tt.c.Secret != tt.want {
				t.Errorf("secret = %q, want %q", tt.c.Secret, tt.want)
			}
		})
	}
	if err := (*verify.Config)(nil).KeepSecret(old); err != nil {
		t.Errorf("nil.KeepSecret = %v", err)
	}
}

// What a client reads back, edited and sent again, keeps the secret.
func TestMaskedRoundTrip(t *testing.T) {
	old, err := verify.Parse([]byte(`{"scheme":"hmac","header":"X-Sig","secret":"stored"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(old.Masked())
	edited := bytes.Replace(out, []byte(`"X-Sig"`), []byte(`"X-Signature"`), 1)
	c, err := verify.Parse(edited)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", edited, err)
	}
	if err := c.KeepSecret(old); err != nil {
		t.Fatal(err)
	}
	want := verify.Config{Scheme: "hmac", Header: "X-Signature", Algorithm: "sha256", Encoding: "hex", Secret: "stored"}
	if *c != want {
		t.Errorf("after the round trip: %#v, want %#v", *c, want)
	}
}

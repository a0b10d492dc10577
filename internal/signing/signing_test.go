// Tests for the signing package: the published Standard Webhooks vector,
// interoperability with the reference Go verifier (including rotation),
// fixed HMAC-SHA256 vectors, secret handling, fuzzing and benchmarks.

package signing_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/postbode/postbode/internal/signing"
)

// Published Standard Webhooks test vector.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustKey(t testing.TB, secret string) signing.Key {
	t.Helper()
	k, err := signing.DecodeSecret(secret)
	if err != nil {
		t.Fatalf("DecodeSecret(%q): %v", secret, err)
	}
	return k
}

func signers(keys ...signing.Key) []*signing.Signer {
	s := make([]*signing.Signer, len(keys))
	for i, k := range keys {
		s[i] = signing.NewSigner(k)
	}
	return s
}

func TestSignStandardVector(t *testing.T) {
	tests := []struct {
		name   string
		secret string
	}{
		{"with prefix", vecSecret},
		{"without prefix", strings.TrimPrefix(vecSecret, "whsec_")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustKey(t, tt.secret)
			if got := k.Sign(vecID, vecTS, []byte(vecBody)); got != vecSig {
				t.Errorf("Sign = %q, want %q", got, vecSig)
			}
			s := signing.NewSigner(k)
			for range 2 { // the second time with a pooled, reset HMAC
				if got := s.Sign(vecID, vecTS, []byte(vecBody)); got != vecSig {
					t.Errorf("Signer.Sign = %q, want %q", got, vecSig)
				}
			}
			got := signing.SignatureHeader([]*signing.Signer{s}, vecID, vecTS, []byte(vecBody))
			if got != vecSig {
				t.Errorf("SignatureHeader = %q, want %q", got, vecSig)
			}
		})
	}
}

func TestSignVerifiesWithReferenceLibrary(t *testing.T) {
	oldSecret, newSecret, otherSecret := signing.NewSecret(), signing.NewSecret(), signing.NewSecret()
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_123"}}`)

	tests := []struct {
		name     string
		signWith []string // secrets whose keys sign, in header order
		verifier string   // secret known to the verifier
		body     []byte   // body given to the verifier; nil means the signed body
		wantErr  error
	}{
		{name: "single key", signWith: []string{newSecret}, verifier: newSecret},
		{name: "rotation, verifier knows second key", signWith: []string{oldSecret, newSecret}, verifier: newSecret},
		{name: "rotation, verifier knows first key", signWith: []string{oldSecret, newSecret}, verifier: oldSecret},
		{name: "unknown key", signWith: []string{oldSecret, newSecret}, verifier: otherSecret, wantErr: standardwebhooks.ErrNoMatchingSignature},
		{name: "tampered body", signWith: []string{newSecret}, verifier: newSecret, body: []byte(`{}`), wantErr: standardwebhooks.ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := make([]signing.Key, len(tt.signWith))
			for i, s := range tt.signWith {
				keys[i] = mustKey(t, s)
			}
			id := "msg_" + strconv.Itoa(len(tt.name))
			ts := time.Now().Unix()

			h := http.Header{}
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
			h.Set("webhook-signature", signing.SignatureHeader(signers(keys...), id, ts, body))

			wh, err := standardwebhooks.NewWebhook(tt.verifier)
			if err != nil {
				t.Fatalf("NewWebhook: %v", err)
			}
			verifyBody := body
			if tt.body != nil {
				verifyBody = tt.body
			}
			err = wh.Verify(verifyBody, h)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v (header %q)", err, h.Get("webhook-signature"))
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignatureHeader(t *testing.T) {
	k1, k2, k3 := mustKey(t, signing.NewSecret()), mustKey(t, signing.NewSecret()), mustKey(t, vecSecret)
	body := []byte(vecBody)

	tests := []struct {
		name string
		keys []signing.Key
	}{
		{"no keys", nil},
		{"one key", []signing.Key{k3}},
		{"two keys", []signing.Key{k1, k2}},
		{"three keys", []signing.Key{k3, k1, k2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make([]string, len(tt.keys))
			for i, k := range tt.keys {
				want[i] = k.Sign(vecID, vecTS, body)
			}
			got := signing.SignatureHeader(signers(tt.keys...), vecID, vecTS, body)
			if w := strings.Join(want, " "); got != w {
				t.Errorf("SignatureHeader = %q, want %q", got, w)
			}
		})
	}
}

// TestSignConcurrent exercises the pooled scratch buffers and HMAC states
// under -race.
func TestSignConcurrent(t *testing.T) {
	k := mustKey(t, vecSecret)
	s := signing.NewSigner(k)
	const n = 64
	want := make([]string, n)
	for i := range want {
		want[i] = k.Sign(fmt.Sprintf("msg_%d_%s", i, strings.Repeat("x", i*20)), int64(i), []byte(vecBody))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for j := range 50 {
				msgID := fmt.Sprintf("msg_%d_%s", i, strings.Repeat("x", i*20))
				got := k.Sign(msgID, int64(i), []byte(vecBody))
				if j%2 == 1 {
					got = s.Sign(msgID, int64(i), []byte(vecBody))
				}
				if got != want[i] {
					t.Errorf("goroutine %d: Sign = %q, want %q", i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHMACSHA256(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		body   string
		want   string // computed with openssl dgst -sha256 -hmac
	}{
		{"whsec secret used verbatim", vecSecret, `{"event":"ping"}`, "se7vZRqzNKGA1JmQjG7SuE2S3fElgXl6fjsaZBZA8N8="},
		{"plain secret, empty body", "topsecret", "", "gY+cuIMVrAi174P5ZlDKb0493ctFSOSHm3RvVrV/orA="},
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "hello, world", "Vt3TUlvSx9uWRnfJC/4IW6z7glbPGkI0jmODgD78mY8="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mac := hmac.New(sha256.New, []byte(tt.secret))
			mac.Write([]byte(tt.body))
			independent := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			if independent != tt.want {
				t.Fatalf("test vector is wrong: crypto/hmac gives %q, table says %q", independent, tt.want)
			}
			s := signing.NewSigner([]byte(tt.secret))
			for range 2 { // the second time with a pooled, reset HMAC
				if got := s.HMACSHA256([]byte(tt.body)); got != tt.want {
					t.Errorf("HMACSHA256 = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		s := signing.NewSecret()
		if !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("NewSecret() = %q, missing whsec_ prefix", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q", s)
		}
		seen[s] = true
		k, err := signing.DecodeSecret(s)
		if err != nil {
			t.Fatalf("DecodeSecret(NewSecret()): %v", err)
		}
		if len(k) != 32 {
			t.Fatalf("decoded key has %d bytes, want 32", len(k))
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	vecKey, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

	tests := []struct {
		name    string
		secret  string
		want    []byte
		wantErr bool
	}{
		{name: "with prefix", secret: vecSecret, want: vecKey},
		{name: "without prefix", secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", want: vecKey},
		{name: "single byte", secret: "whsec_AA==", want: []byte{0}},
		{name: "empty", secret: "", wantErr: true},
		{name: "prefix only", secret: "whsec_", wantErr: true},
		{name: "invalid characters", secret: "whsec_!!!!", wantErr: true},
		{name: "missing padding", secret: "whsec_AA", wantErr: true},
		{name: "extra padding", secret: vecSecret + "=", wantErr: true},
		{name: "url-safe alphabet", secret: "whsec_-_-_", wantErr: true},
		{name: "double prefix", secret: "whsec_" + vecSecret, wantErr: true},
		{name: "leading space", secret: " " + vecSecret, wantErr: true},
		{name: "wrong prefix", secret: "whsec-MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signing.DecodeSecret(tt.secret)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("DecodeSecret(%q) = %x, want error", tt.secret, got)
				}
				if len(tt.secret) > 8 && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeSecret(%q): %v", tt.secret, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("DecodeSecret(%q) = %x, want %x", tt.secret, got, tt.want)
			}
		})
	}
}

func FuzzDecodeSecret(f *testing.F) {
	for _, s := range []string{vecSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", "whsec_", "whsec_AA==", "whsec_!!", signing.NewSecret()} {
		f.Add(s, vecID, int64(vecTS), []byte(vecBody))
	}
	f.Fuzz(func(t *testing.T, secret, msgID string, ts int64, body []byte) {
		k, err := signing.DecodeSecret(secret)
		if err != nil {
			return
		}
		if len(k) == 0 {
			t.Fatal("DecodeSecret succeeded with an empty key")
		}
		sig := k.Sign(msgID, ts, body)
		if len(sig) != 47 || !strings.HasPrefix(sig, "v1,") {
			t.Fatalf("Sign = %q, want v1,<44 base64 chars>", sig)
		}
		// Cross-check against the reference implementation, which decodes
		// secrets the same way.
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatalf("reference rejects secret we accepted: %v", err)
		}
		ref, _ := wh.Sign(msgID, time.Unix(ts, 0), body)
		if sig != ref {
			t.Fatalf("Sign = %q, reference = %q", sig, ref)
		}
		if h := signing.SignatureHeader(signers(k, k), msgID, ts, body); h != sig+" "+sig {
			t.Fatalf("SignatureHeader = %q, want %q twice", h, sig)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	k := mustKey(b, signing.NewSecret())
	body := bytes.Repeat([]byte("a"), 300)
	b.Run("key", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			_ = k.Sign(vecID, vecTS, body)
		}
	})
	b.Run("signer", func(b *testing.B) {
		s := signing.NewSigner(k)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			_ = s.Sign(vecID, vecTS, body)
		}
	})
}

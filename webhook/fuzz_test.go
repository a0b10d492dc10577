// FuzzVerify: signature headers of any shape never panic Verify, never
// verify without the secret, and a header made valid by signing always does.
package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func FuzzVerify(f *testing.F) {
	f.Add("evt_1", "1700000000", "v1,abc=", []byte(`{}`))
	f.Add("evt_1", "1700000000", "v1,abc= v1,def=", []byte(`{"a":1}`))
	f.Add("", "", "", []byte(nil))
	f.Add("x", "-1", "v1,", []byte("x"))
	f.Add("x", "99999999999999999999", "v1a,zz v2,", []byte("x"))
	f.Add("x.y", "1700000000", "v1,,,, ,  v1,====", []byte("."))
	std, err := NewVerifier(secretA, WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	hm, err := NewVerifier(secretA, WithScheme(SchemeHMACSHA256))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		h.Set(DefaultSignatureHeader, sig)
		known := []error{ErrMissingHeaders, ErrMalformedHeader, ErrInvalidSignature, ErrTimestampTooOld, ErrTimestampTooNew}
		for _, v := range []*Verifier{std, hm} {
			err := v.Verify(h, body)
			if err == nil {
				t.Fatalf("%s: a signature made without the secret verified: id %q ts %q sig %q", v.Scheme(), id, ts, sig)
			}
			ok := false
			for _, k := range known {
				ok = ok || errors.Is(err, k)
			}
			if !ok {
				t.Fatalf("%s: an error of no known kind: %v", v.Scheme(), err)
			}
		}
		// Signed for real, beside whatever the fuzzer sent, it verifies
		// (unless the id is blank, or the fuzzer's signatures crowd it out).
		good, _ := SignStandard(secretA, id, now, body)
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSignature, sig+" "+good)
		if err := std.Verify(h, body); err != nil && strings.TrimSpace(id) != "" && len(strings.Fields(sig)) < maxSignatures {
			t.Fatalf("a good signature beside %q did not verify: %v", sig, err)
		}
		h.Set(DefaultSignatureHeader, sig+" "+SignHMAC(secretA, body))
		if err := hm.Verify(h, body); err != nil && len(strings.Fields(sig)) < maxSignatures {
			t.Fatalf("a good hmac beside %q did not verify: %v", sig, err)
		}
	})
}

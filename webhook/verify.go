// The Verifier: its options, and the checks of both signature schemes.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signature schemes, as a subscription's signature_scheme names them.
const (
	SchemeStandard   = "standard"
	SchemeHMACSHA256 = "hmac-sha256"
)

// Defaults.
const (
	// DefaultTolerance is how far a standard signature's timestamp may be
	// from now, either way.
	DefaultTolerance = 5 * time.Minute
	// DefaultSignatureHeader is the header of the hmac-sha256 scheme.
	DefaultSignatureHeader = "X-Postbode-Signature"
	// DefaultMaxBodySize is the largest body Middleware reads: Postbode's
	// own limit on an event.
	DefaultMaxBodySize = 1 << 20
)

// The headers of the standard scheme.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// maxSignatures bounds how many space-separated signatures one header may
// hold (Postbode sends at most two).
const maxSignatures = 8

// Errors of Verify; Verify wraps them with details, so match with errors.Is.
var (
	// ErrMissingHeaders: a signature header (or, for the standard scheme,
	// the id or timestamp) is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrMalformedHeader: a header is present but cannot be read (a
	// timestamp that is no number, a signature that is no base64, no
	// "v1," signature at all).
	ErrMalformedHeader = errors.New("webhook: malformed signature header")
	// ErrInvalidSignature: no signature matches the body.
	ErrInvalidSignature = errors.New("webhook: invalid signature")
	// ErrTimestampTooOld: the timestamp is further in the past than the tolerance.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew: the timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook: timestamp too new")
	// ErrInvalidSecret: NewVerifier got a secret it cannot use.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
)

// Verifier checks the signatures of one subscription (or of several
// secrets, see WithSecrets). It is safe for concurrent use.
type Verifier struct {
	scheme    string
	header    string
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
	onError   func(w http.ResponseWriter, r *http.Request, status int, err error)
	secrets   []string
	keys      [][]byte // the HMAC keys, one per secret
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithScheme picks the signature scheme: SchemeStandard (the default) or
// SchemeHMACSHA256, as the subscription's signature_scheme.
func WithScheme(scheme string) Option { return func(v *Verifier) { v.scheme = scheme } }

// WithSignatureHeader names the header of the hmac-sha256 scheme, as the
// subscription's signature_header (default X-Postbode-Signature).
func WithSignatureHeader(name string) Option { return func(v *Verifier) { v.header = name } }

// WithTolerance sets how far a standard signature's timestamp may be from
// now (default 5 minutes). A tolerance of 0 or less turns the check off.
func WithTolerance(d time.Duration) Option { return func(v *Verifier) { v.tolerance = d } }

// WithClock sets the clock timestamps are checked against (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// WithMaxBodySize sets the largest body Middleware reads (default 1 MiB);
// a larger one is answered 413.
func WithMaxBodySize(n int64) Option {
	return func(v *Verifier) {
		if n > 0 {
			v.maxBody = n
		}
	}
}

// WithSecrets adds secrets a signature may match besides the first: the
// old one during your own rollover of a receiver's configuration.
// (Postbode signs with both secrets during a rotation, so the new one
// alone is enough.)
func WithSecrets(more ...string) Option {
	return func(v *Verifier) { v.secrets = append(v.secrets, more...) }
}

// WithErrorHandler replaces how Middleware answers a request it refuses:
// status is 400, 401 or 413, err says why. The default writes the status
// with err's text.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, status int, err error)) Option {
	return func(v *Verifier) {
		if h != nil {
			v.onError = h
		}
	}
}

// NewVerifier returns a Verifier for secret, the subscription's secret
// ("whsec_…") as Postbode showed it when the subscription was made or its
// secret rotated.
func NewVerifier(secret string, opts ...Option) (*Verifier, error) {
	v := &Verifier{scheme: SchemeStandard, header: DefaultSignatureHeader, tolerance: DefaultTolerance,
		now: time.Now, maxBody: DefaultMaxBodySize, secrets: []string{secret}, onError: defaultOnError}
	for _, o := range opts {
		o(v)
	}
	switch v.scheme {
	case SchemeStandard, SchemeHMACSHA256:
	default:
		return nil, fmt.Errorf("webhook: unknown scheme %q (want %q or %q)", v.scheme, SchemeStandard, SchemeHMACSHA256)
	}
	if v.scheme == SchemeHMACSHA256 && strings.TrimSpace(v.header) == "" {
		return nil, errors.New("webhook: the signature header name is empty")
	}
	for i, s := range v.secrets {
		if s == "" {
			return nil, fmt.Errorf("%w: secret %d is empty", ErrInvalidSecret, i)
		}
		if v.scheme == SchemeHMACSHA256 {
			v.keys = append(v.keys, []byte(s))
			continue
		}
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(k) == 0 {
			// Never show the secret itself.
			return nil, fmt.Errorf("%w: secret %d is not whsec_ followed by base64", ErrInvalidSecret, i)
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// Scheme is the scheme the Verifier checks.
func (v *Verifier) Scheme() string { return v.scheme }

// Verify checks that body, received with headers h, was signed with the
// Verifier's secret: nil, or an error matching one of ErrMissingHeaders,
// ErrMalformedHeader, ErrInvalidSignature, ErrTimestampTooOld and
// ErrTimestampTooNew.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if v.scheme == SchemeHMACSHA256 {
		return v.verifyHMAC(h, body)
	}
	return v.verifyStandard(h, body)
}

func (v *Verifier) verifyStandard(h http.Header, body []byte) error {
	id, ts, sigs := header(h, HeaderID), header(h, HeaderTimestamp), header(h, HeaderSignature)
	var missing []string
	for _, f := range []struct{ name, val string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if strings.TrimSpace(f.val) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	ts = strings.TrimSpace(ts)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrMalformedHeader, HeaderTimestamp)
	}
	if v.tolerance > 0 {
		now := v.now().Unix()
		tol := int64(v.tolerance / time.Second)
		switch {
		case sec < now-tol:
			return fmt.Errorf("%w: signed %ds ago, more than %s", ErrTimestampTooOld, now-sec, v.tolerance)
		case sec > now+tol:
			return fmt.Errorf("%w: signed %ds from now, more than %s", ErrTimestampTooNew, sec-now, v.tolerance)
		}
	}
	// The signed content: exactly the header values as they came.
	prefix := id + "." + ts + "."
	expected := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(prefix))
		mac.Write(body)
		expected[i] = mac.Sum(nil)
	}
	seen := 0
	for i, s := range strings.Fields(sigs) {
		if i >= maxSignatures {
			break
		}
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue // another version: not ours to check
		}
		seen++
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if anyEqual(expected, got) {
			return nil
		}
	}
	if seen == 0 {
		return fmt.Errorf("%w: no v1 signature in %s", ErrMalformedHeader, HeaderSignature)
	}
	return ErrInvalidSignature
}

func (v *Verifier) verifyHMAC(h http.Header, body []byte) error {
	val := header(h, v.header)
	if strings.TrimSpace(val) == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, v.header)
	}
	expected := make([][]byte, len(v.keys))
	for i, k := range v.keys {
		mac := hmac.New(sha256.New, k)
		mac.Write(body)
		expected[i] = mac.Sum(nil)
	}
	decoded := 0
	for i, s := range strings.Fields(val) {
		if i >= maxSignatures {
			break
		}
		got, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			continue
		}
		decoded++
		if anyEqual(expected, got) {
			return nil
		}
	}
	if decoded == 0 {
		return fmt.Errorf("%w: %s holds no base64 signature", ErrMalformedHeader, v.header)
	}
	return ErrInvalidSignature
}

// header is h's value of name, also when h was built by hand with a key
// that is not in canonical form ("webhook-id").
func header(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

// anyEqual compares got with every expected MAC in constant time.
func anyEqual(expected [][]byte, got []byte) bool {
	match := false
	for _, e := range expected {
		if hmac.Equal(e, got) {
			match = true
		}
	}
	return match
}

// SignStandard returns the webhook-signature value Postbode would send for
// a message of id signed at t: "v1,<base64>". Use it to test receivers.
func SignStandard(secret, id string, t time.Time, body []byte) (string, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(k) == 0 {
		return "", fmt.Errorf("%w: not whsec_ followed by base64", ErrInvalidSecret)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(id + "." + strconv.FormatInt(t.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignHMAC returns the hmac-sha256 header value Postbode would send for
// body: base64(HMAC-SHA256(key = secret's bytes, body)).
func SignHMAC(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

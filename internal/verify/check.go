// Checking a request's signature. Every failure reads as a sentence for the
// sender's integrator, naming the header at fault, and never contains the
// secret or the expected signature: a client could read either in the 401.

package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/signing"
)

// Why a check failed, for errors.Is. Check's errors wrap exactly one.
var (
	ErrMissing   = errors.New("verify: missing header")
	ErrMalformed = errors.New("verify: malformed header")
	ErrMismatch  = errors.New("verify: signature does not match")
	ErrTimestamp = errors.New("verify: timestamp outside the tolerance")
)

// Code is the error code of a failed check, as the API shows it.
const Code = "invalid_signature"

// fail is a failed check: 401 invalid_signature, wrapping why.
func fail(why error, format string, args ...any) error {
	return &errs.Error{Kind: errs.Unauthenticated, Code: Code, Message: fmt.Sprintf(format, args...), Err: why}
}

func malformed(header, format string, args ...any) error {
	return fail(ErrMalformed, "malformed %s header: %s", header, fmt.Sprintf(format, args...))
}

func mismatch() error { return fail(ErrMismatch, "signature does not match") }

// Check verifies that h and body carry a valid signature at time now. It
// returns nil when they do; otherwise an *errs.Error (Unauthenticated,
// code invalid_signature) whose message says why and which wraps
// ErrMissing, ErrMalformed, ErrTimestamp or ErrMismatch. A Config that
// cannot check anything (nil, no secret, an unknown scheme, an unresolved
// SecretMask) yields a plain error, an internal fault: it fails closed.
// Check is safe for concurrent use.
func (c *Config) Check(h http.Header, body []byte, now time.Time) error {
	if c == nil {
		return errors.New("verify: Check on a nil Config")
	}
	if c.Secret == "" || c.Secret == SecretMask {
		return fmt.Errorf("verify: the %s check has no secret to check with", c.Scheme)
	}
	key := []byte(c.Secret)
	switch c.Scheme {
	case SchemeStandard:
		return checkStandard(c.Secret, h, body, now)
	case SchemeStripe:
		return checkStripe(key, h, body, now)
	case SchemeSlack:
		return checkSlack(key, h, body, now)
	case SchemeGitHub:
		return github.check(key, h, body)
	case SchemeShopify:
		return shopify.check(key, h, body)
	case SchemeHMAC:
		f, err := c.format()
		if err != nil {
			return err
		}
		return f.check(key, h, body)
	}
	return fmt.Errorf("verify: unknown scheme %q", c.Scheme)
}

// format is a signature in one header: prefix + encoded MAC.
type format struct {
	header string // as shown in messages; lookups canonicalize it
	prefix string
	hash   func() hash.Hash
	alg    string // for messages: "HMAC-SHA256"
	size   int    // of the raw MAC
	base64 bool   // else hex
}

var (
	github  = &format{header: "X-Hub-Signature-256", prefix: "sha256=", hash: sha256.New, alg: "HMAC-SHA256", size: sha256.Size}
	shopify = &format{header: "X-Shopify-Hmac-Sha256", hash: sha256.New, alg: "HMAC-SHA256", size: sha256.Size, base64: true}
	slack   = &format{header: "X-Slack-Signature", prefix: "v0=", hash: sha256.New, alg: "HMAC-SHA256", size: sha256.Size}
)

// format is the hmac scheme's format. Defaults apply here too, since a
// stored Config may not have been through Validate.
func (c *Config) format() (*format, error) {
	f := &format{header: c.Header, prefix: c.Prefix}
	switch strings.ToLower(c.Algorithm) {
	case AlgorithmSHA1:
		f.hash, f.alg, f.size = sha1.New, "HMAC-SHA1", sha1.Size
	case AlgorithmSHA256, "":
		f.hash, f.alg, f.size = sha256.New, "HMAC-SHA256", sha256.Size
	case AlgorithmSHA512:
		f.hash, f.alg, f.size = sha512.New, "HMAC-SHA512", sha512.Size
	default:
		return nil, fmt.Errorf("verify: unknown algorithm %q", c.Algorithm)
	}
	switch strings.ToLower(c.Encoding) {
	case EncodingHex, "":
	case EncodingBase64:
		f.base64 = true
	default:
		return nil, fmt.Errorf("verify: unknown encoding %q", c.Encoding)
	}
	if c.Header == "" {
		return nil, errors.New("verify: the hmac check has no header")
	}
	return f, nil
}

// check verifies a MAC of the body alone.
func (f *format) check(key []byte, h http.Header, body []byte) error {
	sigs, err := f.candidates(h)
	if err != nil {
		return err
	}
	mac := hmac.New(f.hash, key)
	mac.Write(body)
	return match(mac.Sum(nil), sigs)
}

// candidates decodes every value of f's header: a proxy may have repeated
// it, and trying each costs one comparison, not one MAC.
func (f *format) candidates(h http.Header) ([][]byte, error) {
	vals := values(h, f.header)
	if len(vals) == 0 {
		return nil, fail(ErrMissing, "missing %s header", f.header)
	}
	var sigs [][]byte
	for _, v := range vals {
		if sig, ok := f.decode(v); ok {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return nil, malformed(f.header, "expected %s", f.describe())
	}
	return sigs, nil
}

func (f *format) decode(v string) ([]byte, bool) {
	if len(v) < len(f.prefix) || !strings.EqualFold(v[:len(f.prefix)], f.prefix) {
		return nil, false
	}
	v = v[len(f.prefix):]
	var sig []byte
	var err error
	if f.base64 {
		sig, err = decodeBase64(v)
	} else {
		sig, err = hex.DecodeString(v)
	}
	if err != nil || len(sig) != f.size {
		return nil, false
	}
	return sig, true
}

// describe says what f's header should hold, e.g. `"sha256=" followed by
// a hex HMAC-SHA256 (64 characters)`.
func (f *format) describe() string {
	var s string
	if f.prefix != "" {
		s = strconv.Quote(f.prefix) + " followed by "
	}
	if f.base64 {
		return s + fmt.Sprintf("a base64 %s (%d characters)", f.alg, base64.StdEncoding.EncodedLen(f.size))
	}
	return s + fmt.Sprintf("a hex %s (%d characters)", f.alg, hex.EncodedLen(f.size))
}

// decodeBase64 takes standard or URL-safe base64, padded or not: senders
// differ, and each spelling decodes to the same MAC.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.Strict().DecodeString(s)
}

// values returns h's non-empty values of name.
func values(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// single returns the one value of a header that must not repeat (an id or
// a timestamp: with two, which was signed is unclear).
func single(h http.Header, name string) (string, error) {
	vals := values(h, name)
	switch len(vals) {
	case 0:
		return "", fail(ErrMissing, "missing %s header", name)
	case 1:
		return vals[0], nil
	}
	return "", malformed(name, "it is given %d times", len(vals))
}

// match reports whether one of sigs is sum, comparing in constant time.
func match(sum []byte, sigs [][]byte) error {
	for _, sig := range sigs {
		if hmac.Equal(sum, sig) {
			return nil
		}
	}
	return mismatch()
}

// maxTimestamp bounds a timestamp's digits, so that the arithmetic on it
// cannot overflow.
const maxTimestamp = 15

// parseUnix reads Unix seconds: digits only, as every scheme sends them.
func parseUnix(header, v string) (int64, error) {
	ok := v != "" && len(v) <= maxTimestamp
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		return 0, malformed(header, "expected a timestamp in Unix seconds")
	}
	return strconv.ParseInt(v, 10, 64)
}

// checkTime refuses a timestamp more than Tolerance from now, either way:
// an old one may be a replay, and one from the future could be replayed
// for longer.
func checkTime(ts int64, now time.Time) error {
	n, tol := now.Unix(), int64(Tolerance/time.Second)
	switch {
	case ts < n-tol:
		return fail(ErrTimestamp, "timestamp is %s old, more than the %s allowed", seconds(n-ts), Tolerance)
	case ts > n+tol:
		return fail(ErrTimestamp, "timestamp is %s in the future, more than the %s allowed", seconds(ts-n), Tolerance)
	}
	return nil
}

// seconds formats a count of seconds as a Duration does ("12m0s"). A
// Duration spans some 292 years and a timestamp of maxTimestamp digits can
// be much further off: beyond, it is plain seconds.
func seconds(s int64) string {
	if s > int64((1<<63-1)/time.Second) {
		return strconv.FormatInt(s, 10) + "s"
	}
	return (time.Duration(s) * time.Second).String()
}

// Standard Webhooks headers; Svix sends the same under its own names.
var (
	standardHeaders = [3]string{"webhook-id", "webhook-timestamp", "webhook-signature"}
	svixHeaders     = [3]string{"svix-id", "svix-timestamp", "svix-signature"}
)

func checkStandard(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := signing.DecodeSecret(secret)
	if err != nil {
		return fmt.Errorf("verify: the stored standard secret does not decode: %w", err)
	}
	names := standardHeaders
	if len(values(h, names[2])) == 0 && len(values(h, svixHeaders[2])) > 0 {
		names = svixHeaders
	}
	sigHeader := values(h, names[2])
	if len(sigHeader) == 0 {
		return fail(ErrMissing, "missing %s header", names[2])
	}
	id, err := single(h, names[0])
	if err != nil {
		return err
	}
	tsv, err := single(h, names[1])
	if err != nil {
		return err
	}
	ts, err := parseUnix(names[1], tsv)
	if err != nil {
		return err
	}
	// Entries are "<version>,<signature>"; other versions (v1a, signed
	// with Ed25519) are skipped, as the specification says.
	var sigs [][]byte
	var others bool
	for _, v := range sigHeader {
		for _, entry := range strings.Fields(v) {
			ver, b64, ok := strings.Cut(entry, ",")
			if ver != "v1" {
				others = others || ok && ver != ""
				continue
			}
			if sig, err := base64.StdEncoding.Strict().DecodeString(b64); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if len(sigs) == 0 {
		if others {
			return malformed(names[2], "no v1 signature; only v1 (HMAC-SHA256) is checked")
		}
		return malformed(names[2], `expected space-separated "v1,<base64 HMAC-SHA256>" entries`)
	}
	if err := checkTime(ts, now); err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsv + "."))
	mac.Write(body)
	return match(mac.Sum(nil), sigs)
}

const stripeHeader = "Stripe-Signature"

func checkStripe(key []byte, h http.Header, body []byte, now time.Time) error {
	vals := values(h, stripeHeader)
	if len(vals) == 0 {
		return fail(ErrMissing, "missing %s header", stripeHeader)
	}
	// "t=<unix>,v1=<hex>,v1=<hex>,v0=<hex>"; schemes other than v1 are
	// skipped, as Stripe's own libraries do.
	var tsv string
	var sigs [][]byte
	var v1s int
	for _, v := range vals {
		for item := range strings.SplitSeq(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(item), "=")
			switch k {
			case "t":
				if tsv != "" && tsv != val {
					return malformed(stripeHeader, "more than one t= timestamp")
				}
				tsv = val
			case "v1":
				v1s++
				if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
					sigs = append(sigs, sig)
				}
			}
		}
	}
	if tsv == "" {
		return malformed(stripeHeader, "no t=<timestamp>")
	}
	ts, err := parseUnix(stripeHeader, tsv)
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		if v1s > 0 {
			return malformed(stripeHeader, "v1= must be a hex HMAC-SHA256 (64 characters)")
		}
		return malformed(stripeHeader, "no v1=<signature>")
	}
	if err := checkTime(ts, now); err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(tsv + "."))
	mac.Write(body)
	return match(mac.Sum(nil), sigs)
}

const slackTimestamp = "X-Slack-Request-Timestamp"

func checkSlack(key []byte, h http.Header, body []byte, now time.Time) error {
	sigs, err := slack.candidates(h)
	if err != nil {
		return err
	}
	tsv, err := single(h, slackTimestamp)
	if err != nil {
		return err
	}
	ts, err := parseUnix(slackTimestamp, tsv)
	if err != nil {
		return err
	}
	if err := checkTime(ts, now); err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("v0:" + tsv + ":"))
	mac.Write(body)
	return match(mac.Sum(nil), sigs)
}

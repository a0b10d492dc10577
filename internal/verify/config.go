// The configuration: strict decoding, validation with defaults, and the
// masking of the secret for API output.

package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/validate"
)

// The schemes a Config may name.
const (
	SchemeStandard = "standard"
	SchemeHMAC     = "hmac"
	SchemeGitHub   = "github"
	SchemeStripe   = "stripe"
	SchemeShopify  = "shopify"
	SchemeSlack    = "slack"
)

// The algorithms and encodings of the hmac scheme.
const (
	AlgorithmSHA1   = "sha1"
	AlgorithmSHA256 = "sha256"
	AlgorithmSHA512 = "sha512"
	EncodingHex     = "hex"
	EncodingBase64  = "base64"
)

const (
	// SecretMask stands for the stored secret in API output; sent back in
	// an update, it means "keep the stored secret" (see KeepSecret).
	SecretMask = "***"
	// MaxSecret bounds a secret's length in bytes.
	MaxSecret = 1024
	// Tolerance is how far a signed timestamp may be from now, either way:
	// the five minutes that Standard Webhooks, Stripe and Slack document.
	Tolerance = 5 * time.Minute

	maxPrefix = 100
	// A Standard Webhooks key is 24 to 64 bytes, as its specification says.
	minStandardKey, maxStandardKey = 24, 64
	whsec                          = "whsec_"
)

// Config is an inbound webhook's optional signature check, stored as JSON.
// Header, Algorithm, Encoding and Prefix belong to the hmac scheme only.
type Config struct {
	Scheme    string `json:"scheme"`
	Secret    string `json:"secret"`
	Header    string `json:"header,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	Encoding  string `json:"encoding,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
}

// String shows c as JSON with its secret masked, so that a Config printed
// or logged by mistake does not leak it.
func (c Config) String() string {
	b, _ := json.Marshal(c.Masked())
	return string(b)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue is String, for log/slog, whose JSON handler would otherwise
// marshal the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Parse decodes and validates a verify object: exact field names only,
// each at most once, strings only (null counts as absent), nothing after
// the object. It returns the Config with defaults filled in (see
// Validate). A JSON null means no verification: Parse returns nil, nil.
// Errors are *errs.Error naming "verify" or "verify.<field>".
func Parse(raw []byte) (*Config, error) {
	// The decoder would quietly turn invalid UTF-8 into U+FFFD, so a
	// secret would not be the bytes that were sent.
	if !utf8.Valid(raw) {
		return nil, errs.Invalidf("verify", "must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, notObject()
	}
	if tok == nil {
		if !atEOF(dec) {
			return nil, notObject()
		}
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, notObject()
	}
	var c Config
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject()
		}
		key, _ := tok.(string)
		dst := c.field(key)
		if dst == nil {
			return nil, unknownField(key)
		}
		if seen[key] {
			return nil, errs.Invalidf("verify."+key, "is given more than once")
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notObject()
		}
		if string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, errs.Invalidf("verify."+key, "must be a string")
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') || !atEOF(dec) {
		return nil, notObject()
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func notObject() error {
	return errs.Invalidf("verify", "must be a JSON object such as {\"scheme\":\"github\",\"secret\":\"…\"}")
}

func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// unknownField names the field when it is short and plain, and otherwise
// does not echo it: it is whatever a client sent.
func unknownField(key string) error {
	const known = "the fields are scheme, secret, header, algorithm, encoding and prefix"
	plain := key != "" && len(key) <= 40
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			plain = false
		}
	}
	if !plain {
		return errs.Invalidf("verify", "holds an unknown field; %s", known)
	}
	return errs.Invalidf("verify."+key, "is not a field of verify; %s", known)
}

// field is where the JSON field named key goes: exact names only, unlike
// encoding/json, so that "Secret" and "secret" cannot both be sent.
func (c *Config) field(key string) *string {
	switch key {
	case "scheme":
		return &c.Scheme
	case "secret":
		return &c.Secret
	case "header":
		return &c.Header
	case "algorithm":
		return &c.Algorithm
	case "encoding":
		return &c.Encoding
	case "prefix":
		return &c.Prefix
	}
	return nil
}

// Validate checks c and fills in the hmac scheme's defaults: algorithm
// sha256 and encoding hex (the most common spelling among senders that
// sign the body alone, GitHub's included); algorithm and encoding are
// lowercased. A Secret of SecretMask passes, for KeepSecret to resolve.
// Errors are *errs.Error naming "verify.<field>".
func (c *Config) Validate() error {
	switch c.Scheme {
	case SchemeStandard, SchemeHMAC, SchemeGitHub, SchemeStripe, SchemeShopify, SchemeSlack:
	case "":
		return errs.Invalidf("verify.scheme", "is required: one of standard, hmac, github, stripe, shopify or slack")
	default:
		return errs.Invalidf("verify.scheme", "must be one of standard, hmac, github, stripe, shopify or slack")
	}
	if c.Scheme == SchemeHMAC {
		if err := c.validateHMAC(); err != nil {
			return err
		}
	} else {
		for _, f := range []struct{ name, v string }{
			{"header", c.Header}, {"algorithm", c.Algorithm}, {"encoding", c.Encoding}, {"prefix", c.Prefix},
		} {
			if f.v != "" {
				return errs.Invalidf("verify."+f.name, "is not used by the %s scheme, which always reads %s; leave it out", c.Scheme, schemeHeader[c.Scheme])
			}
		}
	}
	return c.validateSecret()
}

// schemeHeader names the signature header of each fixed scheme, for
// messages.
var schemeHeader = map[string]string{
	SchemeStandard: "webhook-signature",
	SchemeGitHub:   "X-Hub-Signature-256",
	SchemeStripe:   "Stripe-Signature",
	SchemeShopify:  "X-Shopify-Hmac-Sha256",
	SchemeSlack:    "X-Slack-Signature",
}

func (c *Config) validateHMAC() error {
	if c.Header == "" {
		return errs.Invalidf("verify.header", "is required for the hmac scheme: the name of the header that holds the signature")
	}
	if !validate.HeaderName(c.Header) {
		return errs.Invalidf("verify.header", "must be an HTTP header name of at most 100 characters (letters, digits and !#$%%&'*+-.^_`|~)")
	}
	switch strings.ToLower(c.Header) {
	case "authorization", "proxy-authorization", "cookie":
		// These carry the webhook's own credential: a request could never
		// hold both it and a signature there.
		return errs.Invalidf("verify.header", "%s carries the webhook's credential; name the header that holds the signature", c.Header)
	}
	c.Algorithm = strings.ToLower(c.Algorithm)
	switch c.Algorithm {
	case "":
		c.Algorithm = AlgorithmSHA256
	case AlgorithmSHA1, AlgorithmSHA256, AlgorithmSHA512:
	default:
		return errs.Invalidf("verify.algorithm", "must be sha1, sha256 or sha512")
	}
	c.Encoding = strings.ToLower(c.Encoding)
	switch c.Encoding {
	case "":
		c.Encoding = EncodingHex
	case EncodingHex, EncodingBase64:
	default:
		return errs.Invalidf("verify.encoding", "must be hex or base64")
	}
	if err := validate.Line("verify.prefix", c.Prefix, maxPrefix); err != nil {
		return err
	}
	// net/http trims header values, so a prefix starting with a space
	// could never match.
	if strings.TrimLeft(c.Prefix, " \t") != c.Prefix {
		return errs.Invalidf("verify.prefix", "must not start with a space")
	}
	return nil
}

// validateSecret checks the secret. Its messages never quote it.
func (c *Config) validateSecret() error {
	s := c.Secret
	if s == "" {
		return errs.Invalidf("verify.secret", "is required")
	}
	if s == SecretMask {
		return nil
	}
	if err := validate.Text("verify.secret", s, MaxSecret); err != nil {
		return err
	}
	// A secret is pasted from the sender's dashboard; a stray space or
	// line break would make every signature fail, with no clue why.
	if strings.TrimSpace(s) != s {
		return errs.Invalidf("verify.secret", "must not start or end with spaces or line breaks")
	}
	switch c.Scheme {
	case SchemeStandard:
		if err := standardSecret(s); err != nil {
			return err
		}
	case SchemeStripe:
		// Catches the commonest mistake, pasting an API key (sk_…).
		if !strings.HasPrefix(s, whsec) {
			return errs.Invalidf("verify.secret", "must be the endpoint's signing secret, which starts with whsec_ (not an API key)")
		}
	}
	return nil
}

// standardSecret checks "whsec_" + standard base64 of 24 to 64 bytes.
func standardSecret(s string) error {
	b64, ok := strings.CutPrefix(s, whsec)
	if !ok {
		return errs.Invalidf("verify.secret", "must be a Standard Webhooks secret: whsec_ followed by base64")
	}
	// encoding/base64 skips line breaks inside its input; refuse them.
	for _, r := range b64 {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=') {
			return errs.Invalidf("verify.secret", "must be whsec_ followed by standard base64 (A-Z, a-z, 0-9, +, / and = only)")
		}
	}
	key, err := signing.DecodeSecret(s)
	if b64 == "" {
		key, err = nil, nil // empty, not malformed: say so below
	}
	if err != nil {
		return errs.Invalidf("verify.secret", "must be whsec_ followed by valid standard base64")
	}
	if len(key) < minStandardKey || len(key) > maxStandardKey {
		return errs.Invalidf("verify.secret", "must encode %d to %d bytes after whsec_, not %d", minStandardKey, maxStandardKey, len(key))
	}
	return nil
}

// Masked returns a copy of c for API output, its secret shown as
// SecretMask. It returns nil for nil.
func (c *Config) Masked() *Config {
	if c == nil {
		return nil
	}
	m := *c
	if m.Secret != "" {
		m.Secret = SecretMask
	}
	return &m
}

// KeepSecret resolves SecretMask in an update: when c.Secret is SecretMask
// and old (the stored Config) has the same scheme, c takes old's secret.
// It fails, naming verify.secret, when there is no such secret to keep: a
// new scheme needs its own secret. A c with a real secret is left alone.
func (c *Config) KeepSecret(old *Config) error {
	if c == nil || c.Secret != SecretMask {
		return nil
	}
	if old == nil || old.Secret == "" || old.Secret == SecretMask {
		return errs.Invalidf("verify.secret", "is required: %q keeps the stored secret, and there is none", SecretMask)
	}
	if old.Scheme != c.Scheme {
		return errs.Invalidf("verify.secret", "is required when the scheme changes from %s to %s: %q keeps the stored secret only for the same scheme", old.Scheme, c.Scheme, SecretMask)
	}
	c.Secret = old.Secret
	return nil
}

// The Client: its options, and the one way every call goes to the server:
// JSON in and out, the bearer token, errors decoded into *Error, and
// retries with backoff on 429 and 503 (and on network errors when the
// request is safe to repeat), the body sent again whole each time.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent a Client sends unless told otherwise.
const DefaultUserAgent = "postbode-go-client/1"

// DefaultRetries is how many times a Client retries a request by default.
const DefaultRetries = 3

// Client calls one Postbode server. It is safe for concurrent use.
type Client struct {
	base      string // the server's root, without a trailing slash
	token     string
	hc        *http.Client
	retries   int
	userAgent string
	// backoffBase is the first retry's delay without Retry-After; each
	// further retry doubles it, up to backoffMax, with jitter.
	backoffBase, backoffMax time.Duration
	// maxRetryAfter is the longest Retry-After waited for; a longer one
	// returns the error at once.
	maxRetryAfter time.Duration
	// sleep waits d or until ctx is done (a test replaces it).
	sleep func(ctx context.Context, d time.Duration) error
	// newKey makes an idempotency key for a publish without one.
	newKey func() string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of the default client
// (which has a 65-second timeout, longer than a mailbox long poll).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithRetries sets how many times a request is retried after a 429, a 503
// or (when safe) a network error: 0 turns retries off. The default is
// DefaultRetries.
func WithRetries(n int) Option {
	return func(c *Client) { c.retries = max(0, n) }
}

// WithUserAgent sets the User-Agent header sent with every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithBackoff sets the delay before the first retry when the server sent
// no Retry-After (default 500ms) and the most any retry waits for
// (default 30s): the delay doubles with each retry, with jitter, up to
// maxDelay. A Retry-After longer than maxDelay is not waited for: the
// error is returned at once.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *Client) {
		if base > 0 {
			c.backoffBase = base
		}
		if maxDelay > 0 {
			c.backoffMax = maxDelay
			c.maxRetryAfter = maxDelay
		}
	}
}

// New returns a client for the server at baseURL (e.g.
// "http://127.0.0.1:8080"; a trailing "/api/v1" is accepted too) that
// authenticates with token as Authorization: Bearer.
func New(baseURL, token string, opts ...Option) *Client {
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/api/v1")
	c := &Client{
		base:          base,
		token:         token,
		hc:            &http.Client{Timeout: 65 * time.Second},
		retries:       DefaultRetries,
		userAgent:     DefaultUserAgent,
		backoffBase:   500 * time.Millisecond,
		backoffMax:    30 * time.Second,
		maxRetryAfter: 30 * time.Second,
		sleep:         sleepCtx,
		newKey:        newIdempotencyKey,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the server's root URL the client calls.
func (c *Client) BaseURL() string { return c.base }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newIdempotencyKey is 128 random bits, hex: unique for any practical purpose.
func newIdempotencyKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "pbgo_" + hex.EncodeToString(b)
}

// request is one call as the methods describe it.
type request struct {
	method string
	// path is under the server's root ("/api/v1/…"); rawURL, when set, is
	// an absolute URL used instead.
	path   string
	rawURL string
	query  url.Values
	// body is encoded as JSON unless nil; raw, when not nil, is sent as it
	// is with contentType.
	body        any
	raw         []byte
	contentType string
	header      http.Header
	// authorization replaces the bearer token when set.
	authorization string
	// idempotent says the request may be repeated after a network error:
	// doing it twice does nothing more than doing it once.
	idempotent bool
}

// apiPath joins escaped path segments under /api/v1.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends r, retrying as the Client's options allow, and decodes a 2xx
// answer's body into out (when out is not nil and there is a body).
func (c *Client) do(ctx context.Context, r *request, out any) error {
	body := r.raw
	contentType := r.contentType
	if r.raw == nil && r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("postbode: encoding the request body: %w", err)
		}
		body, contentType = b, "application/json"
	}
	target := r.rawURL
	if target == "" {
		target = c.base + r.path
	}
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body) // a fresh reader: the whole body again on every try
		}
		req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
		if err != nil {
			return fmt.Errorf("postbode: %w", err)
		}
		for k, vs := range r.header {
			req.Header[k] = vs
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Accept", "application/json")
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		switch {
		case r.authorization != "":
			req.Header.Set("Authorization", r.authorization)
		case c.token != "":
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		var last error
		var wait time.Duration
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("postbode: %s %s: %w", r.method, r.where(), ctx.Err())
			}
			last = fmt.Errorf("postbode: %s %s: %w", r.method, r.where(), err)
			if !r.idempotent || attempt >= c.retries {
				return last
			}
			wait = c.backoff(attempt)
		} else {
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return decodeBody(resp, out)
			}
			apiErr := readError(resp)
			if (apiErr.Status != http.StatusTooManyRequests && apiErr.Status != http.StatusServiceUnavailable) ||
				attempt >= c.retries {
				return apiErr
			}
			last = apiErr
			wait = apiErr.RetryAfter
			if wait > c.maxRetryAfter {
				return apiErr // longer than we are willing to wait: the caller decides
			}
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return last // the wait would outlast the context
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("postbode: %w; last answer: %w", err, last)
		}
	}
}

func (r *request) where() string {
	if r.rawURL != "" {
		return r.rawURL
	}
	return r.path
}

// backoff is the delay before retry number attempt+1 without Retry-After:
// exponential, capped, with jitter between half and all of it.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffBase
	for i := 0; i < attempt && d < c.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.backoffMax)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(mrand.Int64N(int64(half)+1))
}

func decodeBody(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("postbode: decoding the answer of %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// readError turns a non-2xx answer into an *Error.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		// Not the API's shape (a proxy's page, say): keep a line of it.
		msg := strings.TrimSpace(string(b))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		e.Message = msg
	}
	return e
}

// parseRetryAfter reads Retry-After: seconds, or an HTTP date. It returns
// 0 when there is none or it cannot be read.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// required refuses a call with an empty id (given as name, value pairs),
// which would otherwise name another route.
func required(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return errors.New("postbode: " + fields[i] + " is required")
		}
	}
	return nil
}

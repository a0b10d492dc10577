// The HTTP sender: builds the request body for a subscription, signs it,
// POSTs it on a pooled keep-alive client that never follows redirects and
// dials only addresses the SSRF guard allows, and records the attempt.
// It runs once per webhook, so the signing keys are prepared once per
// subscription and responses are read into pooled buffers.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/netguard"
	"github.com/postbode/postbode/internal/redact"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/telemetry"
)

// Limits on what an attempt keeps of a response, and on what the client
// reads at all: a response whose headers pass maxHeaderBytes fails the
// attempt. Every attempt is stored, so a receiver answering a megabyte of
// headers would otherwise grow the database by as much per attempt.
const (
	maxResponseBody    = 64 << 10
	maxResponseHeaders = 64 << 10 // names and values together
	maxHeaderBytes     = 1 << 20
)

// Sender sends one webhook request at a time; it is safe for concurrent use.
type Sender struct {
	// Tracer, when set, makes a client span of every attempt, continuing
	// the trace of the event's publish (Event.TraceParent), and sends its
	// traceparent header to the receiver. Nil (tracing off) makes no span
	// and sends no header.
	Tracer trace.Tracer

	client    *http.Client
	userAgent string
}

// NewSender returns a sender whose connections are pooled per host.
func NewSender(allowPrivateTargets bool, version string) *Sender {
	tr := &http.Transport{
		// No proxy from the environment: a proxy would dial on our behalf
		// and bypass the SSRF guard.
		Proxy:        nil,
		DialContext:  netguard.NewDialer(10*time.Second, allowPrivateTargets).DialContext,
		MaxIdleConns: 4096,
		// At least the highest per-subscription concurrency the config
		// allows, so that a busy subscription's connections all stay open
		// between sends instead of being closed and dialled again.
		MaxIdleConnsPerHost:    1024,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
		ForceAttemptHTTP2:      true,
		// Webhook answers are short: asking for gzip would cost a header
		// per request and a gzip reader per compressed answer for nothing.
		DisableCompression: true,
	}
	return &Sender{
		client: &http.Client{
			Transport: tr,
			// A redirect is an answer, not an instruction: 3xx fails the attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: "Postbode/" + version,
	}
}

// Close drops idle connections.
func (s *Sender) Close() { s.client.CloseIdleConnections() }

// target is a subscription prepared for sending: its keys made ready to
// sign and its secrets redacted for the attempt log once, not per send.
type target struct {
	sub       *store.Subscription
	loggedURL string            // the URL as attempts show it
	headers   []subHeader       // the subscription's headers
	signers   []*signing.Signer // current key first, then the previous one
	prevUntil time.Time         // the previous key signs until then
	schedule  []time.Duration
	loaded    time.Time
}

// subHeader is one of a subscription's headers: sent as value, logged as
// logged.
type subHeader struct{ name, value, logged string }

func newTarget(sub *store.Subscription, defaultSchedule []time.Duration, now time.Time) (*target, error) {
	t := &target{sub: sub, schedule: defaultSchedule, loaded: now, loggedURL: redact.URL(sub.URL)}
	for k, v := range sub.Headers {
		t.headers = append(t.headers, subHeader{k, v, redact.Header(k, v)})
	}
	if sub.RetrySchedule != nil {
		t.schedule = make([]time.Duration, len(sub.RetrySchedule))
		for i, d := range sub.RetrySchedule {
			t.schedule[i] = time.Duration(d)
		}
	}
	// A previous key that no longer signs is left out rather than kept with
	// its past prevUntil, which would make the dispatcher reload the
	// subscription on every send.
	prevSigns := sub.PreviousSecret != "" && sub.PreviousSecretExpiresAt != nil && now.Before(*sub.PreviousSecretExpiresAt)
	switch sub.SignatureScheme {
	case "standard":
		k, err := signing.DecodeSecret(sub.Secret)
		if err != nil {
			return nil, fmt.Errorf("subscription %s: %w", sub.ID, err)
		}
		t.signers = append(t.signers, signing.NewSigner(k))
		if prevSigns {
			if pk, err := signing.DecodeSecret(sub.PreviousSecret); err == nil {
				t.signers = append(t.signers, signing.NewSigner(pk))
				t.prevUntil = *sub.PreviousSecretExpiresAt
			}
		}
	case "hmac-sha256":
		t.signers = append(t.signers, signing.NewSigner([]byte(sub.Secret)))
		if prevSigns {
			t.signers = append(t.signers, signing.NewSigner([]byte(sub.PreviousSecret)))
			t.prevUntil = *sub.PreviousSecretExpiresAt
		}
	}
	return t, nil
}

// envelope is the body of format "envelope".
type envelope struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	Label          string          `json:"label"`
	WorkspaceID    string          `json:"workspace_id"`
	SubscriptionID string          `json:"subscription_id"`
	UserID         *string         `json:"user_id"`
	Subject        *string         `json:"subject"`
	Data           json.RawMessage `json:"data,omitempty"`
	Timestamp      time.Time       `json:"timestamp"`
	APIVersion     *string         `json:"api_version"`
}

// Body returns the request body a subscription gets for an event.
func Body(sub *store.Subscription, e *store.Event) ([]byte, error) {
	switch sub.Format {
	case "raw":
		return e.Data, nil
	case "entity":
		return entityBody(sub, e)
	}
	env := envelope{ID: e.ID, Type: e.Type, Label: e.Label, WorkspaceID: e.WorkspaceID, SubscriptionID: sub.ID,
		UserID: e.UserID, Subject: e.Subject, Timestamp: e.CreatedAt, APIVersion: sub.APIVersion}
	if sub.Payload != "notification" {
		env.Data = e.Data
	}
	return json.Marshal(env)
}

// entity is the body of format entity: Aanmelder's webhook, for events
// about records that are created, changed and deleted.
type entity struct {
	EntityID   any             `json:"entity_id"`
	EntityType string          `json:"entity_type"`
	ActionType string          `json:"action_type"`
	Result     json.RawMessage `json:"result,omitempty"`
}

// entityBody makes the entity body of an event of type <entity>.<action>
// (new, update or delete) about subject <entity>/<id>: result is the
// event's data, left out on delete (and with payload notification). The
// test button's event is action "test" about the calling user, whose data
// is the result. An id of digits only is a number, as Aanmelder sends it.
func entityBody(sub *store.Subscription, e *store.Event) ([]byte, error) {
	b := entity{Result: e.Data, EntityType: e.Type}
	if i := strings.LastIndexByte(e.Type, '.'); i >= 0 {
		b.EntityType, b.ActionType = e.Type[:i], e.Type[i+1:]
	}
	var id string
	if e.Type == store.TestEventType {
		b.EntityType, b.ActionType = "user", "test"
		var u struct {
			ID string `json:"id"`
		}
		json.Unmarshal(e.Data, &u)
		id = u.ID
	} else if e.Subject != nil {
		if t, v, ok := strings.Cut(*e.Subject, "/"); ok {
			b.EntityType, id = t, v
		} else {
			id = *e.Subject
		}
	}
	if n, err := strconv.ParseUint(id, 10, 63); err == nil {
		b.EntityID = n
	} else if id != "" {
		b.EntityID = id
	}
	if b.ActionType == "delete" || sub.Payload == "notification" {
		b.Result = nil
	}
	return json.Marshal(b)
}

// result is one attempt and how it ended.
type result struct {
	attempt    store.Attempt
	ok         bool
	gone       bool
	retryAfter time.Duration
}

// send makes attempt number attempt (from 1) of delivering e to t.
func (s *Sender) send(ctx context.Context, t *target, e *store.Event, deliveryID string, attempt int, now time.Time) (out result) {
	var span trace.Span
	if s.Tracer != nil {
		ctx, span = s.startSpan(ctx, t, e, deliveryID, attempt)
		defer func() { endSpan(span, &out) }()
	}
	sub := t.sub
	a := store.Attempt{ID: id.New(id.Attempt), DeliveryID: deliveryID, EventID: e.ID, EventType: e.Type,
		SubscriptionID: sub.ID, WorkspaceID: sub.WorkspaceID, CreatedAt: now}
	a.Request.URL = t.loggedURL
	body, h, err := s.build(t, e, now)
	if err != nil {
		a.Error = "building the body: " + err.Error()
		return result{attempt: a}
	}
	if span != nil {
		// Sent and logged as it is: it holds no secret.
		if tp := telemetry.TraceParent(ctx); tp != "" {
			h.set("traceparent", tp)
		}
	}
	a.Request.Body = body
	a.Request.Headers = h.logged

	ctx, cancel := context.WithTimeout(ctx, time.Duration(sub.TimeoutSeconds)*time.Second)
	defer cancel()
	// The attempt's string is the request body too: it is never copied.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, strings.NewReader(body))
	if err != nil {
		// The parser's message quotes the URL, password and all.
		a.Error = "invalid url"
		if t.loggedURL == sub.URL {
			a.Error += ": " + err.Error()
		}
		return result{attempt: a}
	}
	req.Header = h.sent
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		a.DurationMS = time.Since(start).Milliseconds()
		a.Error = store.Text(describe(err, sub.TimeoutSeconds, t.loggedURL))
		return result{attempt: a}
	}
	respBody, readErr := readBody(resp.Body)
	resp.Body.Close()
	a.DurationMS = time.Since(start).Milliseconds()
	a.Response = &store.AttemptResponse{Status: resp.StatusCode, Headers: flatten(resp.Header), Body: store.Text(respBody)}
	r := result{attempt: a}
	switch {
	case readErr != nil:
		r.attempt.Error = store.Text("reading the response: " + describe(readErr, sub.TimeoutSeconds, t.loggedURL))
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.ok = true
	case resp.StatusCode == http.StatusGone:
		r.gone = true
		r.attempt.Error = "410 Gone: the receiver asked to stop; subscription disabled"
	default:
		r.attempt.Error = "unexpected status " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			r.retryAfter, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	r.attempt.Succeeded = r.ok
	return r
}

// startSpan starts the client span of one attempt, a child of the span
// that ingested the event (a new trace for an event stored without one,
// such as a test send's).
func (s *Sender) startSpan(ctx context.Context, t *target, e *store.Event, deliveryID string, attempt int) (context.Context, trace.Span) {
	ctx = telemetry.ContextWithTraceParent(ctx, e.TraceParent)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", http.MethodPost),
		attribute.String("url.full", t.loggedURL), // credentials masked, as the attempt log shows it
		attribute.String("postbode.workspace_id", t.sub.WorkspaceID),
		attribute.String("postbode.subscription_id", t.sub.ID),
		attribute.String("postbode.event_id", e.ID),
		attribute.String("postbode.event_type", e.Type),
		attribute.String("postbode.delivery_id", deliveryID),
		attribute.Int("postbode.attempt", attempt),
	}
	if u, err := url.Parse(t.sub.URL); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()))
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err == nil {
				attrs = append(attrs, attribute.Int("server.port", n))
			}
		}
	}
	return s.Tracer.Start(ctx, http.MethodPost, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endSpan ends an attempt's span: the response's status, and an error
// status with the attempt's error (masked as the attempt log has it) when
// the attempt failed.
func endSpan(span trace.Span, r *result) {
	if resp := r.attempt.Response; resp != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.Status))
	}
	if !r.ok {
		errType := "_OTHER"
		if resp := r.attempt.Response; resp != nil && (resp.Status < 200 || resp.Status > 299) {
			errType = strconv.Itoa(resp.Status)
		}
		span.SetAttributes(attribute.String("error.type", errType))
		span.SetStatus(codes.Error, r.attempt.Error)
	}
	span.End()
}

// bufs holds buffers for reading responses.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// headers are a request's headers as the attempt records them and as they
// are sent, built side by side rather than one copied into the other.
type headers struct {
	logged map[string]string
	sent   http.Header
}

func newHeaders(n int) headers {
	return headers{logged: make(map[string]string, n), sent: make(http.Header, n)}
}

// set sets name k, as it is: not canonicalized.
func (h *headers) set(k, v string) {
	h.logged[k] = v
	h.sent[k] = []string{v}
}

// build returns the request body and headers, signature included.
// Signature header names are written in the lowercase the Standard
// Webhooks spec uses.
func (s *Sender) build(t *target, e *store.Event, now time.Time) (string, headers, error) {
	b, err := Body(t.sub, e)
	if err != nil {
		return "", headers{}, err
	}

	sub := t.sub
	h := newHeaders(len(t.headers) + 5)
	for _, sh := range t.headers {
		h.logged[sh.name] = sh.logged
		h.sent[sh.name] = []string{sh.value}
	}
	// Postbode's own headers hold no secret, and a signature proves one
	// message without revealing its key: they are logged as sent, even
	// under a signature_header whose name looks secret.
	h.set("Content-Type", "application/json")
	h.set("User-Agent", s.userAgent)
	signers := t.signers
	if len(signers) > 1 && !now.Before(t.prevUntil) {
		signers = signers[:1]
	}
	switch sub.SignatureScheme {
	case "hmac-sha256":
		sig := signers[0].HMACSHA256(b)
		if len(signers) > 1 {
			sig += " " + signers[1].HMACSHA256(b)
		}
		h.set(sub.SignatureHeader, sig)
	default:
		ts := now.Unix()
		h.set("webhook-id", e.ID)
		h.set("webhook-timestamp", strconv.FormatInt(ts, 10))
		h.set("webhook-signature", signing.SignatureHeader(signers, e.ID, ts, b))
	}
	return string(b), h, nil
}

// readBody returns the first maxResponseBody bytes of a response body, then
// drains a little more so that the connection can be reused.
func readBody(r io.Reader) (string, error) {
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r, maxResponseBody))
	if err == nil && buf.Len() == maxResponseBody { // cut at the cap
		io.CopyN(io.Discard, r, 256<<10)
	}
	body := buf.String()
	// ReadFrom grows past what it reads; a buffer that held a cut body is
	// not kept, so the pool does not pin memory for rare large answers.
	if buf.Cap() <= maxResponseBody {
		bufs.Put(buf)
	}
	return body, err
}

// flatten returns response headers as an attempt keeps them: values
// joined, as text, at most maxResponseHeaders bytes of names and values in all.
func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[store.Text(k)] = store.Text(strings.Join(v, ", "))
	}
	store.CapHeaders(out, maxResponseHeaders)
	return out
}

// describe turns a transport error into the sentence an attempt shows. The
// client's error quotes the URL, hiding a password but not a key given as
// the user name: it is quoted as the attempt logs it (loggedURL) instead.
func describe(err error, timeoutSeconds int, loggedURL string) string {
	switch {
	case errors.Is(err, netguard.ErrPrivateTarget):
		return "private_target: " + netguard.ErrPrivateTarget.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout: no complete response within %ds", timeoutSeconds)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + strconv.Quote(loggedURL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

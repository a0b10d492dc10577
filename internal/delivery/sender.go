// The HTTP sender: builds the request body for a subscription, signs it,
// POSTs it on a pooled keep-alive client that never follows redirects and
// dials only addresses the SSRF guard allows, and records the attempt.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/netguard"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
)

// maxResponseBody is how much of a response body an attempt keeps.
const maxResponseBody = 64 << 10

// Sender sends one webhook request at a time; it is safe for concurrent use.
type Sender struct {
	client    *http.Client
	userAgent string
}

// NewSender returns a sender whose connections are pooled per host.
func NewSender(allowPrivateTargets bool, version string) *Sender {
	tr := &http.Transport{
		// No proxy from the environment: a proxy would dial on our behalf
		// and bypass the SSRF guard.
		Proxy:                 nil,
		DialContext:           netguard.NewDialer(10*time.Second, allowPrivateTargets).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
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

// target is a subscription prepared for sending: its keys decoded once.
type target struct {
	sub       *store.Subscription
	keys      []signing.Key // standard scheme: current key first
	prevUntil time.Time     // the previous key signs until then
	schedule  []time.Duration
	loaded    time.Time
}

func newTarget(sub *store.Subscription, defaultSchedule []time.Duration, now time.Time) (*target, error) {
	t := &target{sub: sub, schedule: defaultSchedule, loaded: now}
	if sub.RetrySchedule != nil {
		t.schedule = make([]time.Duration, len(sub.RetrySchedule))
		for i, d := range sub.RetrySchedule {
			t.schedule[i] = time.Duration(d)
		}
	}
	if sub.SignatureScheme == "standard" {
		k, err := signing.DecodeSecret(sub.Secret)
		if err != nil {
			return nil, fmt.Errorf("subscription %s: %w", sub.ID, err)
		}
		t.keys = append(t.keys, k)
		if sub.PreviousSecret != "" && sub.PreviousSecretExpiresAt != nil {
			if pk, err := signing.DecodeSecret(sub.PreviousSecret); err == nil {
				t.keys = append(t.keys, pk)
				t.prevUntil = *sub.PreviousSecretExpiresAt
			}
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
	if sub.Format == "raw" {
		return e.Data, nil
	}
	env := envelope{ID: e.ID, Type: e.Type, Label: e.Label, WorkspaceID: e.WorkspaceID, SubscriptionID: sub.ID,
		UserID: e.UserID, Subject: e.Subject, Timestamp: e.CreatedAt, APIVersion: sub.APIVersion}
	if sub.Payload != "notification" {
		env.Data = e.Data
	}
	return json.Marshal(env)
}

// result is one attempt and how it ended.
type result struct {
	attempt    store.Attempt
	ok         bool
	gone       bool
	retryAfter time.Duration
}

// send makes one attempt of delivering e to t.
func (s *Sender) send(ctx context.Context, t *target, e *store.Event, deliveryID string, now time.Time) result {
	sub := t.sub
	a := store.Attempt{ID: id.New(id.Attempt), DeliveryID: deliveryID, EventID: e.ID, EventType: e.Type,
		SubscriptionID: sub.ID, WorkspaceID: sub.WorkspaceID, CreatedAt: now}
	a.Request.URL = sub.URL
	body, err := Body(sub, e)
	if err != nil {
		a.Error = "building the body: " + err.Error()
		return result{attempt: a}
	}
	a.Request.Body = string(body)
	headers := s.headers(t, e.ID, now, body)
	a.Request.Headers = headers

	ctx, cancel := context.WithTimeout(ctx, time.Duration(sub.TimeoutSeconds)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "invalid url: " + err.Error()
		return result{attempt: a}
	}
	for k, v := range headers {
		req.Header[k] = []string{v}
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		a.DurationMS = time.Since(start).Milliseconds()
		a.Error = describe(err, sub.TimeoutSeconds)
		return result{attempt: a}
	}
	respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Drain a little more so the connection can be reused, then let it go.
	io.CopyN(io.Discard, resp.Body, 256<<10)
	resp.Body.Close()
	a.DurationMS = time.Since(start).Milliseconds()
	a.Response = &store.AttemptResponse{Status: resp.StatusCode, Headers: flatten(resp.Header), Body: string(respBody)}
	r := result{attempt: a}
	switch {
	case readErr != nil:
		r.attempt.Error = "reading the response: " + describe(readErr, sub.TimeoutSeconds)
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

// headers builds the request headers, signature included. Signature header
// names are written in the lowercase the Standard Webhooks spec uses.
func (s *Sender) headers(t *target, msgID string, now time.Time, body []byte) map[string]string {
	sub := t.sub
	h := make(map[string]string, len(sub.Headers)+5)
	for k, v := range sub.Headers {
		h[k] = v
	}
	h["Content-Type"] = "application/json"
	h["User-Agent"] = s.userAgent
	keys := t.keys
	if len(keys) > 1 && !now.Before(t.prevUntil) {
		keys = keys[:1]
	}
	switch sub.SignatureScheme {
	case "hmac-sha256":
		sig := signing.HMACSHA256(sub.Secret, body)
		if sub.PreviousSecret != "" && sub.PreviousSecretExpiresAt != nil && now.Before(*sub.PreviousSecretExpiresAt) {
			sig += " " + signing.HMACSHA256(sub.PreviousSecret, body)
		}
		h[sub.SignatureHeader] = sig
	default:
		ts := now.Unix()
		h["webhook-id"] = msgID
		h["webhook-timestamp"] = strconv.FormatInt(ts, 10)
		h["webhook-signature"] = signing.SignatureHeader(keys, msgID, ts, body)
	}
	return h
}

func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// describe turns a transport error into the sentence an attempt shows.
func describe(err error, timeoutSeconds int) string {
	switch {
	case errors.Is(err, netguard.ErrPrivateTarget):
		return "private_target: " + netguard.ErrPrivateTarget.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout: no complete response within %ds", timeoutSeconds)
	}
	return err.Error()
}

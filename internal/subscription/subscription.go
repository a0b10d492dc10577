// Package subscription is the service for subscriptions: their rules and
// defaults, and the actions on one (test, enable, disable, rotate-secret,
// recover, the attempt log). After every change it tells the parts that
// cache subscriptions (routing in ingest, the dispatcher's targets), so no
// way in has to remember to.
package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/redact"
	"github.com/postbode/postbode/internal/signing"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/workspace"
)

// SecretRotationGrace is how long the old secret keeps signing after a rotation.
const SecretRotationGrace = 24 * time.Hour

// Defaults of a new subscription (SPEC §3).
const (
	DefaultPayload          = "full"
	DefaultFormat           = "envelope"
	DefaultSignatureScheme  = "standard"
	DefaultSignatureHeader  = "X-Postbode-Signature"
	DefaultTimeoutSeconds   = 10
	DefaultFailureThreshold = 5
)

// Store is what the service needs of the store.
type Store interface {
	store.Subscriptions
	store.Attempts
	// DeleteSubscription takes a pull subscription's app token with it; a
	// pull subscription gets its token made here.
	CreateToken(ctx context.Context, t *store.Token) error
}

// Routes is the routing cache of ingest, dropped when a workspace's
// subscriptions change.
type Routes interface {
	Invalidate(workspaceID string)
}

// Delivery is the part of the delivery engine the service drives.
type Delivery interface {
	// Notify says deliveries may have become due.
	Notify()
	// Invalidate drops what the dispatcher cached of a subscription.
	Invalidate(subscriptionID string)
	// Test sends a test event to sub now and records the attempt.
	Test(ctx context.Context, sub *store.Subscription, data []byte) (*store.Attempt, error)
}

// Options configure the service.
type Options struct {
	Store      Store
	Workspaces *workspace.Service
	Routes     Routes
	Delivery   Delivery
	// CheckTarget is the creation-time SSRF check of a push URL; nil allows
	// every target (--allow-private-targets).
	CheckTarget func(ctx context.Context, url string) error
	Now         func() time.Time
}

// Service decides about subscriptions.
type Service struct{ opt Options }

// New returns the service.
func New(opt Options) *Service { return &Service{opt: opt} }

func (s *Service) now() time.Time { return s.opt.Now().UTC().Truncate(time.Microsecond) }

// Created is a subscription as shown right after its secret was made: the
// only time the secret is shown. A pull subscription has no secret but an
// app token for its consumer (with basic auth, the password beside
// Username), shown this once too.
type Created struct {
	*store.Subscription
	Secret   string `json:"secret,omitempty"`
	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
}

// Create adds a push subscription to ws.
func (s *Service) Create(ctx context.Context, p *auth.Principal, ws string, in *Input) (*Created, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	t := s.now()
	sub := &store.Subscription{ID: id.New(id.Subscription), WorkspaceID: ws, Mode: store.ModePush,
		Status: store.SubscriptionActive, Payload: DefaultPayload, Format: DefaultFormat, Headers: map[string]string{},
		SignatureScheme: DefaultSignatureScheme, SignatureHeader: DefaultSignatureHeader, Secret: signing.NewSecret(),
		TimeoutSeconds: DefaultTimeoutSeconds, FailureThreshold: DefaultFailureThreshold, CreatedAt: t, UpdatedAt: t}
	if in.Name == nil {
		return nil, errs.Invalidf("name", "is required")
	}
	if in.EventTypes == nil {
		return nil, errs.Invalidf("event_types", `is required: a list of event type names, or ["*"]`)
	}
	if in.Mode != nil && *in.Mode == store.ModePull {
		sub.Secret, sub.Auth = "", store.AuthBearer
	}
	if err := s.apply(ctx, sub, in, true); err != nil {
		return nil, err
	}
	if err := s.opt.Store.CreateSubscription(ctx, sub); err != nil {
		return nil, err
	}
	s.opt.Routes.Invalidate(ws)
	if sub.Mode == store.ModePull {
		return s.pullToken(ctx, p, sub)
	}
	return &Created{Subscription: View(sub), Secret: sub.Secret}, nil
}

// pullToken makes the app token of a new pull subscription, owned by its
// maker: valid for this mailbox only. Should it fail, the subscription goes
// too, so that none is left that no consumer can reach.
func (s *Service) pullToken(ctx context.Context, p *auth.Principal, sub *store.Subscription) (*Created, error) {
	secret, t := auth.Mint(store.Token{UserID: p.User.ID, Kind: store.TokenApp, Name: sub.Name,
		ResourceID: sub.ID, CreatedAt: sub.CreatedAt})
	if err := s.opt.Store.CreateToken(ctx, t); err != nil {
		if derr := s.opt.Store.DeleteSubscription(context.WithoutCancel(ctx), sub.WorkspaceID, sub.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		s.opt.Routes.Invalidate(sub.WorkspaceID)
		return nil, err
	}
	c := &Created{Subscription: View(sub), Token: secret}
	if sub.Auth == store.AuthBasic {
		c.Username = sub.ID
	}
	return c, nil
}

// push loads a push subscription for an action that sends: a pull
// subscription has nothing to send to.
func (s *Service) push(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	sub, err := s.load(ctx, p, ws, subID)
	if err == nil && sub.Mode != store.ModePush {
		return nil, errs.Conflictf("pull_subscription", "this is a pull subscription (a mailbox): it sends nothing; its consumer claims from it")
	}
	return sub, err
}

// View is sub as it may be shown: secrets in its URL and headers masked
// (SPEC §4). Postbode keeps the real values for sending.
func View(sub *store.Subscription) *store.Subscription {
	v := *sub
	v.URL = redact.URL(sub.URL)
	v.Headers = redact.Headers(sub.Headers)
	return &v
}

// load returns the subscription id of ws, unmasked, after checking access.
func (s *Service) load(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	if err := validate.ID("id", subID); err != nil {
		return nil, err
	}
	sub, err := s.opt.Store.GetSubscription(ctx, ws, subID)
	return sub, notFound(err, "subscription")
}

// notFound turns the store's not-found into the service's.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf(what)
	}
	return err
}

// Get returns one subscription.
func (s *Service) Get(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	sub, err := s.load(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	return View(sub), nil
}

// List pages ws's subscriptions by id.
func (s *Service) List(ctx context.Context, p *auth.Principal, ws string, q listing.Query) (listing.List[store.Subscription], error) {
	var out listing.List[store.Subscription]
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 100, 1000)
	if err != nil {
		return out, err
	}
	subs, err := s.opt.Store.ListSubscriptions(ctx, ws, pg)
	if err != nil {
		return out, err
	}
	for i := range subs {
		subs[i] = *View(&subs[i])
	}
	return listing.Cut(subs, pg, func(s *store.Subscription) string { return s.ID }), nil
}

// Update changes the fields in gives; the secret changes only by rotation.
func (s *Service) Update(ctx context.Context, p *auth.Principal, ws, subID string, in *Input) (*store.Subscription, error) {
	sub, err := s.load(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	if in.Secret != nil {
		return nil, errs.Invalidf("secret", "cannot be changed here; use rotate-secret")
	}
	if err := s.apply(ctx, sub, in, false); err != nil {
		return nil, err
	}
	sub.UpdatedAt = s.now()
	if err := s.opt.Store.UpdateSubscription(ctx, sub); err != nil {
		return nil, notFound(err, "subscription")
	}
	s.changed(sub)
	return View(sub), nil
}

// changed tells the caches that sub changed.
func (s *Service) changed(sub *store.Subscription) {
	s.opt.Routes.Invalidate(sub.WorkspaceID)
	s.opt.Delivery.Invalidate(sub.ID)
}

// Delete removes a subscription with its deliveries and attempts.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, ws, subID string) error {
	sub, err := s.load(ctx, p, ws, subID)
	if err != nil {
		return err
	}
	if err := s.opt.Store.DeleteSubscription(ctx, ws, sub.ID); err != nil {
		return notFound(err, "subscription")
	}
	s.changed(sub)
	return nil
}

// Test sends a webhook.test event now, whose data is the calling user, and
// returns the attempt. It does not count toward auto-disable.
func (s *Service) Test(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Attempt, error) {
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(map[string]string{"id": p.User.ID, "email": p.User.Email, "name": p.User.Name})
	if err != nil {
		return nil, err
	}
	a, err := s.opt.Delivery.Test(ctx, sub, data)
	return a, notFound(err, "subscription")
}

// Enable makes a subscription active: its failure count resets and its
// held deliveries are released.
func (s *Service) Enable(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	return s.setStatus(ctx, p, ws, subID, store.SubscriptionActive)
}

// Disable pauses a subscription by hand: new deliveries are held, not dropped.
func (s *Service) Disable(ctx context.Context, p *auth.Principal, ws, subID string) (*store.Subscription, error) {
	return s.setStatus(ctx, p, ws, subID, store.SubscriptionPaused)
}

func (s *Service) setStatus(ctx context.Context, p *auth.Principal, ws, subID, status string) (*store.Subscription, error) {
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	sub, err = s.opt.Store.SetSubscriptionStatus(ctx, ws, sub.ID, status, s.now())
	if err != nil {
		return nil, notFound(err, "subscription")
	}
	s.changed(sub)
	s.opt.Delivery.Notify()
	return View(sub), nil
}

// RotateSecret installs a new secret; the old one keeps signing beside it
// for SecretRotationGrace.
func (s *Service) RotateSecret(ctx context.Context, p *auth.Principal, ws, subID string) (*Created, error) {
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sub, err = s.opt.Store.RotateSecret(ctx, ws, sub.ID, signing.NewSecret(), now, now.Add(SecretRotationGrace))
	if err != nil {
		return nil, notFound(err, "subscription")
	}
	s.changed(sub)
	return &Created{Subscription: View(sub), Secret: sub.Secret}, nil
}

// Recover re-queues every failed or held delivery created at or after
// since (an RFC 3339 time), making a disabled subscription active first.
// It returns how many were queued.
func (s *Service) Recover(ctx context.Context, p *auth.Principal, ws, subID, since string) (int, error) {
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return 0, err
	}
	t, err := time.Parse(time.RFC3339Nano, since)
	if err != nil {
		return 0, errs.Invalidf("since", "is required: an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	n, err := s.opt.Store.Recover(ctx, ws, sub.ID, t, s.now())
	if err != nil {
		return 0, notFound(err, "subscription")
	}
	s.changed(sub)
	s.opt.Delivery.Notify()
	return n, nil
}

// ListAttempts pages a subscription's attempt log, newest first, with
// bodies cut (the whole attempt is at Attempt).
func (s *Service) ListAttempts(ctx context.Context, p *auth.Principal, ws, subID string, q listing.Query) (listing.List[store.Attempt], error) {
	var out listing.List[store.Attempt]
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return out, err
	}
	pg, err := listing.Page(q, 10, 100)
	if err != nil {
		return out, err
	}
	as, err := s.opt.Store.ListAttempts(ctx, ws, sub.ID, pg)
	if err != nil {
		return out, notFound(err, "subscription")
	}
	// The store cut the bodies; headers are cut here, as the sender kept
	// up to 64 KiB of them: a page stays small whatever receivers answer.
	for i := range as {
		store.CapHeaders(as[i].Request.Headers, store.ListBodyLimit)
		if as[i].Response != nil {
			store.CapHeaders(as[i].Response.Headers, store.ListBodyLimit)
		}
	}
	return listing.Cut(as, pg, func(a *store.Attempt) string { return a.ID }), nil
}

// Attempt returns one attempt whole.
func (s *Service) Attempt(ctx context.Context, p *auth.Principal, ws, subID, attemptID string) (*store.Attempt, error) {
	sub, err := s.push(ctx, p, ws, subID)
	if err != nil {
		return nil, err
	}
	if err := validate.ID("attempt_id", attemptID); err != nil {
		return nil, err
	}
	a, err := s.opt.Store.GetAttempt(ctx, ws, sub.ID, attemptID)
	return a, notFound(err, "attempt")
}

// keepMasked puts back, in headers sent as a client read them, the values
// the client only saw masked. A masked value with nothing behind it would
// send "***" as the secret: refused.
func keepMasked(in, old map[string]string) error {
	for k, v := range in {
		if v != redact.Mask || !redact.Sensitive(k) {
			continue
		}
		kept := false
		for ok, ov := range old {
			if strings.EqualFold(ok, k) {
				in[k], kept = ov, true
			}
		}
		if !kept {
			return errs.Invalidf("headers."+k, "%s stands for a value shown masked, and this header has none yet; send the real value", redact.Mask)
		}
	}
	return nil
}

// keepMaskedURL puts back the password of a URL sent as the client read it,
// masked, when it is still for the same user on the same host; a masked
// password for anywhere else is refused rather than sent as "***".
func keepMaskedURL(raw, old string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, nil
	}
	pw, hasPW := u.User.Password()
	userMasked := !hasPW && u.User.Username() == redact.Mask
	if !userMasked && (!hasPW || pw != redact.Mask) {
		return raw, nil
	}
	o, err := url.Parse(old)
	if err == nil && o.User != nil && o.Scheme == u.Scheme && o.Host == u.Host {
		opw, oHasPW := o.User.Password()
		switch {
		case userMasked && !oHasPW: // https://<key>@host, the key masked
			u.User = o.User
			return u.String(), nil
		case !userMasked && oHasPW && o.User.Username() == u.User.Username():
			u.User = url.UserPassword(o.User.Username(), opw)
			return u.String(), nil
		}
	}
	return "", errs.Invalidf("url", "%s stands for a secret shown masked, and this URL's user and host have none; send the real one", redact.Mask)
}

// Stats counts ws's delivery attempts per minute since since: what the
// dashboard charts.
func (s *Service) Stats(ctx context.Context, p *auth.Principal, ws string, since time.Time) ([]store.AttemptMinute, error) {
	if err := s.opt.Workspaces.Access(ctx, p, ws); err != nil {
		return nil, err
	}
	return s.opt.Store.AttemptStats(ctx, ws, since.UTC())
}

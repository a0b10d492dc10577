// Receiving: who may post to a webhook, and what an accepted request
// publishes.

package inbound

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
	"github.com/postbode/postbode/internal/verify"
)

// Hook is a webhook as the receiver needs it, its verify config decoded.
type Hook struct {
	*store.Inbound
	verify *verify.Config
}

// Credential is what a request presented, as the transport decoded it.
type Credential = auth.Credential

// CodeDisabled is the error code of a request to a disabled webhook.
const CodeDisabled = "inbound_disabled"

// unauthenticated is the refusal of every kind of bad credential, the
// same whatever it was, so that it tells a prober nothing.
func unauthenticated() error {
	return errs.Unauthenticatedf("send this webhook's token, or an integration token of a user with access to its workspace, " +
		"as Authorization: Bearer <token> (or Basic with the webhook's username and the token as password)")
}

// IsCredentialFailure reports whether err refused the credential itself
// (not a signature, a body or a disabled webhook): what brute-force
// protection counts.
func IsCredentialFailure(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Kind == errs.Unauthenticated && e.Code == "unauthenticated"
}

// lookup returns the webhook hookID, or nil when there is none; it is
// cached for hookTTL (misses too), so a busy webhook costs no lookup per
// request.
func (s *Service) lookup(ctx context.Context, hookID string) (*Hook, error) {
	if !strings.HasPrefix(hookID, id.Inbound) || validate.ID("id", hookID) != nil || len(hookID) > 100 {
		return nil, nil
	}
	now := s.opt.Now()
	c := &s.hooks
	c.mu.Lock()
	e, ok := c.m[hookID]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.hook, nil
	}
	in, err := s.opt.Store.InboundByID(ctx, hookID)
	var h *Hook
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		h = &Hook{Inbound: in}
		// A stored config that no longer parses checks nothing: fail closed.
		if h.verify, err = parseStored(in.Verify); err != nil {
			h.verify = &verify.Config{Scheme: "invalid"}
		}
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.m) >= maxHooks {
			c.m = map[string]cachedHook{}
		}
		c.m[hookID] = cachedHook{hook: h, expires: now.Add(hookTTL)}
	}
	c.mu.Unlock()
	return h, nil
}

// Authenticate decides whether cred may post to webhook hookID. It returns
// the webhook whenever it exists (so that the request is logged, accepted
// or not) and the principal to publish as.
//
// Accepted: the webhook's own app token, or an integration token of a user
// with access to its workspace; either way of an active owner. A bearer
// token is taken on every webhook; basic auth only on a webhook that uses
// it, with its username. Every other credential is 401, whether or not the
// webhook exists, so that ids cannot be probed without a credential; only
// an admin's integration token learns that an id is unknown (404), as an
// admin may list every webhook anyway. A disabled webhook answers 403
// inbound_disabled, but only to an accepted credential.
func (s *Service) Authenticate(ctx context.Context, hookID string, cred Credential) (*Hook, *auth.Principal, error) {
	hook, err := s.lookup(ctx, hookID)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.opt.Auth.ForResource(ctx, cred.Token, hookID)
	if errors.Is(err, auth.ErrUnauthenticated) {
		return hook, nil, unauthenticated()
	}
	if err != nil {
		return hook, nil, err
	}
	if hook == nil {
		if p.Token.Kind == store.TokenIntegration && p.IsAdmin() {
			return nil, nil, errs.NotFoundf("inbound webhook")
		}
		return nil, nil, unauthenticated()
	}
	if cred.Basic && (hook.Auth != store.AuthBasic ||
		subtle.ConstantTimeCompare([]byte(cred.Username), []byte(hook.Username)) != 1) {
		return hook, nil, unauthenticated()
	}
	// The owner of an app token may have lost access to the workspace too.
	if err := s.opt.Workspaces.Access(ctx, p, hook.WorkspaceID); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return hook, nil, unauthenticated()
		}
		return hook, nil, err
	}
	s.opt.Auth.Used(p)
	if hook.Status != store.InboundActive {
		return hook, p, errs.New(errs.Forbidden, CodeDisabled, "this inbound webhook is disabled")
	}
	return hook, p, nil
}

// MaxDedupeValue bounds a dedupe header's value kept as it is; a longer
// one is kept as its SHA-256.
const MaxDedupeValue = 200

// Receive publishes data, a request's body decoded by the transport, as
// an event of the webhook's type, after checking the sender's signature
// over body (when the webhook has a verify config). With a dedupe header,
// a value accepted in the last 24 hours returns the first event instead.
// hook and p are Authenticate's.
func (s *Service) Receive(ctx context.Context, hook *Hook, p *auth.Principal, h http.Header, body []byte, data json.RawMessage) (event.Published, error) {
	if hook.verify != nil {
		if err := hook.verify.Check(h, body, s.opt.Now()); err != nil {
			if _, ok := errs.As(err); ok {
				return event.Published{}, err
			}
			return event.Published{}, errs.New(errs.Unauthenticated, verify.Code, "the signature cannot be checked: %v", err)
		}
	}
	key := ""
	if hook.DedupeHeader != "" {
		if v := strings.TrimSpace(h.Get(hook.DedupeHeader)); v != "" {
			if err := validate.Line(hook.DedupeHeader, v, 4096); err != nil {
				return event.Published{}, err
			}
			if len(v) > MaxDedupeValue {
				sum := sha256.Sum256([]byte(v))
				v = "sha256:" + hex.EncodeToString(sum[:])
			}
			key = "inbound:" + hook.ID + ":" + v
		}
	}
	return s.opt.Events.Publish(ctx, p, hook.WorkspaceID, event.Input{Type: hook.EventType, Data: data}, key)
}

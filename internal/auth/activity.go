// Activity: a login or a token's successful use keeps its user active
// (Deployteq's rule). It is recorded in memory and written in batches,
// each user at most about once a minute per node, so that a busy
// integration costs no database write per request.
package auth

import (
	"context"
	"sync"
	"time"
)

// ActivityEvery is how often a user's activity is written at most, per node.
const ActivityEvery = time.Minute

// maxActivity bounds what is remembered of users seen; past it, the
// memory starts over (and the next uses are written again).
const maxActivity = 100000

// ActivityStore is where activity is written.
type ActivityStore interface {
	RecordActivity(ctx context.Context, users map[string]time.Time, tokens map[string]time.Time) error
}

type activity struct {
	mu      sync.Mutex
	written map[string]time.Time // user → the last activity written (or due to be)
	users   map[string]time.Time // due to be written
	tokens  map[string]time.Time
}

func newActivity() activity {
	return activity{written: map[string]time.Time{}, users: map[string]time.Time{}, tokens: map[string]time.Time{}}
}

// seen notes a use of a user and, when tokenID is set, of one of its
// tokens; each is due to be written when its last written activity is
// ActivityEvery old, each on its own timer so that one busy token does not
// keep the user's others from being recorded.
func (ac *activity) seen(userID, tokenID string, now time.Time) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if len(ac.written) >= maxActivity {
		ac.written = map[string]time.Time{}
	}
	if w, ok := ac.written[userID]; !ok || now.Sub(w) >= ActivityEvery {
		ac.written[userID] = now
		ac.users[userID] = now
	}
	if tokenID == "" {
		return
	}
	// Token and user ids differ by their prefixes: one map serves both.
	if w, ok := ac.written[tokenID]; !ok || now.Sub(w) >= ActivityEvery {
		ac.written[tokenID] = now
		ac.tokens[tokenID] = now
	}
}

// since reports whether this node saw the user at or after t.
func (ac *activity) since(userID string, t time.Time) bool {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	w, ok := ac.written[userID]
	return ok && !w.Before(t)
}

// take returns what is due and forgets it.
func (ac *activity) take() (map[string]time.Time, map[string]time.Time) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	u, t := ac.users, ac.tokens
	ac.users, ac.tokens = map[string]time.Time{}, map[string]time.Time{}
	return u, t
}

// putBack returns what could not be written, to be tried again.
func (ac *activity) putBack(users, tokens map[string]time.Time) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for k, v := range users {
		if v.After(ac.users[k]) {
			ac.users[k] = v
		}
	}
	for k, v := range tokens {
		if v.After(ac.tokens[k]) {
			ac.tokens[k] = v
		}
	}
}

// FlushActivity writes the activity due.
func (a *Authenticator) FlushActivity(ctx context.Context, st ActivityStore) error {
	users, tokens := a.activity.take()
	if len(users) == 0 && len(tokens) == 0 {
		return nil
	}
	if err := st.RecordActivity(ctx, users, tokens); err != nil {
		a.activity.putBack(users, tokens)
		return err
	}
	return nil
}

// RunActivity writes activity every few seconds until ctx ends, and once
// more then.
func (a *Authenticator) RunActivity(ctx context.Context, st ActivityStore, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.FlushActivity(flushCtx, st)
			cancel()
			return
		case <-t.C:
			a.FlushActivity(ctx, st)
		}
	}
}

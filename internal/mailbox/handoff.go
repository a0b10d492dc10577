// Hand-off: a claim waiting on this node gets a publish's messages straight
// from ingest, stored already claimed under its lease in the publish's
// transaction, so that it needs no claim, and no second commit, of its own.
// This is what keeps a long poll within milliseconds of the publish.

package mailbox

import (
	"context"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// waiter is a claim waiting for messages.
type waiter struct {
	sub, typ, subject string
	count, reserved   int // how many it takes; how many are on their way
	lease             time.Duration
	leaseID           string
	got               chan store.ClaimedMessage // capacity count: a send never blocks
	done              bool                      // it answered: hand it nothing more
}

func (w *waiter) wants(typ string, subject *string) bool {
	return !w.done && w.reserved < w.count && (w.typ == "" || w.typ == typ) &&
		(w.subject == "" || subject != nil && *subject == w.subject)
}

// wait registers a claim that found nothing, until leave.
func (s *Service) wait(w *waiter) {
	s.mu.Lock()
	s.waiters[w.sub] = append(s.waiters[w.sub], w)
	s.mu.Unlock()
}

// leave unregisters w; messages handed to it from now on are released.
func (s *Service) leave(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.done = true
	ws := s.waiters[w.sub]
	for i := range ws {
		if ws[i] == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, w.sub)
	} else {
		s.waiters[w.sub] = ws
	}
}

// Reserve offers a new message of a pull subscription (of type typ, about
// subject) to a claim waiting for one: ingest stores it claimed under the
// lease returned, for as long as returned, and hands it over after the
// commit (Handoff) or, when it is not stored, calls Release.
func (s *Service) Reserve(subID, typ string, subject *string) (leaseID string, lease time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiters[subID] {
		if w.wants(typ, subject) {
			w.reserved++
			return w.leaseID, w.lease, true
		}
	}
	return "", 0, false
}

// Release gives back a reservation whose message was not stored.
func (s *Service) Release(subID, leaseID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiters[subID] {
		if w.leaseID == leaseID && w.reserved > 0 {
			w.reserved--
			return
		}
	}
}

// Handoff gives a stored, claimed message to the claim it was reserved
// for. If that claim answered meanwhile, the message is released.
func (s *Service) Handoff(subID, leaseID string, cm store.ClaimedMessage) {
	s.mu.Lock()
	for _, w := range s.waiters[subID] {
		if w.leaseID == leaseID && !w.done {
			w.got <- cm
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	s.release(cm)
}

// release makes a message handed over to nobody new again, for the next
// claim, rather than leave it claimed until its lease runs out.
func (s *Service) release(cm store.ClaimedMessage) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m := cm.Message
		if _, err := s.store.AckMessage(ctx, store.MailboxAck{WorkspaceID: m.WorkspaceID, SubscriptionID: m.SubscriptionID,
			MessageID: m.ID, LeaseID: m.LeaseID, Action: store.AckRelease, Now: s.clock()}); err == nil {
			s.Notify(m.SubscriptionID)
		}
	}()
}

package mailbox

import (
	"context"
	"sync"

	"github.com/postbode/postbode/internal/store"
)

// ackGroup gathers concurrent single acknowledgements into one
// AckMessages call (group commit): on SQLite a commit waits for the disk,
// so one transaction per acknowledgement caps them at about 3,000/s. The
// first caller with no write in flight writes what is pending; those that
// arrive meanwhile wait, and the first of them writes the next group.
type ackGroup struct {
	st Store

	mu      sync.Mutex
	pending []*groupedAck
	writing bool
}

// groupedAck is one acknowledgement waiting in the group.
type groupedAck struct {
	ack store.MailboxAck
	// done receives false once res is set, or true when this caller is
	// to write the next group (its own among it).
	done chan bool
	res  store.MailboxAckResult
}

// maxGroup bounds one transaction.
const maxGroup = MaxAcks

// ack writes a with whatever else is pending and returns its outcome.
func (g *ackGroup) ack(ctx context.Context, a store.MailboxAck) (*store.MailboxMessage, error) {
	me := &groupedAck{ack: a, done: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, me)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if !lead {
		// Not ctx: the group holding this one is being written and
		// answers shortly.
		if lead := <-me.done; !lead {
			return me.res.Message, me.res.Err
		}
	}
	g.write(ctx)
	return me.res.Message, me.res.Err
}

// write writes one group, the one holding the caller, then hands the next
// to its first member (or clears writing).
func (g *ackGroup) write(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	acks := make([]store.MailboxAck, len(batch))
	for i, b := range batch {
		acks[i] = b.ack
	}
	// Not the caller's cancellation: the others wait on this write.
	res, err := g.st.AckMessages(context.WithoutCancel(ctx), acks)
	for i, b := range batch {
		if err != nil {
			b.res = store.MailboxAckResult{Err: err}
		} else {
			b.res = res[i]
		}
		b.done <- false // the writer's own is never read
	}

	g.mu.Lock()
	if len(g.pending) == 0 {
		g.writing = false
		g.mu.Unlock()
		return
	}
	next := g.pending[0]
	g.mu.Unlock()
	next.done <- true
}

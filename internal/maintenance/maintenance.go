// Package maintenance runs the periodic housekeeping: returning deliveries
// whose lease ran out (their node died) to the queue, and deleting events
// past the retention period. On a cluster it runs on one elected node at a
// time, under a leader lease in the store that moves to another node when
// the holder stops renewing it.
package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// Tuning: a leader renews its lease every interval; a dead leader is
// replaced within leaderTTL.
const (
	interval   = 10 * time.Second
	leaderTTL  = 30 * time.Second
	pruneBatch = 1000
	leaseName  = "maintenance"
)

// Store is what the housekeeping needs of the store.
type Store interface {
	TryLead(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLeases(ctx context.Context, owner string, now time.Time) (int, error)
	Prune(ctx context.Context, before, keysBefore time.Time, limit int) (int, error)
	MarkUsersInactive(ctx context.Context, before, now time.Time) ([]string, error)
	PruneMessages(ctx context.Context, finishedBefore, newBefore time.Time, limit int) (int, error)
	PruneSessions(ctx context.Context, now time.Time) (int, error)
	RefreshStatistics(ctx context.Context) ([]string, error)
}

// Runner does the housekeeping.
type Runner struct {
	Store     Store
	Now       func() time.Time // the clock; time.Now when nil
	Owner     string           // this node
	Retention time.Duration    // finished events older than this are deleted
	// InactiveAfter: users without activity this long become inactive (0: never).
	InactiveAfter time.Duration
	// MailboxRetention: finished mailbox messages are deleted after this
	// long; MailboxMaxAge: new ones that nobody claimed, after this long
	// (0: kept).
	MailboxRetention time.Duration
	MailboxMaxAge    time.Duration
	Log              *slog.Logger
	// Released is called when expired leases went back to the queue.
	Released func()
	// Leading, if set, is told whether this node leads after each round.
	Leading func(bool)
}

// Run works until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round runs once: it takes or renews the leader lease and, when this node
// leads, does the work.
func (r *Runner) Round(ctx context.Context) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	lead, err := r.Store.TryLead(ctx, leaseName, r.Owner, now().UTC(), leaderTTL)
	if err != nil {
		if ctx.Err() == nil {
			r.Log.Error("maintenance: taking the leader lease", "err", err)
		}
		return
	}
	if r.Leading != nil {
		r.Leading(lead)
	}
	if !lead {
		return
	}
	t := now().UTC()
	if n, err := r.Store.ReleaseLeases(ctx, "", t); err != nil {
		r.Log.Error("maintenance: releasing expired leases", "err", err)
	} else if n > 0 {
		r.Log.Warn("maintenance: returned deliveries whose lease ran out to the queue", "count", n)
		if r.Released != nil {
			r.Released()
		}
	}
	if r.InactiveAfter > 0 {
		if ids, err := r.Store.MarkUsersInactive(ctx, t.Add(-r.InactiveAfter), t); err != nil {
			r.Log.Error("maintenance: marking inactive users", "err", err)
		} else if len(ids) > 0 {
			r.Log.Info("maintenance: users inactive after a period without activity", "count", len(ids), "inactive_after", r.InactiveAfter.String())
		}
	}
	if _, err := r.Store.PruneSessions(ctx, t); err != nil {
		r.Log.Error("maintenance: deleting expired sessions", "err", err)
	}
	// The hot tables' planner statistics, every round: the check is one
	// read of the statistics view, and a growing queue's plans so follow it
	// within seconds (with a small table's statistics, PostgreSQL scans the
	// table whole).
	if done, err := r.Store.RefreshStatistics(ctx); err != nil {
		r.Log.Error("maintenance: refreshing planner statistics", "err", err)
	} else if len(done) > 0 {
		r.Log.Info("maintenance: refreshed the statistics of churned tables", "done", done)
	}
	if r.MailboxRetention > 0 || r.MailboxMaxAge > 0 {
		// A zero setting keeps those messages: a time before any message.
		finished, unclaimed := time.Time{}, time.Time{}
		if r.MailboxRetention > 0 {
			finished = t.Add(-r.MailboxRetention)
		}
		if r.MailboxMaxAge > 0 {
			unclaimed = t.Add(-r.MailboxMaxAge)
		}
		if _, err := r.Store.PruneMessages(ctx, finished, unclaimed, pruneBatch); err != nil {
			r.Log.Error("maintenance: deleting old mailbox messages", "err", err)
		}
	}
	if r.Retention <= 0 {
		return
	}
	// Prune in batches, so that no transaction holds the writer for long,
	// and stop at the round's end so that renewing the lease is never late.
	start := time.Now()
	for time.Since(start) < interval/2 && ctx.Err() == nil {
		n, err := r.Store.Prune(ctx, t.Add(-r.Retention), t.Add(-store.IdempotencyWindow), pruneBatch)
		if err != nil {
			r.Log.Error("maintenance: pruning", "err", err)
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

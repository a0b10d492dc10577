package delivery

import (
	"log/slog"
	"time"
)

// How long a loop whose store calls fail waits before trying again: from
// minBackoff, doubling per failure, to at most maxBackoff.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// backoff spaces out the tries of a loop whose store calls fail, and logs
// when the store starts failing and when it answers again rather than per
// try: with the database unreachable, the claimer alone would otherwise
// try and log 50 times a second. One loop owns it: it is not locked.
type backoff struct {
	what     string // the loop's work, as the log names it
	log      *slog.Logger
	delay    time.Duration // the last wait; 0 while the store answers
	since    time.Time     // when it started failing
	failures int
}

// failed records a failed try and returns how long to wait before the next.
func (b *backoff) failed(err error) time.Duration {
	if b.delay == 0 {
		b.log.Error(b.what+": the store fails; backing off until it answers", "err", err)
		b.delay, b.since = minBackoff, time.Now()
	} else {
		b.delay = min(2*b.delay, maxBackoff)
	}
	b.failures++
	return b.delay
}

// ok records a try that worked.
func (b *backoff) ok() {
	if b.delay == 0 {
		return
	}
	b.log.Info(b.what+": the store answers again", "failures", b.failures,
		"after", time.Since(b.since).Round(time.Millisecond))
	b.delay, b.failures = 0, 0
}

// failing reports whether the last try failed.
func (b *backoff) failing() bool { return b.delay > 0 }

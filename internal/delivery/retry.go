// The retry policy: when a failed attempt is tried again, and when it is not.
package delivery

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps how long a receiver's Retry-After can push a retry back.
const maxRetryAfter = 24 * time.Hour

// jitter spreads d by ±20% so that retries of many deliveries do not arrive
// together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// nextDelay returns the delay before the next attempt, given how many
// attempts have been made, or false when the schedule is exhausted.
// A Retry-After (retryAfter > 0) replaces the scheduled delay.
func nextDelay(schedule []time.Duration, attempts int, retryAfter time.Duration) (time.Duration, bool) {
	if attempts-1 >= len(schedule) {
		return 0, false
	}
	if retryAfter > 0 {
		return retryAfter, true
	}
	return jitter(schedule[attempts-1]), true
}

// ParseRetryAfter reads a Retry-After value, either delay-seconds or an
// HTTP date, as a duration from now, capped at a day. ok is false when the
// value is absent or malformed.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	d = max(d, 0)
	return min(d, maxRetryAfter), true
}

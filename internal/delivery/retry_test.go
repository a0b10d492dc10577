package delivery

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	httpDate := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"absent", "", 0, false},
		{"blank", "   ", 0, false},
		{"zero seconds", "0", 0, true},
		{"seconds", "120", 2 * time.Minute, true},
		{"seconds with spaces", " 7 ", 7 * time.Second, true},
		{"negative seconds", "-5", 0, false},
		{"fractional seconds", "1.5", 0, false},
		{"garbage", "soon", 0, false},
		{"seconds with unit", "10s", 0, false},
		{"a day exactly", "86400", 24 * time.Hour, true},
		{"more than a day is capped", "86401", 24 * time.Hour, true},
		{"huge is capped", "999999999999", 24 * time.Hour, true},
		{"beyond int64 is garbage", "99999999999999999999999", 0, false},
		{"http date in the future", httpDate(90 * time.Second), 90 * time.Second, true},
		{"http date in the past is now", httpDate(-time.Hour), 0, true},
		{"http date far ahead is capped", httpDate(30 * 24 * time.Hour), 24 * time.Hour, true},
		{"rfc 850 date", now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT"), time.Minute, true},
		{"asctime date", now.Add(time.Minute).Format(time.ANSIC), time.Minute, true},
		{"rfc 3339 is not an http date", now.Add(time.Minute).Format(time.RFC3339), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{"", "0", "1", "-1", "120", "86401", "9223372036854775807", "-9223372036854775808",
		"1e3", " 5 ", "Sun, 06 Nov 1994 08:49:37 GMT", now.Add(time.Hour).Format(http.TimeFormat),
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", "\x00"} {
		f.Add(seed, now.Unix())
	}
	f.Fuzz(func(t *testing.T, v string, unix int64) {
		d, ok := ParseRetryAfter(v, time.Unix(unix, 0))
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", v, d, maxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok=false, want 0", v, d)
		}
		// Plain non-negative delay-seconds must always be accepted.
		if n, err := strconv.ParseUint(v, 10, 63); err == nil && !ok {
			t.Fatalf("ParseRetryAfter(%q) rejected %d seconds", v, n)
		}
	})
}

func TestNextDelay(t *testing.T) {
	schedule := []time.Duration{time.Second, time.Minute, time.Hour}
	tests := []struct {
		name       string
		schedule   []time.Duration
		attempts   int
		retryAfter time.Duration
		base       time.Duration // the scheduled delay jitter applies to; 0 with exact
		exact      time.Duration // the delay expected without jitter
		wantOK     bool
	}{
		{name: "after the first attempt", schedule: schedule, attempts: 1, base: time.Second, wantOK: true},
		{name: "after the second attempt", schedule: schedule, attempts: 2, base: time.Minute, wantOK: true},
		{name: "last retry", schedule: schedule, attempts: 3, base: time.Hour, wantOK: true},
		{name: "schedule exhausted", schedule: schedule, attempts: 4, wantOK: false},
		{name: "long past the schedule", schedule: schedule, attempts: 40, wantOK: false},
		{name: "empty schedule: one attempt only", schedule: []time.Duration{}, attempts: 1, wantOK: false},
		{name: "nil schedule: one attempt only", schedule: nil, attempts: 1, wantOK: false},
		{name: "retry-after replaces the delay", schedule: schedule, attempts: 1, retryAfter: 42 * time.Second,
			exact: 42 * time.Second, wantOK: true},
		{name: "retry-after shorter than the schedule", schedule: schedule, attempts: 3, retryAfter: time.Second,
			exact: time.Second, wantOK: true},
		{name: "retry-after does not extend an exhausted schedule", schedule: schedule, attempts: 4,
			retryAfter: time.Second, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Jitter is random: look at many draws.
			for range 200 {
				got, ok := nextDelay(tt.schedule, tt.attempts, tt.retryAfter)
				if ok != tt.wantOK {
					t.Fatalf("nextDelay ok = %v, want %v", ok, tt.wantOK)
				}
				switch {
				case !ok:
					if got != 0 {
						t.Fatalf("nextDelay = %v with ok=false, want 0", got)
					}
				case tt.exact != 0:
					if got != tt.exact {
						t.Fatalf("nextDelay = %v, want exactly %v", got, tt.exact)
					}
				default:
					lo, hi := tt.base*8/10, tt.base*12/10
					if got < lo || got > hi {
						t.Fatalf("nextDelay = %v, want within ±20%% of %v [%v, %v]", got, tt.base, lo, hi)
					}
				}
			}
		})
	}
}

func TestJitterSpreadsWithinTwentyPercent(t *testing.T) {
	const base = 10 * time.Second
	lo, hi := base*8/10, base*12/10
	var below, above bool
	for range 10000 {
		d := jitter(base)
		if d < lo || d > hi {
			t.Fatalf("jitter(%v) = %v, outside [%v, %v]", base, d, lo, hi)
		}
		below = below || d < base*95/100
		above = above || d > base*105/100
	}
	// Jitter that never moves the delay would not spread retries at all.
	if !below || !above {
		t.Fatalf("jitter does not spread both ways over 10000 draws: below=%v above=%v", below, above)
	}
}

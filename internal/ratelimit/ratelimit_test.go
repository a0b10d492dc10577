package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New()
	now := time.Unix(1_700_000_000, 0)
	var last time.Duration
	for i := 1; i <= limitFailures; i++ {
		wait, retry := l.Fail("192.0.2.1", now)
		if retry != 0 {
			t.Fatalf("failure %d limited", i)
		}
		if i <= freeFailures && wait != 0 || i > freeFailures && (wait <= last && wait < maxDelay || wait > maxDelay) {
			t.Fatalf("failure %d waits %s (previous %s)", i, wait, last)
		}
		last = wait
	}
	if _, retry := l.Fail("192.0.2.1", now.Add(10*time.Second)); retry != 50*time.Second {
		t.Fatalf("over the bound: retry after %s, want 50s", retry)
	}
	if _, retry := l.Fail("192.0.2.2", now); retry != 0 {
		t.Fatalf("another address is limited")
	}
	// A new window starts over.
	if wait, retry := l.Fail("192.0.2.1", now.Add(limitWindow)); wait != 0 || retry != 0 {
		t.Fatalf("next minute: %s %s", wait, retry)
	}
	// Memory stays bounded whatever the number of addresses.
	for i := range 3 * maxClients {
		l.Fail("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), now)
	}
	if len(l.clients) > maxClients {
		t.Fatalf("%d addresses tracked, bound %d", len(l.clients), maxClients)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":             "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":    "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2::9]:443":      "2001:db8:1:2::/64",
		"garbage":                    "garbage",
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBlocked(t *testing.T) {
	l := New()
	now := time.Unix(1_700_000_000, 0)
	for i := 1; i <= limitFailures; i++ {
		if b := l.Blocked("192.0.2.1", now); b != 0 {
			t.Fatalf("blocked after %d failures", i-1)
		}
		l.Fail("192.0.2.1", now)
	}
	if b := l.Blocked("192.0.2.1", now.Add(15*time.Second)); b != 45*time.Second {
		t.Errorf("over the bound: blocked for %s, want 45s", b)
	}
	if b := l.Blocked("192.0.2.9", now); b != 0 {
		t.Errorf("another address is blocked")
	}
	if b := l.Blocked("192.0.2.1", now.Add(limitWindow)); b != 0 {
		t.Errorf("the next minute is blocked")
	}
}

// TestLimitedClientSurvivesAFlood: when the table is full and no window
// has ended, prune starts over with an empty table, forgetting the clients
// already over the bound. An attacker at its 20th failure sends one failure
// from each of 10,000 other addresses (an IPv6 /50 holds 16,384 /64s) and
// is then free again: measured on the binary, 401s without delay instead
// of 429. Memory must stay bounded without letting a limited client go.
func TestLimitedClientSurvivesAFlood(t *testing.T) {
	l := New()
	now := time.Unix(1_700_000_000, 0)
	for range limitFailures {
		l.Fail("192.0.2.1", now)
	}
	for i := range maxClients {
		l.Fail("10.1."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), now.Add(time.Second))
	}
	if _, retry := l.Fail("192.0.2.1", now.Add(2*time.Second)); retry == 0 {
		t.Errorf("a client over the bound is let go after failures from %d other addresses", maxClients)
	}
}

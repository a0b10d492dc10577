// Package ratelimit is the brute-force protection of every way in that
// checks a credential (the inbound receiver, the web UI's login): a client
// address whose credentials keep failing is slowed down, and past a bound
// refused for the rest of the minute. Only failures count, so a valid
// credential is never limited and someone else's failures from the same
// address (a shared proxy, say) lock nobody out.
package ratelimit

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	// limitWindow is the span over which failures are counted.
	limitWindow = time.Minute
	// limitFailures is how many failures in a window are answered 401;
	// after that, 429 until the window ends.
	limitFailures = 20
	// freeFailures fail at once; each one after waits delayStep more, up
	// to maxDelay.
	freeFailures = 3
	delayStep    = 50 * time.Millisecond
	maxDelay     = time.Second
	// maxClients bounds the addresses tracked.
	maxClients = 10000
)

type window struct {
	start    time.Time
	failures int
}

// Limiter counts failed authentications per client address.
type Limiter struct {
	mu      sync.Mutex
	clients map[string]*window
}

// New returns an empty limiter.
func New() *Limiter { return &Limiter{clients: map[string]*window{}} }

// Fail counts a failed authentication from client (a ClientKey) at now.
// It returns how long to wait before answering the refusal, or, once the
// client is over the bound, how long until it may try again (retry > 0:
// answer 429 with Retry-After).
func (l *Limiter) Fail(client string, now time.Time) (wait, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.clients[client]
	if !ok || now.Sub(w.start) >= limitWindow {
		if !ok && len(l.clients) >= maxClients {
			l.prune(now)
		}
		w = &window{start: now}
		l.clients[client] = w
	}
	w.failures++
	if w.failures > limitFailures {
		return 0, max(time.Second, w.start.Add(limitWindow).Sub(now).Round(time.Second))
	}
	if w.failures <= freeFailures {
		return 0, 0
	}
	return min(time.Duration(w.failures-freeFailures)*delayStep, maxDelay), 0
}

// Refuse counts a failed authentication from client at now, as Fail, and
// waits out its delay (or until ctx ends) before the refusal is answered.
// It returns 0, or, once the client is over the bound, how long until it
// may try again: answer 429 with Retry-After.
func (l *Limiter) Refuse(ctx context.Context, client string, now time.Time) (retry time.Duration) {
	wait, retry := l.Fail(client, now)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return retry
}

// Blocked reports how long client must wait before its next try is even
// checked: 0 while it is within the bound. A check that is expensive (a
// password's hash) asks first, so that an address over the bound cannot
// keep guessing at the price of a 429 per guess.
func (l *Limiter) Blocked(client string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.clients[client]
	if !ok || now.Sub(w.start) >= limitWindow || w.failures < limitFailures {
		return 0
	}
	return max(time.Second, w.start.Add(limitWindow).Sub(now).Round(time.Second))
}

// prune drops the windows that ended, then those of clients still within
// the bound; only if every one left is over the bound does it start over.
// So memory stays bounded whatever the number of addresses, and failures
// sent from many addresses cannot set free a client already over the bound.
func (l *Limiter) prune(now time.Time) {
	for k, w := range l.clients {
		if now.Sub(w.start) >= limitWindow {
			delete(l.clients, k)
		}
	}
	if len(l.clients) < maxClients {
		return
	}
	for k, w := range l.clients {
		if w.failures < limitFailures {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxClients {
		l.clients = map[string]*window{}
	}
}

// ClientIP is the address of the peer (never X-Forwarded-For, which any
// client can set).
func ClientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// ClientKey is what failures are counted by: the IPv4 address, or the /64
// of an IPv6 address (one host usually holds a whole /64).
func ClientKey(remoteAddr string) string {
	a, err := netip.ParseAddr(ClientIP(remoteAddr))
	if err != nil {
		return remoteAddr
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

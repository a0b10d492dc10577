package receiver

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter()
	now := time.Unix(1_700_000_000, 0)
	var last time.Duration
	for i := 1; i <= limitFailures; i++ {
		wait, retry := l.fail("192.0.2.1", now)
		if retry != 0 {
			t.Fatalf("failure %d limited", i)
		}
		if i <= freeFailures && wait != 0 || i > freeFailures && (wait <= last && wait < maxDelay || wait > maxDelay) {
			t.Fatalf("failure %d waits %s (previous %s)", i, wait, last)
		}
		last = wait
	}
	if _, retry := l.fail("192.0.2.1", now.Add(10*time.Second)); retry != 50*time.Second {
		t.Fatalf("over the bound: retry after %s, want 50s", retry)
	}
	if _, retry := l.fail("192.0.2.2", now); retry != 0 {
		t.Fatalf("another address is limited")
	}
	// A new window starts over.
	if wait, retry := l.fail("192.0.2.1", now.Add(limitWindow)); wait != 0 || retry != 0 {
		t.Fatalf("next minute: %s %s", wait, retry)
	}
	// Memory stays bounded whatever the number of addresses.
	for i := range 3 * maxClients {
		l.fail("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), now)
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
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredential(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":             "false||abc",
		"bearer   abc ":          "false||abc",
		"Basic dXNlcjpwYXNz":     "true|user|pass",
		"Basic dXNlcjpwYTpzcw==": "true|user|pa:ss",
		"Basic dXNlcg==":         "false||",
		"Basic dXNlcjo=":         "false||",
		"Basic !!!":              "false||",
		"Bearer":                 "false||",
		"Token abc":              "false||",
		"":                       "false||",
	} {
		c := credential(in)
		if got := strconv.FormatBool(c.Basic) + "|" + c.Username + "|" + c.Token; got != want {
			t.Errorf("credential(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	for _, c := range []struct{ ct, body, want string }{
		{"", `{"a":1}`, `{"a":1}`},
		{"application/json; charset=UTF-8", `[1]`, `[1]`},
		{"application/vnd.api+json", `"x"`, `"x"`},
		{"application/x-www-form-urlencoded", `a=1&b=x&b=y&c=%3Cp%3E`, `{"a":"1","b":["x","y"],"c":"<p>"}`},
		{"application/x-www-form-urlencoded", ``, `{}`},
	} {
		got, err := decodeBody(c.ct, []byte(c.body))
		if err != nil || string(got) != c.want {
			t.Errorf("%s %s: %s %v, want %s", c.ct, c.body, got, err, c.want)
		}
	}
}

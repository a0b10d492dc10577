// Tests for CheckURL: literal and legacy IP hosts, localhost, bad URLs,
// and hostname resolution through an in-process fake DNS server so no
// real DNS is used.

package netguard_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/netguard"
)

// failingResolver never reaches a DNS server, so lookups (other than
// /etc/hosts entries) fail immediately.
func failingResolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS in tests")
		},
	}
}

// fakeResolver answers every A/AAAA query with the matching addrs, or
// NXDOMAIN when addrs is empty. It speaks DNS over an in-memory stream.
func fakeResolver(t *testing.T, addrs ...string) *net.Resolver {
	t.Helper()
	var ips []netip.Addr
	for _, a := range addrs {
		ips = append(ips, netip.MustParseAddr(a))
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, ips)
			return client, nil
		},
	}
}

// serveDNS answers length-prefixed (TCP-style) DNS queries on c.
func serveDNS(c net.Conn, ips []netip.Addr) {
	defer c.Close()
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		// Skip the question name to find QTYPE/QCLASS.
		off := 12
		for off < len(q) && q[off] != 0 {
			off += int(q[off]) + 1
		}
		if off+5 > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[off+1:])
		qend := off + 5

		var answers [][]byte
		for _, ip := range ips {
			switch {
			case qtype == 1 && ip.Is4():
				b := ip.As4()
				answers = append(answers, b[:])
			case qtype == 28 && ip.Is6():
				b := ip.As16()
				answers = append(answers, b[:])
			}
		}
		flags := uint16(0x8180) // response, recursion desired and available
		if len(ips) == 0 {
			flags |= 3 // NXDOMAIN
		}
		resp := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q))
		resp = binary.BigEndian.AppendUint16(resp, flags)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
		resp = append(resp, 0, 0, 0, 0)
		resp = append(resp, q[12:qend]...)
		for _, rdata := range answers {
			resp = append(resp, 0xc0, 12) // name: pointer to the question
			resp = binary.BigEndian.AppendUint16(resp, qtype)
			resp = binary.BigEndian.AppendUint16(resp, 1)  // class IN
			resp = binary.BigEndian.AppendUint32(resp, 60) // TTL
			resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
			resp = append(resp, rdata...)
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// want* describe the expected CheckURL outcome.
const (
	wantOK = iota
	wantPrivate
	wantInvalid // an error that is not ErrPrivateTarget
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		r    *net.Resolver // nil means failingResolver
		want int
	}{
		// Literal IPs.
		{name: "loopback v4", url: "http://127.0.0.1/hook", want: wantPrivate},
		{name: "private v4 with port", url: "https://10.1.2.3:8443/x", want: wantPrivate},
		{name: "metadata service", url: "http://169.254.169.254/latest/meta-data/", want: wantPrivate},
		{name: "unspecified", url: "http://0.0.0.0:8080/", want: wantPrivate},
		{name: "CGNAT", url: "http://100.64.1.1/", want: wantPrivate},
		{name: "loopback v6", url: "http://[::1]/", want: wantPrivate},
		{name: "loopback v6 with port", url: "http://[::1]:8080/", want: wantPrivate},
		{name: "mapped loopback", url: "http://[::ffff:127.0.0.1]/", want: wantPrivate},
		{name: "link-local v6 with zone", url: "http://[fe80::1%25eth0]/", want: wantPrivate},
		{name: "unique local v6", url: "https://[fd00::5]/", want: wantPrivate},
		{name: "userinfo", url: "http://user:pass@192.168.0.10/", want: wantPrivate},
		{name: "public v4", url: "https://93.184.216.34/hook", want: wantOK},
		{name: "public v6", url: "https://[2606:2800:220:1:248:1893:25c8:1946]:443/hook", want: wantOK},
		{name: "uppercase scheme", url: "HTTPS://93.184.216.34/", want: wantOK},
		// Legacy numeric forms that HTTP clients treat as IPv4.
		{name: "short form", url: "http://127.1/", want: wantPrivate},
		{name: "decimal", url: "http://2130706433/", want: wantPrivate},
		{name: "hex", url: "http://0x7f000001/", want: wantPrivate},
		{name: "octal", url: "http://0177.0.0.1/", want: wantPrivate},
		{name: "single zero", url: "http://0/", want: wantPrivate},
		{name: "trailing dot", url: "http://127.0.0.1./", want: wantPrivate},
		{name: "legacy public", url: "http://0x5d.184.216.34/", want: wantOK},
		// localhost.
		{name: "localhost", url: "http://localhost:3000/hook", want: wantPrivate},
		{name: "localhost uppercase fqdn", url: "http://LOCALHOST./", want: wantPrivate},
		{name: "localhost subdomain", url: "http://api.localhost/", want: wantPrivate},
		{name: "percent-encoded ASCII host", url: "http://%6cocalhost/", want: wantInvalid}, // net/url rejects it
		// Invalid URLs.
		{name: "ftp scheme", url: "ftp://93.184.216.34/", want: wantInvalid},
		{name: "file scheme", url: "file:///etc/passwd", want: wantInvalid},
		{name: "javascript", url: "javascript:alert(1)", want: wantInvalid},
		{name: "no scheme", url: "example.com/hook", want: wantInvalid},
		{name: "no host", url: "http:///hook", want: wantInvalid},
		{name: "opaque", url: "http:example.com", want: wantInvalid},
		{name: "unclosed bracket", url: "http://[::1/", want: wantInvalid},
		{name: "bad port", url: "http://example.com:port/", want: wantInvalid},
		{name: "empty", url: "", want: wantInvalid},
		// Names resolved through the fake DNS server.
		{name: "lookup fails", url: "https://hooks.example.com/", want: wantOK},
		{name: "nxdomain", url: "https://hooks.example.com/", r: fakeResolver(t), want: wantOK},
		{name: "resolves public", url: "https://hooks.example.com/", r: fakeResolver(t, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"), want: wantOK},
		{name: "resolves private v4", url: "https://hooks.example.com/", r: fakeResolver(t, "10.0.0.5"), want: wantPrivate},
		{name: "resolves loopback v6", url: "https://hooks.example.com/", r: fakeResolver(t, "::1"), want: wantPrivate},
		{name: "one of several private", url: "https://hooks.example.com/", r: fakeResolver(t, "93.184.216.34", "192.168.1.20"), want: wantPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r == nil {
				r = failingResolver()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := netguard.CheckURL(ctx, r, tt.url)
			switch tt.want {
			case wantOK:
				if err != nil {
					t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
			case wantPrivate:
				if !errors.Is(err, netguard.ErrPrivateTarget) {
					t.Errorf("CheckURL(%q) = %v, want ErrPrivateTarget", tt.url, err)
				}
			case wantInvalid:
				if err == nil || errors.Is(err, netguard.ErrPrivateTarget) {
					t.Errorf("CheckURL(%q) = %v, want a non-private error", tt.url, err)
				}
			}
		})
	}
}

// TestCheckURLNilResolver covers the net.DefaultResolver fallback with
// hosts that need no DNS.
func TestCheckURLNilResolver(t *testing.T) {
	tests := []struct {
		url         string
		wantPrivate bool
	}{
		{"http://127.0.0.1/", true},
		{"http://localhost/", true},
		{"https://93.184.216.34/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := netguard.CheckURL(context.Background(), nil, tt.url)
			if got := errors.Is(err, netguard.ErrPrivateTarget); got != tt.wantPrivate || (!tt.wantPrivate && err != nil) {
				t.Errorf("CheckURL(%q) = %v, wantPrivate %v", tt.url, err, tt.wantPrivate)
			}
		})
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1/", "https://[::1]:8443/x", "http://[fe80::1%25eth0]/",
		"http://localhost./", "http://0x7f.1/", "http://2130706433/", "https://93.184.216.34/",
		"https://hooks.example.com/path?q=1", "ftp://x/", "http://[::ffff:10.0.0.1]/",
		"http://user:pass@host:1/", "http://%6cocalhost/", "", ":", "http://[", "http://0x/",
	} {
		f.Add(s)
	}
	r := failingResolver()
	f.Fuzz(func(t *testing.T, raw string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := netguard.CheckURL(ctx, r, raw)
		u, perr := url.Parse(raw)
		if err == nil {
			// Accepted URLs must be well-formed http(s) with a host.
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Fatalf("CheckURL(%q) = nil for a URL that is not http(s) with a host", raw)
			}
		}
		// A literal blocked IP must always be reported as private.
		if perr == nil && (u.Scheme == "http" || u.Scheme == "https") {
			if ip, ierr := netip.ParseAddr(u.Hostname()); ierr == nil && netguard.Blocked(ip) && !errors.Is(err, netguard.ErrPrivateTarget) {
				t.Fatalf("CheckURL(%q) = %v, want ErrPrivateTarget for %s", raw, err, ip)
			}
		}
	})
}

// TestFakeResolver makes sure the fake DNS server really answers, so the
// "resolves public" cases above are not passing through a lookup failure.
func TestFakeResolver(t *testing.T) {
	want := []string{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"}
	got, err := fakeResolver(t, want...).LookupNetIP(context.Background(), "ip", "hooks.example.com")
	if err != nil {
		t.Fatalf("LookupNetIP: %v", err)
	}
	seen := make(map[string]bool)
	for _, a := range got {
		seen[a.Unmap().String()] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("LookupNetIP = %v, missing %s", got, w)
		}
	}
}

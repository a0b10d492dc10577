// Tests for the dial-time guard: address classification, Control, and a
// real HTTP request through NewDialer against a loopback test server.

package netguard_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/netguard"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		// IPv4 blocked
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"169.254.169.254", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.0.0.8", true},
		{"192.168.1.1", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		// IPv4 allowed
		{"93.184.216.34", false},
		{"1.1.1.1", false},
		{"8.8.8.8", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"192.0.1.1", false},
		{"192.169.0.1", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"223.255.255.255", false},
		// IPv6 blocked
		{"::", true},
		{"::1", true},
		{"fc00::1", true},
		{"fd12:3456:789a::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"ff01::1", true},
		{"ff0e::1", true},
		// IPv4 embedded in IPv6
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:93.184.216.34", false},
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::192.168.0.1", true},
		{"64:ff9b::93.184.216.34", false},
		{"64:ff9b:1::1", true},
		{"::127.0.0.1", true},
		{"::10.0.0.1", true},
		{"2002:7f00:1::", true},
		{"2002:a9fe:a9fe::1", true},
		{"2002:5db8:d822::1", false},
		// IPv6 allowed
		{"2606:2800:220:1:248:1893:25c8:1946", false},
		{"2001:4860:4860::8888", false},
		{"2a00:1450:4001:80b::200e", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if got := netguard.Blocked(ip); got != tt.want {
				t.Errorf("Blocked(%s) = %v, want %v", ip, got, tt.want)
			}
		})
	}
	if !netguard.Blocked(netip.Addr{}) {
		t.Error("Blocked(zero Addr) = false, want true")
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		network, address string
		wantPrivate      bool
		wantErr          bool
	}{
		{"tcp4", "127.0.0.1:80", true, true},
		{"tcp4", "10.1.2.3:443", true, true},
		{"tcp6", "[::1]:8080", true, true},
		{"tcp6", "[fe80::1%eth0]:80", true, true},
		{"tcp6", "[::ffff:192.168.0.1]:80", true, true},
		{"tcp4", "93.184.216.34:443", false, false},
		{"tcp6", "[2606:2800:220:1:248:1893:25c8:1946]:443", false, false},
		{"tcp", "example.com:80", false, true}, // unresolved: fail closed
		{"tcp", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := netguard.Control(tt.network, tt.address, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Control(%q) error = %v, wantErr %v", tt.address, err, tt.wantErr)
			}
			if got := errors.Is(err, netguard.ErrPrivateTarget); got != tt.wantPrivate {
				t.Errorf("errors.Is(%v, ErrPrivateTarget) = %v, want %v", err, got, tt.wantPrivate)
			}
		})
	}
}

func TestNewDialer(t *testing.T) {
	tests := []struct {
		name         string
		allowPrivate bool
		wantControl  bool
	}{
		{"guarded", false, true},
		{"allow private", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := netguard.NewDialer(3*time.Second, tt.allowPrivate)
			if d.Timeout != 3*time.Second || d.KeepAlive != 30*time.Second {
				t.Errorf("Timeout, KeepAlive = %v, %v; want 3s, 30s", d.Timeout, d.KeepAlive)
			}
			if got := d.Control != nil; got != tt.wantControl {
				t.Errorf("Control set = %v, want %v", got, tt.wantControl)
			}
		})
	}
}

// TestDialerAgainstLoopbackServer makes real requests to an httptest server
// on 127.0.0.1, both by IP and by a name that resolves to it at dial time.
func TestDialerAgainstLoopbackServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	urls := []string{srv.URL, "http://localhost:" + port + "/"}
	tests := []struct {
		name         string
		allowPrivate bool
	}{
		{"guarded", false},
		{"allow private", true},
	}
	for _, tt := range tests {
		for _, u := range urls {
			t.Run(tt.name+" "+u, func(t *testing.T) {
				client := &http.Client{
					Timeout: 5 * time.Second,
					Transport: &http.Transport{
						Proxy:       nil, // the guard must see the target, not a proxy
						DialContext: netguard.NewDialer(2*time.Second, tt.allowPrivate).DialContext,
					},
				}
				defer client.CloseIdleConnections()
				resp, err := client.Get(u)
				if !tt.allowPrivate {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("GET %s succeeded, want ErrPrivateTarget", u)
					}
					if !errors.Is(err, netguard.ErrPrivateTarget) {
						t.Fatalf("GET %s error = %v, want ErrPrivateTarget", u, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("GET %s: %v", u, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("GET %s = %d %q, want 200 \"ok\"", u, resp.StatusCode, body)
				}
			})
		}
	}
}

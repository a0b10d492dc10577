// Creation-time validation of push target URLs. It gives users an early
// 422 private_target for targets that are obviously internal; the dial-time
// guard in netguard.go remains the authoritative check.

package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckURL is the creation-time check: it parses rawURL (must be http or
// https with a host), resolves the host with r (net.DefaultResolver if nil)
// and returns an error wrapping ErrPrivateTarget if any resolved address (or
// a literal IP host) is blocked. A lookup failure is not an error (the host
// may not exist yet); "localhost" and "*.localhost" are blocked without
// resolving. Numeric hosts in the legacy inet_aton forms that HTTP clients
// accept ("127.1", "0x7f000001", "2130706433") are treated as IP literals.
func CheckURL(ctx context.Context, r *net.Resolver, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Drop url.Error's copy of the URL: it may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("netguard: invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("netguard: unsupported URL scheme %q, want http or https", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("netguard: URL has no host")
	}

	if ip, ok := literalIP(host); ok {
		if Blocked(ip) {
			return fmt.Errorf("netguard: host %s: %w", host, ErrPrivateTarget)
		}
		return nil
	}
	if isLocalhost(host) {
		return fmt.Errorf("netguard: host %s: %w", host, ErrPrivateTarget)
	}

	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // not resolvable yet; the dial-time guard still applies
	}
	for _, a := range addrs {
		if Blocked(a) {
			return fmt.Errorf("netguard: host %s resolves to %s: %w", host, a.Unmap(), ErrPrivateTarget)
		}
	}
	return nil
}

// isLocalhost reports whether host is "localhost" or a subdomain of it,
// which RFC 6761 reserves for loopback.
func isLocalhost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// literalIP parses host as an IP address, including the legacy IPv4 forms.
func literalIP(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	return parseLegacyIPv4(host)
}

// parseLegacyIPv4 parses the inet_aton forms: one to four dot-separated
// numbers, each decimal, octal (leading 0) or hex (0x), where the last
// number fills the remaining bytes. One trailing dot is allowed.
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(s, ".")
	var nums [4]uint64
	n := 0
	for part := range strings.SplitSeq(s, ".") {
		if n == len(nums) {
			return netip.Addr{}, false
		}
		v, ok := parseIPv4Number(part)
		if !ok {
			return netip.Addr{}, false
		}
		nums[n] = v
		n++
	}
	var v uint64
	for i := range n - 1 {
		if nums[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= nums[i] << (8 * (3 - i))
	}
	last := nums[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Number parses one component of a legacy IPv4 address.
func parseIPv4Number(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true // "0x" alone is zero, as in WHATWG URL parsing
		}
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	}
	v, err := strconv.ParseUint(p, base, 32)
	return v, err == nil
}

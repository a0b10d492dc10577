// Address classification and the dial-time guard. Blocked decides which
// IPs are off limits; Control/NewDialer apply it to the resolved address
// at connect time so DNS rebinding cannot slip past a creation-time check.

package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateTarget is returned (wrapped) when a target address is not allowed.
var ErrPrivateTarget = errors.New("target resolves to a private, loopback, link-local or unspecified address")

// blockedV4 lists IPv4 ranges that are never dialled.
var blockedV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", includes unspecified
	netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT shared space
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local (cloud metadata lives here)
	netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, includes 255.255.255.255 broadcast
}

// IPv6 ranges needing special handling beyond the netip predicates.
var (
	siteLocal  = netip.MustParsePrefix("fec0::/10")      // deprecated site-local, still routed privately
	nat64      = netip.MustParsePrefix("64:ff9b::/96")   // well-known NAT64 prefix, IPv4 in the low 32 bits
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64 (RFC 8215), operator defined
	ipv4Compat = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible addresses
	sixToFour  = netip.MustParsePrefix("2002::/16")      // 6to4, IPv4 in bits 16-47
)

// Blocked reports whether ip may not be dialled: loopback, private (RFC 1918,
// fc00::/7), link-local (unicast and multicast), unspecified, 0.0.0.0/8,
// 100.64.0.0/10, 192.0.0.0/24, 198.18.0.0/15, multicast, broadcast and the
// rest of 240.0.0.0/4, fec0::/10, 64:ff9b:1::/48, and IPv4-mapped, NAT64
// (64:ff9b::/96), IPv4-compatible and 6to4 forms of blocked IPv4 addresses.
// The zero Addr is blocked.
func Blocked(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	// Prefix.Contains never matches an address with a zone.
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return blocked4(ip)
	}
	switch {
	case ip.IsUnspecified(), ip.IsLoopback(), ip.IsPrivate(),
		ip.IsLinkLocalUnicast(), ip.IsMulticast(),
		siteLocal.Contains(ip), nat64Local.Contains(ip):
		return true
	case nat64.Contains(ip), ipv4Compat.Contains(ip):
		b := ip.As16()
		return blocked4(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		b := ip.As16()
		return blocked4(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return false
}

func blocked4(ip netip.Addr) bool {
	for _, p := range blockedV4 {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer.Control function: it parses the already-resolved
// address being dialled and returns an error wrapping ErrPrivateTarget when
// Blocked. An address that does not parse as ip:port is refused as well
// (fail closed), with an error that does not wrap ErrPrivateTarget.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: cannot check %s address %q: %w", network, address, err)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("netguard: refusing to dial %s: %w", ap.Addr(), ErrPrivateTarget)
	}
	return nil
}

// NewDialer returns a *net.Dialer (with the given timeout and keep-alive
// 30s) whose Control enforces the guard unless allowPrivate.
func NewDialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = Control
	}
	return d
}

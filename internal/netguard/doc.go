// Package netguard keeps webhook deliveries from reaching internal
// networks (SSRF protection).
//
// Push targets that resolve to loopback, private, link-local, unspecified
// or other non-public addresses are refused unless the operator passes
// --allow-private-targets. There are two layers:
//
//   - CheckURL runs when a target is created, so obvious mistakes are
//     rejected up front (HTTP 422, private_target).
//   - NewDialer / Control run on every connection and check the address
//     that is actually being dialled, after DNS resolution. This is the
//     real defence: a DNS name that resolves to a public address at
//     creation time and to 127.0.0.1 later (DNS rebinding) is still
//     refused.
//
// The dial-time check only sees the address the dialer connects to, so the
// HTTP transport using NewDialer must not go through a proxy (set
// http.Transport.Proxy to nil); otherwise the proxy address is checked
// instead of the target.
package netguard

// Package redact is the one rule for secrets that Postbode sends as
// configured but never shows back (SPEC §4): in API output and attempt logs
// the password of a URL's userinfo and the values of credential headers
// appear as Mask. Signature headers prove one message and reveal no key, so
// callers show them as they are.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a secret.
const Mask = "***"

// Sensitive reports whether a header's value is a secret: Authorization,
// Proxy-Authorization and Cookie, and any header whose name contains
// token, secret, password, api-key or apikey; case does not matter.
func Sensitive(name string) bool {
	if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization") ||
		strings.EqualFold(name, "Cookie") {
		return true
	}
	for _, w := range [...]string{"token", "secret", "password", "api-key", "apikey"} {
		if containsFold(name, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lowercase ASCII word w, in
// any case. Header names are short: this beats lowercasing, which allocates.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// Header returns the value to show for a header: Mask when it is sensitive.
func Header(name, value string) string {
	if Sensitive(name) {
		return Mask
	}
	return value
}

// Headers returns a copy of h with sensitive values masked; nil stays nil.
func Headers(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = Header(k, v)
	}
	return out
}

// URL returns raw with the password of its userinfo replaced by Mask; the
// user name and everything else stay as written. A user name without a
// password is masked whole, since services that take one secret in a URL
// often take it as the user name (https://<key>@host). A URL that does not
// parse is treated as if everything from its "//" to its last '@' were
// userinfo, so that a malformed URL cannot show a password either.
func URL(raw string) string {
	if !strings.Contains(raw, "@") { // no userinfo: the common case costs no parse
		return raw
	}
	start := strings.Index(raw, "//") + 2 // 1 when there is none: the userinfo starts at 0
	if start == 1 {
		start = 0
	}
	var end int // where the userinfo ends: its '@'
	userOnly := false
	if u, err := url.Parse(raw); err == nil {
		if u.User == nil {
			return raw
		}
		if p, ok := u.User.Password(); !ok {
			if u.User.Username() == "" {
				return raw
			}
			userOnly = true
		} else if p == "" {
			return raw
		}
		// As url.Parse reads it: the authority ends at the path, query or
		// fragment, the userinfo at the authority's last '@'.
		authority := raw[start:]
		if i := strings.IndexAny(authority, "/?#"); i >= 0 {
			authority = authority[:i]
		}
		end = start + strings.LastIndexByte(authority, '@')
	} else {
		end = strings.LastIndexByte(raw, '@')
		if end < start {
			return raw
		}
		// An '@' after a '/' is in the path, not the userinfo.
		userOnly = !strings.ContainsAny(raw[start:end], ":/?#")
	}
	if userOnly {
		return raw[:start] + Mask + raw[end:]
	}
	colon := strings.IndexByte(raw[start:end], ':')
	if colon < 0 {
		return raw
	}
	return raw[:start+colon+1] + Mask + raw[end:]
}

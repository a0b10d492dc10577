package redact

import (
	"maps"
	"net/url"
	"testing"
)

func TestSensitive(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"authorization", true},
		{"PROXY-AUTHORIZATION", true},
		{"Cookie", true},
		{"X-Auth-Token", true},
		{"token", true},
		{"X-Client-Secret", true},
		{"X-Password-Hash", true},
		{"X-API-KEY", true},
		{"X-Apikey", true},
		{"apikey", true},
		{"Content-Type", false},
		{"X-Tenant", false},
		{"webhook-signature", false},
		{"X-Postbode-Signature", false},
		{"Set-Cookie", false}, // only Cookie itself, as the rule says
		{"X-Api_Key", false},  // api_key is not one of the words
		{"X-Tok-En", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Sensitive(tt.name); got != tt.want {
			t.Errorf("Sensitive(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"Authorization", "Bearer abc", Mask},
		{"x-shop-token", "t0k3n", Mask},
		{"Cookie", "", Mask},
		{"X-Tenant", "acme", "acme"},
		{"webhook-signature", "v1,abc=", "v1,abc="},
	}
	for _, tt := range tests {
		if got := Header(tt.name, tt.value); got != tt.want {
			t.Errorf("Header(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{"nil stays nil", nil, nil},
		{"empty", map[string]string{}, map[string]string{}},
		{"mixed",
			map[string]string{"Authorization": "Basic dTpw", "X-Tenant": "acme", "X-Api-Key": "k"},
			map[string]string{"Authorization": Mask, "X-Tenant": "acme", "X-Api-Key": Mask}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := maps.Clone(tt.in)
			got := Headers(tt.in)
			if (got == nil) != (tt.want == nil) || !maps.Equal(got, tt.want) {
				t.Errorf("Headers(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if !maps.Equal(tt.in, orig) {
				t.Errorf("Headers changed its argument: %v, was %v", tt.in, orig)
			}
		})
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"no userinfo", "https://example.com/hook?a=b", "https://example.com/hook?a=b"},
		{"an @ in the path is not userinfo", "https://example.com/users/@me", "https://example.com/users/@me"},
		{"invalid, with a key as the user name", "http://sk_live_SECRET@host/%zz", "http://***@host/%zz"},
		{"user without password: it may be a key", "https://sk_live_123@example.com/hook", "https://***@example.com/hook"},
		{"empty password", "https://alice:@example.com/hook", "https://alice:@example.com/hook"},
		{"user and password", "https://alice:s3cret@example.com/hook", "https://alice:***@example.com/hook"},
		{"escaped password, port, query and fragment", "http://alice:p%40ss%2Fword@example.com:8080/h?x=1#f",
			"http://alice:***@example.com:8080/h?x=1#f"},
		{"an @ in the query after userinfo", "https://alice:pw@example.com/h?to=bob@example.com",
			"https://alice:***@example.com/h?to=bob@example.com"},
		{"scheme-relative", "//alice:pw@example.com/", "//alice:***@example.com/"},
		{"empty user", "https://:pw@example.com/", "https://:***@example.com/"},
		{"invalid: unescaped @ in the password", "https://alice:p@ss@example.com/", "https://alice:***@example.com/"},
		{"invalid: / in the password", "https://alice:pa/ss@example.com/", "https://alice:***@example.com/"},
		{"invalid: # in the password", "https://alice:pa#ss@example.com/", "https://alice:***@example.com/"},
		{"invalid: bad escape after userinfo", "https://alice:pw@example.com/%zz", "https://alice:***@example.com/%zz"},
		{"invalid: no scheme", "1alice:pw@example.com", "1alice:***@example.com"},
		{"invalid without a password", "https://example.com/%zz@x", "https://example.com/%zz@x"},
		{"not a URL", "no url at all", "no url at all"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.raw); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// FuzzURL: URL never panics, is idempotent, keeps a URL without a password
// as it is, and changes a URL with one only in its password.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"https://alice:s3cret@example.com/hook", "https://alice@example.com/",
		"https://example.com/@me", "//a:b@c", "https://a:p@ss@h/", "http://[::1]:80/x@y%zz", "x:y@z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := URL(raw)
		if again := URL(got); again != got {
			t.Fatalf("URL(%q) = %q, but URL(%q) = %q", raw, got, got, again)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if u.User != nil && u.User.Username() != "" {
			if _, ok := u.User.Password(); !ok {
				if g, err := url.Parse(got); err != nil || g.User == nil || g.User.Username() != Mask || g.Host != u.Host || g.Path != u.Path {
					t.Fatalf("URL(%q) = %q, want the user name masked and the rest kept", raw, got)
				}
				return
			}
		}
		if p, ok := u.User.Password(); !ok || p == "" {
			if got != raw {
				t.Fatalf("URL(%q) = %q, want it unchanged: it has no password", raw, got)
			}
			return
		}
		g, err := url.Parse(got)
		if err != nil {
			t.Fatalf("URL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if p, _ := g.User.Password(); p != Mask {
			t.Fatalf("URL(%q) = %q, whose password is %q", raw, got, p)
		}
		// Redacted writes both with the same stand-in for the password:
		// what remains must be equal.
		if u.Redacted() != g.Redacted() {
			t.Fatalf("URL(%q) = %q changed more than the password: %q, want %q", raw, got, g.Redacted(), u.Redacted())
		}
	})
}

package receiver

import (
	"testing"
)

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

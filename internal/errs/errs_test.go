package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrors(t *testing.T) {
	e := Invalidf("type", "must be %s", "lower case")
	if e.Error() != "type: must be lower case" || e.Kind != Invalid || e.Code != "invalid_field" {
		t.Errorf("Invalidf: %+v %q", e, e.Error())
	}
	p := Prefix("events[3]", e)
	if p.Error() != "events[3].type: must be lower case" || e.Field != "type" {
		t.Errorf("Prefix: %q, and the original's field is now %q", p.Error(), e.Field)
	}
	if nf := NotFoundf("subscription"); nf.Error() != "subscription not found" || KindOf(nf) != NotFound {
		t.Errorf("NotFoundf: %+v", nf)
	}
	wrapped := fmt.Errorf("context: %w", Conflictf("user_has_tokens", "remove them"))
	if KindOf(wrapped) != Conflict || KindOf(errors.New("boom")) != Internal {
		t.Errorf("KindOf")
	}
	if got := Prefix("events[0]", errors.New("boom")); got.Error() != "boom" {
		t.Errorf("Prefix of a plain error: %v", got)
	}
	cause := errors.New("dial tcp: refused")
	if su := StoreUnavailable(cause); !errors.Is(su, cause) || su.RetryAfter <= 0 || su.Kind != Unavailable {
		t.Errorf("StoreUnavailable: %+v", su)
	}
}

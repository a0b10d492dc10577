package servicetest

import (
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/errs"
)

// Want is the refusal a case expects: its kind, and the field it names
// (empty: any) and a part of its code (empty: any).
type Want struct {
	Kind  errs.Kind
	Field string
	Code  string
}

// Check fails t unless err is an *errs.Error matching w.
func Check(t testing.TB, what string, err error, w Want) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok {
		t.Errorf("%s: error %v (%T), want a service error of kind %d", what, err, err, w.Kind)
		return
	}
	if e.Kind != w.Kind || (w.Field != "" && e.Field != w.Field) || !strings.Contains(e.Code, w.Code) {
		t.Errorf("%s: %s (kind %d, field %q, code %q), want kind %d, field %q, code %q",
			what, e, e.Kind, e.Field, e.Code, w.Kind, w.Field, w.Code)
	}
}

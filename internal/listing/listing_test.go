package listing

import (
	"slices"
	"testing"

	"github.com/postbode/postbode/internal/errs"
)

func TestPage(t *testing.T) {
	tests := []struct {
		q    Query
		want int // the store page's limit, 0 for refused
	}{
		{Query{}, 11},
		{Query{Limit: "1"}, 2},
		{Query{Limit: "100"}, 101},
		{Query{Limit: "101"}, 0},
		{Query{Limit: "0"}, 0},
		{Query{Limit: "-1"}, 0},
		{Query{Limit: "1.5"}, 0},
		{Query{Limit: "x"}, 0},
		{Query{Limit: "99999999999999999999"}, 0},
		{Query{Cursor: "sub_1"}, 11},
		{Query{Cursor: "\xff"}, 0},
		{Query{Cursor: "a\x00"}, 0},
	}
	for _, tt := range tests {
		p, err := Page(tt.q, 10, 100)
		if tt.want == 0 {
			if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid {
				t.Errorf("Page(%+v) = %+v, %v; want invalid", tt.q, p, err)
			}
			continue
		}
		if err != nil || p.Limit != tt.want || p.Cursor != tt.q.Cursor {
			t.Errorf("Page(%+v) = %+v, %v; want limit %d", tt.q, p, err, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	key := func(s *string) string { return *s }
	p, _ := Page(Query{Limit: "2"}, 10, 100)
	if l := Cut([]string{"a", "b", "c"}, p, key); !slices.Equal(l.Data, []string{"a", "b"}) || l.NextCursor == nil || *l.NextCursor != "b" {
		t.Errorf("a full page: %+v", l)
	}
	if l := Cut([]string{"a", "b"}, p, key); len(l.Data) != 2 || l.NextCursor != nil {
		t.Errorf("the last page: %+v", l)
	}
	if l := Cut[string](nil, p, key); l.Data == nil || len(l.Data) != 0 || l.NextCursor != nil {
		t.Errorf("an empty page must hold [] (not null): %+v", l)
	}
}

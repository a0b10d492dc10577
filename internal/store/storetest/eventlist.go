package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// eventListTests: ListEvents pages newest first, filters, leaves out large
// data, and sees one workspace only.
func eventListTests() []test {
	return []test{
		{"NewestFirstFilteredAndPaged", func(t *testing.T, f *fixture) {
			var all []store.Event
			for i := range 7 {
				e := f.newEvent(at(time.Duration(i) * time.Minute))
				if i%2 == 1 {
					e.Type = "user.created"
				}
				if i < 3 {
					e.Subject = ptr("user/1")
				}
				all = append(all, e)
				f.insert(f.routed(e))
			}
			other := f.newWorkspace("Other", f.user.ID)
			e := f.newEvent(at(time.Hour))
			e.WorkspaceID = other
			f.insert(f.routed(e))

			ids := func(es []store.Event) []string {
				var out []string
				for _, e := range es {
					out = append(out, e.ID)
				}
				return out
			}
			want := func(keep func(i int, e store.Event) bool) []string {
				var out []string
				for i := len(all) - 1; i >= 0; i-- {
					if keep(i, all[i]) {
						out = append(out, all[i].ID)
					}
				}
				return out
			}
			cases := []struct {
				name string
				f    store.EventFilter
				keep func(i int, e store.Event) bool
			}{
				{"all", store.EventFilter{}, func(int, store.Event) bool { return true }},
				{"type", store.EventFilter{Type: "user.created"}, func(i int, _ store.Event) bool { return i%2 == 1 }},
				{"subject", store.EventFilter{Subject: "user/1"}, func(i int, _ store.Event) bool { return i < 3 }},
				{"since and until", store.EventFilter{Since: at(2 * time.Minute), Until: at(5 * time.Minute)},
					func(i int, _ store.Event) bool { return i >= 2 && i < 5 }},
				{"all filters", store.EventFilter{Type: "invoice.paid", Subject: "user/1", Since: at(time.Minute)},
					func(i int, _ store.Event) bool { return i == 2 }},
			}
			for _, c := range cases {
				var got []string
				cursor := ""
				for range 10 {
					page, err := f.s.ListEvents(f.ctx, f.ws, c.f, store.Page{Cursor: cursor, Limit: 2})
					f.must(err, "ListEvents")
					got = append(got, ids(page)...)
					if len(page) < 2 {
						break
					}
					cursor = page[len(page)-1].ID
				}
				if w := want(c.keep); !slices.Equal(got, w) {
					t.Errorf("%s: %v, want %v", c.name, got, w)
				}
			}
			page, err := f.s.ListEvents(f.ctx, f.ws, store.EventFilter{}, store.Page{Limit: 1})
			f.must(err, "ListEvents")
			wantSame(t, "listed event", &page[0], &all[len(all)-1])
		}},
		{"LargeDataLeftOut", func(t *testing.T, f *fixture) {
			small, big := f.newEvent(t0), f.newEvent(at(time.Second))
			small.Data = []byte(`"` + strings.Repeat("é", (store.ListBodyLimit-2)/2) + `"`)
			big.Data = []byte(`"` + strings.Repeat("a", store.ListBodyLimit) + `"`)
			f.insert(f.routed(small), f.routed(big))
			page, err := f.s.ListEvents(f.ctx, f.ws, store.EventFilter{}, store.Page{})
			f.must(err, "ListEvents")
			if len(page) != 2 || page[0].Data != nil || !page[0].DataTruncated ||
				string(page[1].Data) != string(small.Data) || page[1].DataTruncated {
				t.Errorf("listed %d events: big %d bytes (cut %v), small %d bytes (cut %v)", len(page),
					len(page[0].Data), page[0].DataTruncated, len(page[1].Data), page[1].DataTruncated)
			}
		}},
	}
}

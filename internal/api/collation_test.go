package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/config"
)

// TestEventTypeOrderIsTheSameOnBothEngines: event types are listed by
// name, and names hold '-', '.' and '_'. SQLite compares bytes; PostgreSQL
// compares with the database's collation, which is en_US.UTF-8 or an ICU
// locale on many installations (the official Docker image included), where
// punctuation sorts differently. Both engines must list in byte order.
// The PostgreSQL half only fails on such a database: point
// POSTBODE_TEST_DATABASE at one created with, e.g.,
// CREATE DATABASE x LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0.
func TestEventTypeOrderIsTheSameOnBothEngines(t *testing.T) {
	names := []string{"a-z", "a.b", "a_c", "ab", "a0", "aa", "_a", "-a", ".a", "0", "b"}
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t)
		for _, n := range names {
			srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/event-types", map[string]string{"name": n, "label": n}, http.StatusCreated, nil)
		}
		var page struct{ Data []struct{ Name string } }
		srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/event-types?limit=1000", nil, http.StatusOK, &page)
		var got []string
		for _, d := range page.Data {
			got = append(got, d.Name)
		}
		want := slices.Sorted(slices.Values(names))
		if !slices.Equal(got, want) {
			t.Errorf("event types listed as\n%q, want byte order\n%q", got, want)
		}
	})
}

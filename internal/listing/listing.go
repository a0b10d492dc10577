// Package listing pages lists the one way every service does: a cursor (the
// last key of the previous page) and a limit within the list's bounds, one
// extra item read to know whether another page follows.
package listing

import (
	"strconv"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/validate"
)

// Query is a page as a client asks for it, unparsed: the cursor and the
// limit as they came (empty when not given).
type Query struct {
	Cursor string
	Limit  string
}

// List is one page of a list.
type List[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"` // null on the last page
}

// Page checks q against a list's default and maximum size and returns the
// store page to read: one item more than the page.
func Page(q Query, def, maxLimit int) (store.Page, error) {
	if err := validate.ID("cursor", q.Cursor); err != nil {
		return store.Page{}, err
	}
	p := store.Page{Cursor: q.Cursor, Limit: def}
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > maxLimit {
			return p, errs.Invalidf("limit", "must be a whole number from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	p.Limit++
	return p, nil
}

// Cut makes the page from items read with p: the extra item is dropped and
// the cursor set from key.
func Cut[T any](items []T, p store.Page, key func(*T) string) List[T] {
	out := List[T]{Data: items}
	if out.Data == nil {
		out.Data = []T{}
	}
	if len(items) == p.Limit {
		out.Data = items[:p.Limit-1]
		c := key(&out.Data[len(out.Data)-1])
		out.NextCursor = &c
	}
	return out
}

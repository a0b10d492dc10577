// Pages of lists and the iterators that follow next_cursor across them.
package client

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// Page is one page of a list: Data, and NextCursor to pass as
// ListOptions.Cursor for the next page ("" on the last page).
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// ListOptions picks a page: Limit items (0: the list's default; most lists
// take 1 to 1,000, the attempt log and an inbound request log 1 to 100),
// after Cursor (a previous page's NextCursor; "" for the first page).
type ListOptions struct {
	Limit  int
	Cursor string
}

// values adds the page's parameters to q; the limit is named name (limit,
// or count for a mailbox search).
func (o ListOptions) values(q url.Values, name string) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if o.Limit > 0 {
		q.Set(name, strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// all iterates over every item of a list from opt's page on, fetching the
// next page as the loop reaches it. An error is yielded once, last.
func all[T any](ctx context.Context, opt ListOptions, fetch func(context.Context, ListOptions) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := fetch(ctx, opt)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, v := range p.Data {
				if !yield(v, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			if p.NextCursor == opt.Cursor {
				var zero T
				yield(zero, fmt.Errorf("postbode: the server answered the cursor %q with itself", p.NextCursor))
				return
			}
			opt.Cursor = p.NextCursor
		}
	}
}

// list fetches one page of a list at path.
func list[T any](ctx context.Context, c *Client, path string, q url.Values, limitName string, opt ListOptions) (*Page[T], error) {
	var p Page[T]
	err := c.do(ctx, &request{method: "GET", path: path, query: opt.values(q, limitName), idempotent: true}, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

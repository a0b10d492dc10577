package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// TestRelaxedTxRestoresFullSync: a delivery result's transaction commits
// with synchronous=NORMAL, and every write after it waits for the disk
// again, also when the transaction fails.
func TestRelaxedTxRestoresFullSync(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	sync := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		var n int
		if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const normal, full = 1, 2
	if n := sync(db.w); n != full {
		t.Fatalf("the writer starts at synchronous=%d, want FULL", n)
	}
	for _, fail := range []bool{false, true} {
		err := db.relaxedTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if n := sync(tx); n != normal {
				t.Errorf("inside: synchronous=%d, want NORMAL", n)
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Errorf("relaxedTx: %v", err)
		}
		if n := sync(db.w); n != full {
			t.Errorf("after a relaxed transaction (failing: %v): synchronous=%d, want FULL", fail, n)
		}
		err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if n := sync(tx); n != full {
				t.Errorf("an event's transaction after it: synchronous=%d, want FULL", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

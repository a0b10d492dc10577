package sqlite

import (
	"context"
	"testing"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/storetest"
)

func BenchmarkMailbox(b *testing.B) {
	storetest.BenchMailbox(b, func(b *testing.B) store.Store {
		db, err := Open(b.Context(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMailboxWorkspaceCascade(t *testing.T) {
	db, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	storetest.MailboxWorkspaceCascade(t, db, func(ctx context.Context, id string) error {
		_, err := db.w.ExecContext(ctx, `DELETE FROM workspaces WHERE id = ?`, id)
		return err
	})
}

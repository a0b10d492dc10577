package sqlite

import (
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

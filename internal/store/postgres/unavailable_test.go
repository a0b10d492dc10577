package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/store/postgres"
	"github.com/postbode/postbode/internal/store/postgres/pgtest"
)

// TestUnavailable puts a TCP proxy between the store and PostgreSQL and
// stops it: every method then fails with store.ErrUnavailable, a statement
// in flight included, and once the proxy is back the store works again.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	direct := pgtest.URL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	p := pgtest.StartProxy(t, u.Host)
	u.Host = p.Addr()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	ws := &store.Workspace{ID: "ws_1", Name: "w", CreatedAt: now}
	if err := db.CreateWorkspace(ctx, ws, ""); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}

	t.Run("LostMidStatement", func(t *testing.T) {
		// A read waits for a lock held over a direct connection; the
		// proxy stops while it waits.
		conn, err := pgx.Connect(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `LOCK TABLE workspaces IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := db.GetWorkspace(ctx, ws.ID)
			done <- err
		}()
		for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks
				WHERE relation = 'workspaces'::regclass AND NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
		}
		p.Stop()
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("GetWorkspace whose connection was lost: %v, want %v", err, store.ErrUnavailable)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("GetWorkspace did not return within 10s of its connection closing")
		}
	})

	t.Run("EveryMethodWhileDown", func(t *testing.T) {
		// Some calls find a pooled connection broken, the rest find no
		// connection can be made.
		p.Restart()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { db.Ping(ctx) })
		}
		wg.Wait()
		p.Stop()
		for _, m := range callable(db) {
			if err := m.call(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s while PostgreSQL is out of reach: %v, want %v", m.name, err, store.ErrUnavailable)
			}
		}
	})

	t.Run("BackAgain", func(t *testing.T) {
		p.Restart()
		// The pool drops connections it finds broken and makes new ones:
		// each call succeeds within a few tries, and fails meanwhile only
		// with ErrUnavailable.
		for what, call := range map[string]func() error{
			"Ping": func() error { return db.Ping(ctx) },
			"read": func() error { _, err := db.GetWorkspace(ctx, ws.ID); return err },
			"write": func() error {
				return db.CreateUser(ctx, &store.User{ID: "usr_1", Email: "a@example.com", CreatedAt: now})
			},
		} {
			var err error
			for try := 0; try < 20; try++ {
				if err = call(); err == nil || !errors.Is(err, store.ErrUnavailable) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("%s after the proxy came back: %v", what, err)
			}
		}
		// An error inside a reachable database is not ErrUnavailable.
		err := db.CreateWorkspace(ctx, ws, "")
		if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateWorkspace of a taken id: %v, want only %v", err, store.ErrConflict)
		}
	})
}

// method is one call of a store.Store method with made-up arguments.
type method struct {
	name string
	call func(ctx context.Context) error
}

// callable returns a call of every method of s that reaches the database
// and returns an error: all but Listen (which retries until its context
// ends) and Close. Arguments are made up by type; the database never sees
// them.
func callable(s store.Store) []method {
	skip := map[string]bool{"Listen": true, "Close": true}
	it := reflect.TypeFor[store.Store]()
	v := reflect.ValueOf(s)
	var out []method
	for i := range it.NumMethod() {
		m := it.Method(i)
		if skip[m.Name] {
			continue
		}
		out = append(out, method{m.Name, func(ctx context.Context) error {
			fn := v.MethodByName(m.Name)
			args := make([]reflect.Value, fn.Type().NumIn())
			for j := range args {
				args[j] = argument(ctx, fn.Type().In(j))
			}
			res := fn.Call(args)
			err, _ := res[len(res)-1].Interface().(error)
			return err
		}})
	}
	return out
}

// argument makes up an argument of type t.
func argument(ctx context.Context, t reflect.Type) reflect.Value {
	switch t {
	case reflect.TypeFor[context.Context]():
		return reflect.ValueOf(ctx)
	case reflect.TypeFor[string]():
		return reflect.ValueOf("x")
	case reflect.TypeFor[time.Time]():
		return reflect.ValueOf(time.Now())
	case reflect.TypeFor[store.Notification]():
		return reflect.ValueOf(store.Notification{UserID: "usr_x"})
	case reflect.TypeFor[store.MailboxClaim]():
		// A claim of nothing, or an acknowledgement of no known kind, is
		// answered without asking the database.
		return reflect.ValueOf(store.MailboxClaim{Count: 1})
	case reflect.TypeFor[store.MailboxAck]():
		return reflect.ValueOf(store.MailboxAck{Action: store.AckSuccess})
	case reflect.TypeFor[[]store.MailboxAck]():
		return reflect.ValueOf([]store.MailboxAck{{Action: store.AckSuccess}})
	}
	switch t.Kind() {
	case reflect.Pointer:
		return reflect.New(t.Elem())
	case reflect.Slice:
		return reflect.MakeSlice(t, 1, 1)
	case reflect.Map:
		// One entry, as a slice has one element: an empty batch may be
		// done without asking the database.
		m := reflect.MakeMap(t)
		m.SetMapIndex(reflect.Zero(t.Key()), reflect.Zero(t.Elem()))
		return m
	case reflect.Func:
		return reflect.MakeFunc(t, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, t.NumOut())
			for i := range out {
				out[i] = reflect.Zero(t.Out(i))
			}
			return out
		})
	}
	return reflect.Zero(t)
}

package inbound_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/workspace"
)

// countingStore counts the reads that a post to a webhook could make.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) TokenByHash(ctx context.Context, h string) (*store.Token, *store.User, error) {
	c.reads.Add(1)
	return c.Store.TokenByHash(ctx, h)
}

func (c *countingStore) InboundByID(ctx context.Context, id string) (*store.Inbound, error) {
	c.reads.Add(1)
	return c.Store.InboundByID(ctx, id)
}

func (c *countingStore) GetWorkspace(ctx context.Context, id string) (*store.Workspace, error) {
	c.reads.Add(1)
	return c.Store.GetWorkspace(ctx, id)
}

func (c *countingStore) IsMember(ctx context.Context, ws, user string) (bool, error) {
	c.reads.Add(1)
	return c.Store.IsMember(ctx, ws, user)
}

// TestKnownTokenReadsNothing: a busy webhook, posted to with a known app
// token, costs no database read per request (the token, the webhook and
// the workspace are cached; an admin's access needs no lookup).
func TestKnownTokenReadsNothing(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		cs := &countingStore{Store: st}
		clock := servicetest.NewClock()
		wss := workspace.New(cs, clock.Now)
		authn := auth.NewAuthenticator(cs, &announcer{}, clock.Now, 0)
		svc := inbound.New(inbound.Options{Store: cs, Workspaces: wss, Auth: authn, Events: &publisher{keys: map[string]string{}}, Now: clock.Now})
		admin := servicetest.User(t, st, store.RoleAdmin, "admin@example.com")
		w, err := wss.Create(ctx, admin, "Main")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wss.CreateEventType(ctx, admin, w.ID, workspace.EventTypeInput{Name: "a", Label: "A"}); err != nil {
			t.Fatal(err)
		}
		c, err := svc.Create(ctx, admin, w.ID, &inbound.Input{Name: str("x"), EventType: str("a")})
		if err != nil {
			t.Fatal(err)
		}
		post := func() {
			hook, p, err := svc.Authenticate(ctx, c.ID, inbound.Credential{Token: c.Token})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Receive(ctx, hook, p, nil, []byte(`{}`), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		post()
		before := cs.reads.Load()
		for range 100 {
			post()
		}
		if n := cs.reads.Load() - before; n != 0 {
			t.Errorf("100 posts with a known token read the store %d times, want 0", n)
		}
		// A change on this node is seen at once.
		if _, err := svc.Disable(ctx, admin, w.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Authenticate(ctx, c.ID, inbound.Credential{Token: c.Token}); err == nil {
			t.Errorf("a disabled webhook still accepts posts from the cache")
		}
	})
}

package inbound_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/workspace"
)

// announcer records the users whose credentials changed.
type announcer struct {
	mu    sync.Mutex
	users []string
}

func (a *announcer) Announce(_ context.Context, n store.Notification) error {
	a.mu.Lock()
	a.users = append(a.users, n.UserID)
	a.mu.Unlock()
	return nil
}

// publisher records publishes, answering a duplicate for a key seen.
type publisher struct {
	mu   sync.Mutex
	got  []event.Input
	keys map[string]string
}

func (p *publisher) Publish(_ context.Context, pr *auth.Principal, ws string, in event.Input, key string) (event.Published, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.keys[key]; ok && key != "" {
		return event.Published{ID: id, Type: in.Type, Duplicate: true}, nil
	}
	p.got = append(p.got, in)
	out := event.Published{ID: id.New(id.Event), Type: in.Type}
	if key != "" {
		p.keys[key] = out.ID
	}
	return out, nil
}

type env struct {
	ctx    context.Context
	st     store.Store
	svc    *inbound.Service
	ann    *announcer
	pub    *publisher
	clock  *servicetest.Clock
	admin  *auth.Principal
	member *auth.Principal // a member of ws
	other  *auth.Principal // a member of ws2 only
	ws     string
	ws2    string
}

func newEnv(t *testing.T, st store.Store) *env {
	ctx := context.Background()
	clock := servicetest.NewClock()
	wss := workspace.New(st, clock.Now)
	ann := &announcer{}
	pub := &publisher{keys: map[string]string{}}
	authn := auth.NewAuthenticator(st, ann, clock.Now, 24*time.Hour)
	u := id.New("") // the subtests share a store

	e := &env{ctx: ctx, st: st, ann: ann, pub: pub, clock: clock,
		admin:  servicetest.User(t, st, store.RoleAdmin, u+"admin@example.com"),
		member: servicetest.User(t, st, store.RoleMember, u+"member@example.com"),
		other:  servicetest.User(t, st, store.RoleMember, u+"other@example.com"),
		svc: inbound.New(inbound.Options{Store: st, Workspaces: wss, Auth: authn, Events: pub,
			PublicURL: "https://hooks.example.com/", InactiveAfter: 24 * time.Hour, Now: clock.Now})}
	w, err := wss.Create(ctx, e.member, "Main")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	w2, err := wss.Create(ctx, e.other, "Other")
	if err != nil {
		t.Fatal(err)
	}
	e.ws2 = w2.ID
	for _, ws := range []string{e.ws, e.ws2} {
		for _, et := range []string{"lead.created", "lead.changed"} {
			if _, err := wss.CreateEventType(ctx, e.admin, ws, workspace.EventTypeInput{Name: et, Label: et}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

func str(s string) *string { return &s }

func TestService(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		t.Run("create", func(t *testing.T) { testCreate(t, newEnv(t, st)) })
		t.Run("change", func(t *testing.T) { testChange(t, newEnv(t, st)) })
		t.Run("isolation", func(t *testing.T) { testIsolation(t, newEnv(t, st)) })
		t.Run("token", func(t *testing.T) { testToken(t, newEnv(t, st)) })
		t.Run("receive", func(t *testing.T) { testReceive(t, newEnv(t, st)) })
		t.Run("log", func(t *testing.T) { testLog(t, newEnv(t, st)) })
	})
}

func testCreate(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str(" CRM "), Auth: str("basic"), EventType: str("lead.created"),
		Verify: json.RawMessage(`{"scheme":"github","secret":"s3cret"}`), DedupeHeader: str("X-GitHub-Delivery")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, id.Inbound) || c.Name != "CRM" || c.Auth != "basic" || c.Username == "" ||
		c.URL != "https://hooks.example.com/in/"+c.ID || c.Status != store.InboundActive || !strings.HasPrefix(c.Token, "pba_") {
		t.Fatalf("created %+v", c)
	}
	if c.Verify == nil || c.Verify.Secret != "***" || c.Verify.Scheme != "github" {
		t.Errorf("verify shown as %+v, want masked", c.Verify)
	}
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("the answer shows the verify secret: %s", b)
	}
	// The token is an app token of the creator, for this webhook.
	p, err := auth.NewAuthenticator(e.st, e.ann, e.clock.Now, 0).Token(e.ctx, c.Token)
	if err != nil || p.Token.Kind != store.TokenApp || p.Token.ResourceID != c.ID || p.User.ID != e.member.User.ID {
		t.Fatalf("token: %+v %v", p, err)
	}
	// Bearer by default, without a username.
	c2, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("x"), EventType: str("lead.created")})
	if err != nil || c2.Auth != "bearer" || c2.Username != "" || c2.Verify != nil {
		t.Fatalf("default create: %+v %v", c2, err)
	}
	for name, c := range map[string]struct {
		in   inbound.Input
		want servicetest.Want
	}{
		"name_missing":        {inbound.Input{EventType: str("lead.created")}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
		"name_blank":          {inbound.Input{Name: str(" "), EventType: str("lead.created")}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
		"name_nul":            {inbound.Input{Name: str("a\x00"), EventType: str("lead.created")}, servicetest.Want{Kind: errs.Invalid, Field: "name"}},
		"event_type_missing":  {inbound.Input{Name: str("x")}, servicetest.Want{Kind: errs.Invalid, Field: "event_type"}},
		"event_type_unknown":  {inbound.Input{Name: str("x"), EventType: str("nope")}, servicetest.Want{Kind: errs.Invalid, Field: "event_type", Code: "unknown_event_type"}},
		"event_type_invalid":  {inbound.Input{Name: str("x"), EventType: str("A B")}, servicetest.Want{Kind: errs.Invalid, Field: "event_type"}},
		"auth_unknown":        {inbound.Input{Name: str("x"), EventType: str("lead.created"), Auth: str("digest")}, servicetest.Want{Kind: errs.Invalid, Field: "auth"}},
		"verify_scheme":       {inbound.Input{Name: str("x"), EventType: str("lead.created"), Verify: json.RawMessage(`{"scheme":"md5","secret":"x"}`)}, servicetest.Want{Kind: errs.Invalid, Field: "verify.scheme"}},
		"verify_masked":       {inbound.Input{Name: str("x"), EventType: str("lead.created"), Verify: json.RawMessage(`{"scheme":"github","secret":"***"}`)}, servicetest.Want{Kind: errs.Invalid, Field: "verify.secret"}},
		"dedupe_invalid":      {inbound.Input{Name: str("x"), EventType: str("lead.created"), DedupeHeader: str("X Id")}, servicetest.Want{Kind: errs.Invalid, Field: "dedupe_header"}},
		"dedupe_sensitive":    {inbound.Input{Name: str("x"), EventType: str("lead.created"), DedupeHeader: str("Authorization")}, servicetest.Want{Kind: errs.Invalid, Field: "dedupe_header"}},
		"other_workspace":     {inbound.Input{Name: str("x"), EventType: str("lead.created")}, servicetest.Want{Kind: errs.NotFound}},
		"event_type_reserved": {inbound.Input{Name: str("x"), EventType: str("webhook.test")}, servicetest.Want{Kind: errs.Invalid, Field: "event_type"}},
	} {
		ws := e.ws
		if name == "other_workspace" {
			ws = e.ws2
		}
		_, err := e.svc.Create(e.ctx, e.member, ws, &c.in)
		servicetest.Check(t, name, err, c.want)
	}
}

func testChange(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("x"), EventType: str("lead.created"),
		Verify: json.RawMessage(`{"scheme":"hmac","header":"Dastra-Signature","secret":"k1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// The masked secret sent back keeps the stored one.
	v, err := e.svc.Update(e.ctx, e.member, e.ws, c.ID, &inbound.Input{Name: str("renamed"), EventType: str("lead.changed"),
		Verify: json.RawMessage(`{"scheme":"hmac","header":"Dastra-Signature","encoding":"base64","secret":"***"}`), DedupeHeader: str("webhook-id")})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "renamed" || v.EventType != "lead.changed" || v.DedupeHeader != "webhook-id" || v.Verify.Encoding != "base64" || v.Verify.Secret != "***" {
		t.Fatalf("updated %+v %+v", v, v.Verify)
	}
	stored, _ := e.st.GetInbound(e.ctx, e.ws, c.ID)
	if !strings.Contains(string(stored.Verify), `"k1"`) {
		t.Errorf("the stored secret is %s, want k1 kept", stored.Verify)
	}
	for name, c2 := range map[string]struct {
		in   inbound.Input
		want servicetest.Want
	}{
		"auth":            {inbound.Input{Auth: str("basic")}, servicetest.Want{Kind: errs.Invalid, Field: "auth"}},
		"event_type":      {inbound.Input{EventType: str("nope")}, servicetest.Want{Kind: errs.Invalid, Field: "event_type"}},
		"masked_new_kind": {inbound.Input{Verify: json.RawMessage(`{"scheme":"github","secret":"***"}`)}, servicetest.Want{Kind: errs.Invalid, Field: "verify.secret"}},
	} {
		_, err := e.svc.Update(e.ctx, e.member, e.ws, c.ID, &c2.in)
		servicetest.Check(t, name, err, c2.want)
	}
	// null removes the check; "" the dedupe header.
	v, err = e.svc.Update(e.ctx, e.member, e.ws, c.ID, &inbound.Input{Verify: json.RawMessage(`null`), DedupeHeader: str("")})
	if err != nil || v.Verify != nil || v.DedupeHeader != "" {
		t.Fatalf("cleared: %+v %v", v, err)
	}
	v, err = e.svc.Disable(e.ctx, e.member, e.ws, c.ID)
	if err != nil || v.Status != store.InboundDisabled {
		t.Fatalf("disable: %+v %v", v, err)
	}
	v, err = e.svc.Enable(e.ctx, e.member, e.ws, c.ID)
	if err != nil || v.Status != store.InboundActive {
		t.Fatalf("enable: %+v %v", v, err)
	}
	l, err := e.svc.List(e.ctx, e.member, e.ws, listing.Query{})
	if err != nil || len(l.Data) != 1 || l.Data[0].ID != c.ID {
		t.Fatalf("list: %+v %v", l, err)
	}
	if err := e.svc.Delete(e.ctx, e.member, e.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Get(e.ctx, e.member, e.ws, c.ID)
	servicetest.Check(t, "get deleted", err, servicetest.Want{Kind: errs.NotFound})
	if !contains(e.ann.users, e.member.User.ID) {
		t.Errorf("deleting did not tell the authenticator about the token's owner: %v", e.ann.users)
	}
	if _, _, err := e.st.TokenByHash(e.ctx, auth.HashToken(c.Token)); err == nil {
		t.Errorf("the app token outlived its webhook")
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func testIsolation(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.other, e.ws2, &inbound.Input{Name: str("x"), EventType: str("lead.created")})
	if err != nil {
		t.Fatal(err)
	}
	p := e.member
	notFound := servicetest.Want{Kind: errs.NotFound}
	for _, ws := range []string{e.ws2, e.ws} {
		_, err = e.svc.Get(e.ctx, p, ws, c.ID)
		servicetest.Check(t, "get", err, notFound)
		_, err = e.svc.Update(e.ctx, p, ws, c.ID, &inbound.Input{Name: str("y")})
		servicetest.Check(t, "update", err, notFound)
		servicetest.Check(t, "delete", e.svc.Delete(e.ctx, p, ws, c.ID), notFound)
		_, err = e.svc.Enable(e.ctx, p, ws, c.ID)
		servicetest.Check(t, "enable", err, notFound)
		_, err = e.svc.Disable(e.ctx, p, ws, c.ID)
		servicetest.Check(t, "disable", err, notFound)
		_, err = e.svc.NewToken(e.ctx, p, ws, c.ID, "")
		servicetest.Check(t, "token", err, notFound)
		_, err = e.svc.Requests(e.ctx, p, ws, c.ID, listing.Query{})
		servicetest.Check(t, "requests", err, notFound)
	}
	_, err = e.svc.List(e.ctx, p, e.ws2, listing.Query{})
	servicetest.Check(t, "list", err, notFound)
	l, err := e.svc.List(e.ctx, p, e.ws, listing.Query{})
	if err != nil || len(l.Data) != 0 {
		t.Fatalf("own list shows %+v %v", l, err)
	}
	// Its integration token is not accepted on another workspace's webhook.
	_, _, err = e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: tokenOf(t, e, p)})
	servicetest.Check(t, "receive", err, servicetest.Want{Kind: errs.Unauthenticated, Code: "unauthenticated"})
}

// tokenOf gives p an integration token and returns its secret.
func tokenOf(t *testing.T, e *env, p *auth.Principal) string {
	secret := auth.NewToken(store.TokenIntegration)
	if err := e.st.CreateToken(e.ctx, &store.Token{ID: id.New(id.Token), UserID: p.User.ID, Kind: store.TokenIntegration,
		Name: "it", Hash: auth.HashToken(secret), CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return secret
}

func testToken(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("x"), EventType: str("lead.created")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: c.Token}); err != nil {
		t.Fatal(err)
	}
	// An admin gives it to the admin (who may use every workspace).
	n, err := e.svc.NewToken(e.ctx, e.admin, e.ws, c.ID, e.admin.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.Token == c.Token || !strings.HasPrefix(n.Token, "pba_") {
		t.Fatalf("new token %q", n.Token)
	}
	_, _, err = e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: c.Token})
	servicetest.Check(t, "old token", err, servicetest.Want{Kind: errs.Unauthenticated})
	if _, p, err := e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: n.Token}); err != nil || p.User.ID != e.admin.User.ID {
		t.Fatalf("new token: %v", err)
	}
	if !contains(e.ann.users, e.member.User.ID) || !contains(e.ann.users, e.admin.User.ID) {
		t.Errorf("told the authenticator about %v, want the old and the new owner", e.ann.users)
	}
	for name, c2 := range map[string]struct {
		p    *auth.Principal
		user string
		want servicetest.Want
	}{
		"member_names_another": {e.member, e.admin.User.ID, servicetest.Want{Kind: errs.Invalid, Field: "user_id"}},
		"unknown_user":         {e.admin, id.New(id.User), servicetest.Want{Kind: errs.Invalid, Field: "user_id"}},
		"garbage_user":         {e.admin, "x\x00", servicetest.Want{Kind: errs.Invalid, Field: "user_id"}},
		"user_without_access":  {e.admin, e.other.User.ID, servicetest.Want{Kind: errs.Invalid, Field: "user_id"}},
	} {
		_, err := e.svc.NewToken(e.ctx, c2.p, e.ws, c.ID, c2.user)
		servicetest.Check(t, name, err, c2.want)
	}
	// An inactive user cannot be given the token.
	old := e.clock.T.Add(-48 * time.Hour)
	u := &store.User{ID: id.New(id.User), Email: id.New("") + "old@example.com", Name: "Old", Role: store.RoleAdmin, Status: store.UserInactive, CreatedAt: old}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.NewToken(e.ctx, e.admin, e.ws, c.ID, u.ID)
	servicetest.Check(t, "inactive", err, servicetest.Want{Kind: errs.Invalid, Field: "user_id", Code: "user_inactive"})
	// The member names itself (the default): fine.
	if _, err := e.svc.NewToken(e.ctx, e.member, e.ws, c.ID, ""); err != nil {
		t.Fatal(err)
	}
}

func testReceive(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("x"), Auth: str("basic"), EventType: str("lead.created"),
		Verify: json.RawMessage(`{"scheme":"github","secret":"k"}`), DedupeHeader: str("X-GitHub-Delivery")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("y"), EventType: str("lead.created")})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := e.svc.Create(e.ctx, e.other, e.ws2, &inbound.Input{Name: str("z"), EventType: str("lead.created")})
	if err != nil {
		t.Fatal(err)
	}
	memberToken := tokenOf(t, e, e.member)
	adminToken := tokenOf(t, e, e.admin)
	unauth := servicetest.Want{Kind: errs.Unauthenticated, Code: "unauthenticated"}
	for name, cr := range map[string]struct {
		hook string
		cred inbound.Credential
		want servicetest.Want
	}{
		"none":                 {c.ID, inbound.Credential{}, unauth},
		"wrong":                {c.ID, inbound.Credential{Token: "pba_nope"}, unauth},
		"another_webhooks":     {c.ID, inbound.Credential{Token: other.Token}, unauth},
		"foreign_app_token":    {c.ID, inbound.Credential{Token: foreign.Token}, unauth},
		"basic_wrong_username": {c.ID, inbound.Credential{Basic: true, Username: "someone", Token: c.Token}, unauth},
		"basic_on_bearer_hook": {other.ID, inbound.Credential{Basic: true, Username: other.ID, Token: other.Token}, unauth},
		"member_no_access":     {foreign.ID, inbound.Credential{Token: memberToken}, unauth},
		"unknown_id_bad_token": {id.New(id.Inbound), inbound.Credential{Token: "nope"}, unauth},
		"unknown_id_app_token": {id.New(id.Inbound), inbound.Credential{Token: c.Token}, unauth},
		"unknown_id_member":    {id.New(id.Inbound), inbound.Credential{Token: memberToken}, unauth},
		"unknown_id_admin":     {id.New(id.Inbound), inbound.Credential{Token: adminToken}, servicetest.Want{Kind: errs.NotFound}},
		"garbage_id_admin":     {"x\x00y", inbound.Credential{Token: adminToken}, servicetest.Want{Kind: errs.NotFound}},
	} {
		_, _, err := e.svc.Authenticate(e.ctx, cr.hook, cr.cred)
		servicetest.Check(t, name, err, cr.want)
	}
	// Accepted: its own app token (bearer or basic), an integration token
	// of a member or an admin.
	for name, cred := range map[string]inbound.Credential{
		"app_bearer": {Token: c.Token}, "app_basic": {Basic: true, Username: c.Username, Token: c.Token},
		"member": {Token: memberToken}, "admin": {Token: adminToken},
	} {
		if _, _, err := e.svc.Authenticate(e.ctx, c.ID, cred); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	hook, p, err := e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: c.Token})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"lead":1}`)
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write(body)
	h := http.Header{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))}, "X-Github-Delivery": {"d1"}}
	first, err := e.svc.Receive(e.ctx, hook, p, h, body, body)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Receive(e.ctx, hook, p, h, body, body)
	if err != nil || again.ID != first.ID || len(e.pub.got) != 1 || e.pub.got[0].Type != "lead.created" {
		t.Fatalf("dedupe: %+v %+v %v (published %d)", first, again, err, len(e.pub.got))
	}
	h.Set("X-Hub-Signature-256", "sha256=00")
	_, err = e.svc.Receive(e.ctx, hook, p, h, body, body)
	servicetest.Check(t, "signature", err, servicetest.Want{Kind: errs.Unauthenticated, Code: "invalid_signature"})
	h.Del("X-Hub-Signature-256")
	_, err = e.svc.Receive(e.ctx, hook, p, h, body, body)
	servicetest.Check(t, "no signature", err, servicetest.Want{Kind: errs.Unauthenticated, Code: "invalid_signature"})

	// Disabled: 403, but only to an accepted credential.
	if _, err := e.svc.Disable(e.ctx, e.member, e.ws, c.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: c.Token})
	servicetest.Check(t, "disabled", err, servicetest.Want{Kind: errs.Forbidden, Code: inbound.CodeDisabled})
	_, _, err = e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: "nope"})
	servicetest.Check(t, "disabled, bad token", err, unauth)

	// An inactive owner's token fails.
	old := e.clock.T.Add(-48 * time.Hour)
	u := &store.User{ID: id.New(id.User), Email: id.New("") + "old@example.com", Name: "Old", Role: store.RoleAdmin, Status: store.UserInactive, CreatedAt: old}
	if err := e.st.CreateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.Authenticate(e.ctx, other.ID, inbound.Credential{Token: tokenOf(t, e, &auth.Principal{User: u})})
	servicetest.Check(t, "inactive owner", err, unauth)
}

func testLog(t *testing.T, e *env) {
	c, err := e.svc.Create(e.ctx, e.member, e.ws, &inbound.Input{Name: str("x"), EventType: str("lead.created")})
	if err != nil {
		t.Fatal(err)
	}
	hook, _, err := e.svc.Authenticate(e.ctx, c.ID, inbound.Credential{Token: c.Token})
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte(strings.Repeat("é", 3000)), 0xff, 0)
	for i := range 105 {
		e.svc.Record(hook, inbound.Entry{ReceivedAt: e.clock.Now(), Status: 202 + i%2, Method: "POST", RemoteAddr: "192.0.2.1",
			Header: http.Header{"Authorization": {"Bearer " + c.Token}, "X-Api-Key": {"k"}, "Webhook-Signature": {"v1,abc"}, "X-Bad": {"a\xffb"}},
			Body:   big, EventID: "evt_1"})
	}
	e.svc.Record(nil, inbound.Entry{Status: 404})
	if err := e.svc.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	l, err := e.svc.Requests(e.ctx, e.member, e.ws, c.ID, listing.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Data) != inbound.KeepRequests || l.NextCursor != nil {
		t.Fatalf("log holds %d (next %v), want the last %d", len(l.Data), l.NextCursor, inbound.KeepRequests)
	}
	r := l.Data[0]
	if r.Status != 202+104%2 || *r.EventID != "evt_1" || r.RemoteAddr != "192.0.2.1" || r.Request.Method != "POST" {
		t.Errorf("entry %+v", r)
	}
	if r.Request.Headers["Authorization"] != "***" || r.Request.Headers["X-Api-Key"] != "***" ||
		r.Request.Headers["Webhook-Signature"] != "v1,abc" || r.Request.Headers["X-Bad"] != "a\uFFFDb" {
		t.Errorf("headers %v", r.Request.Headers)
	}
	if !r.Request.BodyTruncated || len(r.Request.Body) > 4096+3 || strings.ContainsRune(r.Request.Body, 0) {
		t.Errorf("body of %d bytes, truncated %v", len(r.Request.Body), r.Request.BodyTruncated)
	}
	l2, err := e.svc.Requests(e.ctx, e.member, e.ws, c.ID, listing.Query{Limit: "10"})
	if err != nil || len(l2.Data) != 10 || l2.NextCursor == nil || l2.Data[0].ID != l.Data[0].ID {
		t.Fatalf("page of 10: %d %v", len(l2.Data), err)
	}
	l3, err := e.svc.Requests(e.ctx, e.member, e.ws, c.ID, listing.Query{Limit: "10", Cursor: *l2.NextCursor})
	if err != nil || len(l3.Data) != 10 || l3.Data[0].ID != l.Data[10].ID {
		t.Fatalf("next page: %v", err)
	}
	_, err = e.svc.Requests(e.ctx, e.member, e.ws, c.ID, listing.Query{Limit: "101"})
	servicetest.Check(t, "limit", err, servicetest.Want{Kind: errs.Invalid, Field: "limit"})
}

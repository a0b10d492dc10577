package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

// hook is an inbound webhook as created.
type hook struct {
	ID           string          `json:"id"`
	URL          string          `json:"url"`
	Auth         string          `json:"auth"`
	Username     string          `json:"username"`
	Token        string          `json:"token"`
	Status       string          `json:"status"`
	EventType    string          `json:"event_type"`
	DedupeHeader string          `json:"dedupe_header"`
	Verify       json.RawMessage `json:"verify"`
}

func createHook(t *testing.T, srv *apptest.Server, ws string, fields map[string]any) hook {
	t.Helper()
	body := map[string]any{"name": "crm", "auth": "bearer", "event_type": "lead.created"}
	for k, v := range fields {
		body[k] = v
	}
	var h hook
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/inbound", body, http.StatusCreated, &h)
	if !strings.HasPrefix(h.ID, id.Inbound) || !strings.HasPrefix(h.Token, "pba_") || h.URL != "/in/"+h.ID {
		t.Fatalf("created inbound webhook %+v", h)
	}
	return h
}

// source is the last byte of the loopback address a request is sent
// from: each one is its own client for brute-force limiting.
var nextSource atomic.Int32

func newSource() int { return int(nextSource.Add(1))%250 + 2 }

var clients sync.Map // source → *http.Client

func clientFrom(source int) *http.Client {
	if c, ok := clients.Load(source); ok {
		return c.(*http.Client)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(source))}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	clients.Store(source, c)
	return c
}

type inReq struct {
	method string // POST unless set
	path   string // /in/<hook id> unless set
	header map[string]string
	body   string
	source int // 0: a fresh source address
}

type inResp struct {
	status int
	header http.Header
	body   []byte
}

func (r inResp) eventID(t *testing.T) string {
	t.Helper()
	var out struct{ ID string }
	if err := json.Unmarshal(r.body, &out); err != nil || !strings.HasPrefix(out.ID, id.Event) {
		t.Fatalf("answer %d %s: want {\"id\":\"evt_…\"}", r.status, r.body)
	}
	return out.ID
}

func postIn(t *testing.T, srv *apptest.Server, hookID string, q inReq) inResp {
	t.Helper()
	if q.method == "" {
		q.method = "POST"
	}
	if q.path == "" {
		q.path = "/in/" + hookID
	}
	if q.source == 0 {
		q.source = newSource()
	}
	req, err := http.NewRequest(q.method, srv.URL+q.path, strings.NewReader(q.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range q.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := clientFrom(q.source).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return inResp{resp.StatusCode, resp.Header, b}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// newUser makes a user through the API, a member of workspaces, with an
// integration token; it returns the user's id and token.
func newUser(t *testing.T, srv *apptest.Server, role string, workspaces ...string) (string, string) {
	t.Helper()
	var u struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": id.New("") + "@example.com", "name": "U", "role": role,
		"workspaces": append([]string{}, workspaces...)}, http.StatusCreated, &u)
	var tok struct {
		ID    string
		Token string
	}
	srv.JSON(t, "POST", "/api/v1/users/"+u.ID+"/tokens", map[string]string{"name": "it"}, http.StatusCreated, &tok)
	return u.ID, tok.Token
}

// TestInboundPublishesAndDelivers: a request to /in/{id} becomes an event
// of the webhook's type, routed to a push subscription like any other.
func TestInboundPublishesAndDelivers(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws := srv.Workspace(t, "lead.created")
		rc := apptest.NewReceiver(t, nil)
		createSubscription(t, srv, ws, rc.URL+"/hook", nil)
		h := createHook(t, srv, ws, nil)

		r := postIn(t, srv, h.ID, inReq{header: bearer(h.Token), body: `{"lead":{"id":42,"name":"Ada"}}`})
		if r.status != http.StatusAccepted {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		evt := r.eventID(t)
		got := rc.Wait(t, 1, 5*time.Second)
		env := envelopeOf(t, got[0].Body)
		if string(env["id"]) != `"`+evt+`"` || string(env["type"]) != `"lead.created"` ||
			string(env["data"]) != `{"lead":{"id":42,"name":"Ada"}}` {
			t.Errorf("delivered %s", got[0].Body)
		}

		// A form becomes an object of its fields.
		r = postIn(t, srv, h.ID, inReq{header: map[string]string{"Authorization": "Bearer " + h.Token,
			"Content-Type": "application/x-www-form-urlencoded"}, body: "name=Ada+L&tag=a&tag=b&empty="})
		if r.status != http.StatusAccepted {
			t.Fatalf("form: status %d: %s", r.status, r.body)
		}
		ev := srv.Event(t, ws, r.eventID(t))
		var data map[string]any
		json.Unmarshal(ev.Data, &data)
		if fmt.Sprint(data) != "map[empty: name:Ada L tag:[a b]]" {
			t.Errorf("form data %s", ev.Data)
		}

		// Basic auth: the webhook's username and its token as password.
		b := createHook(t, srv, ws, map[string]any{"auth": "basic"})
		if b.Username == "" {
			t.Fatalf("basic webhook without a username: %+v", b)
		}
		r = postIn(t, srv, b.ID, inReq{header: map[string]string{"Authorization": basicAuth(b.Username, b.Token)}, body: `[1,2]`})
		if r.status != http.StatusAccepted {
			t.Fatalf("basic: status %d: %s", r.status, r.body)
		}
		rc.Wait(t, 3, 5*time.Second)

		// The log: accepted and refused, credentials masked, newest first.
		postIn(t, srv, h.ID, inReq{header: bearer("wrong"), body: `{"x":1}`})
		if err := srv.App.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var log struct {
			Data []struct {
				Status     int     `json:"status"`
				Error      string  `json:"error"`
				EventID    *string `json:"event_id"`
				RemoteAddr string  `json:"remote_addr"`
				Request    struct {
					Method  string            `json:"method"`
					Headers map[string]string `json:"headers"`
					Body    string            `json:"body"`
				} `json:"request"`
			} `json:"data"`
		}
		srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID+"/requests", nil, http.StatusOK, &log)
		if len(log.Data) != 3 {
			t.Fatalf("log holds %d requests, want 3", len(log.Data))
		}
		refused, first := log.Data[0], log.Data[2]
		if refused.Status != 401 || refused.EventID != nil || refused.Error == "" || refused.Request.Headers["Authorization"] != "***" {
			t.Errorf("refused request logged as %+v", refused)
		}
		if first.Status != 202 || first.EventID == nil || *first.EventID != evt || first.Request.Method != "POST" ||
			!strings.HasPrefix(first.RemoteAddr, "127.0.0.") || first.Request.Body != `{"lead":{"id":42,"name":"Ada"}}` ||
			first.Request.Headers["Authorization"] != "***" {
			t.Errorf("accepted request logged as %+v", first)
		}
		raw, _ := json.Marshal(log)
		if strings.Contains(string(raw), h.Token) {
			t.Errorf("the log shows the token")
		}
	})
}

// TestInboundBadInput sends every kind of bad request to /in/{id} and
// requires the exact status and error code, and that none of them made an
// event.
func TestInboundBadInput(t *testing.T) {
	apptest.Engines(t, testInboundBadInput)
}

func testInboundBadInput(t *testing.T, engine func(*config.Config)) {
	srv := apptest.Start(t, engine)
	ctx := context.Background()
	st := srv.App.Store
	ws := srv.Workspace(t, "lead.created")
	ws2 := srv.Workspace(t, "lead.created")
	h := createHook(t, srv, ws, map[string]any{"dedupe_header": "X-Delivery"})
	other := createHook(t, srv, ws, nil)
	foreign := createHook(t, srv, ws2, nil)
	basicHook := createHook(t, srv, ws, map[string]any{"auth": "basic"})
	disabled := createHook(t, srv, ws, nil)
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/inbound/"+disabled.ID+"/disable", nil, http.StatusOK, nil)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	signed := createHook(t, srv, ws, map[string]any{"verify": map[string]string{"scheme": "standard", "secret": secret},
		"dedupe_header": "webhook-id"})

	_, revoked := newUser(t, srv, "admin")
	var toks struct{ Data []struct{ ID, Kind string } }
	_, admin, err := st.TokenByHash(ctx, auth.HashToken(revoked))
	if err != nil {
		t.Fatal(err)
	}
	srv.JSON(t, "GET", "/api/v1/users/"+admin.ID+"/tokens", nil, http.StatusOK, &toks)
	srv.JSON(t, "DELETE", "/api/v1/tokens/"+toks.Data[0].ID, nil, http.StatusNoContent, nil)
	_, outsider := newUser(t, srv, "member")         // a member of no workspace
	_, otherMember := newUser(t, srv, "member", ws2) // of the other workspace
	_, memberToken := newUser(t, srv, "member", ws)
	// A pull subscription's app token, and an inactive admin's token.
	_, boot, err := st.TokenByHash(ctx, auth.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}
	pullToken := auth.NewToken(store.TokenApp)
	now := time.Now().UTC()
	if err := st.CreateToken(ctx, &store.Token{ID: id.New(id.Token), UserID: boot.ID, Kind: store.TokenApp, Name: "pull",
		Hash: auth.HashToken(pullToken), ResourceID: id.New(id.Subscription), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// A member (admins do not go inactive), of the workspace: refused for
	// its inactivity alone.
	inactive := &store.User{ID: id.New(id.User), Email: "gone@example.com", Name: "Gone", Role: store.RoleMember,
		Status: store.UserActive, CreatedAt: now.Add(-srv.App.Config.InactiveAfter - time.Hour)}
	if err := st.CreateUser(ctx, inactive); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMemberships(ctx, inactive.ID, []string{ws}); err != nil {
		t.Fatal(err)
	}
	inactiveToken := auth.NewToken(store.TokenIntegration)
	if err := st.CreateToken(ctx, &store.Token{ID: id.New(id.Token), UserID: inactive.ID, Kind: store.TokenIntegration,
		Name: "old", Hash: auth.HashToken(inactiveToken), CreatedAt: inactive.CreatedAt}); err != nil {
		t.Fatal(err)
	}

	sign := func(msgID string, ts time.Time, body string) map[string]string {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		unix := strconv.FormatInt(ts.Unix(), 10)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msgID + "." + unix + "." + body))
		return map[string]string{"Authorization": "Bearer " + signed.Token, "webhook-id": msgID, "webhook-timestamp": unix,
			"webhook-signature": "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	}
	withAuth := func(extra map[string]string) map[string]string {
		out := bearer(h.Token)
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	valid := `{"lead":1}`
	type bad struct {
		name   string
		hook   string
		q      inReq
		status int
		code   string
	}
	const unauth = http.StatusUnauthorized
	cases := []bad{
		{"auth/missing", h.ID, inReq{header: map[string]string{"Authorization": ""}, body: valid}, unauth, "unauthenticated"},
		{"auth/bearer_empty", h.ID, inReq{header: map[string]string{"Authorization": "Bearer "}, body: valid}, unauth, "unauthenticated"},
		{"auth/garbage", h.ID, inReq{header: map[string]string{"Authorization": "garbage"}, body: valid}, unauth, "unauthenticated"},
		{"auth/wrong", h.ID, inReq{header: bearer("pba_wrong"), body: valid}, unauth, "unauthenticated"},
		{"auth/digest", h.ID, inReq{header: map[string]string{"Authorization": "Digest x"}, body: valid}, unauth, "unauthenticated"},
		{"auth/basic_bad_base64", basicHook.ID, inReq{header: map[string]string{"Authorization": "Basic !!!"}, body: valid}, unauth, "unauthenticated"},
		{"auth/basic_no_colon", basicHook.ID, inReq{header: map[string]string{"Authorization": "Basic " +
			base64.StdEncoding.EncodeToString([]byte(basicHook.Token))}, body: valid}, unauth, "unauthenticated"},
		{"auth/basic_wrong_username", basicHook.ID, inReq{header: map[string]string{"Authorization": basicAuth("admin", basicHook.Token)}, body: valid}, unauth, "unauthenticated"},
		{"auth/basic_wrong_password", basicHook.ID, inReq{header: map[string]string{"Authorization": basicAuth(basicHook.Username, "nope")}, body: valid}, unauth, "unauthenticated"},
		{"auth/basic_on_bearer_webhook", h.ID, inReq{header: map[string]string{"Authorization": basicAuth(h.ID, h.Token)}, body: valid}, unauth, "unauthenticated"},
		{"auth/revoked", h.ID, inReq{header: bearer(revoked), body: valid}, unauth, "unauthenticated"},
		{"auth/another_webhooks_token", h.ID, inReq{header: bearer(other.Token), body: valid}, unauth, "unauthenticated"},
		{"auth/another_workspaces_webhook_token", h.ID, inReq{header: bearer(foreign.Token), body: valid}, unauth, "unauthenticated"},
		{"auth/pull_subscription_token", h.ID, inReq{header: bearer(pullToken), body: valid}, unauth, "unauthenticated"},
		{"auth/inactive_owner", h.ID, inReq{header: bearer(inactiveToken), body: valid}, unauth, "unauthenticated"},
		{"auth/member_of_no_workspace", h.ID, inReq{header: bearer(outsider), body: valid}, unauth, "unauthenticated"},
		{"auth/member_of_another_workspace", h.ID, inReq{header: bearer(otherMember), body: valid}, unauth, "unauthenticated"},
		{"auth/session_like_garbage", h.ID, inReq{header: bearer(strings.Repeat("x", 5000)), body: valid}, unauth, "unauthenticated"},
		// Ids cannot be probed without a credential: an unknown id is a
		// 401 to everyone but an admin.
		{"id/unknown_no_token", id.New(id.Inbound), inReq{body: valid, header: map[string]string{"Authorization": ""}}, unauth, "unauthenticated"},
		{"id/unknown_app_token", id.New(id.Inbound), inReq{header: bearer(h.Token), body: valid}, unauth, "unauthenticated"},
		{"id/unknown_member", id.New(id.Inbound), inReq{header: bearer(memberToken), body: valid}, unauth, "unauthenticated"},
		{"id/unknown_admin", id.New(id.Inbound), inReq{header: bearer(apptest.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"id/garbage_admin", "x", inReq{header: bearer(apptest.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"id/invalid_utf8_admin", "inb_%FF", inReq{header: bearer(apptest.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"id/nul_admin", "inb_%00", inReq{header: bearer(apptest.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"route/nested", h.ID, inReq{path: "/in/" + h.ID + "/x", header: bearer(h.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"route/bare", h.ID, inReq{path: "/in", header: bearer(h.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"route/empty_id", h.ID, inReq{path: "/in/", header: bearer(h.Token), body: valid}, http.StatusNotFound, "not_found"},
		{"disabled", disabled.ID, inReq{header: bearer(disabled.Token), body: valid}, http.StatusForbidden, "inbound_disabled"},
		{"disabled_bad_token", disabled.ID, inReq{header: bearer("nope"), body: valid}, unauth, "unauthenticated"},
		{"body/malformed_json", h.ID, inReq{header: bearer(h.Token), body: `{"lead":`}, http.StatusBadRequest, "malformed_json"},
		{"body/trailing_garbage", h.ID, inReq{header: bearer(h.Token), body: `{} x`}, http.StatusBadRequest, "malformed_json"},
		{"body/empty", h.ID, inReq{header: bearer(h.Token)}, http.StatusBadRequest, "malformed_json"},
		{"body/invalid_utf8", h.ID, inReq{header: bearer(h.Token), body: "{\"a\":\"\xff\"}"}, http.StatusBadRequest, "invalid_encoding"},
		{"body/deep", h.ID, inReq{header: bearer(h.Token), body: strings.Repeat("[", 100_001)}, http.StatusBadRequest, "malformed_json"},
		{"body/null", h.ID, inReq{header: bearer(h.Token), body: `null`}, http.StatusUnprocessableEntity, "invalid_field"},
		{"body/escaped_nul", h.ID, inReq{header: bearer(h.Token), body: `{"a":"\u0000"}`}, http.StatusUnprocessableEntity, "invalid_field"},
		{"body/lone_surrogate", h.ID, inReq{header: bearer(h.Token), body: `{"a":"\ud800"}`}, http.StatusUnprocessableEntity, "invalid_field"},
		{"body/too_large", h.ID, inReq{header: bearer(h.Token), body: `{"a":"` + strings.Repeat("a", 1<<20) + `"}`}, http.StatusRequestEntityTooLarge, "payload_too_large"},
		{"form/bad_escape", h.ID, inReq{header: withAuth(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), body: "a=%zz"}, http.StatusBadRequest, "malformed_form"},
		{"form/invalid_utf8", h.ID, inReq{header: withAuth(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), body: "a=%FF"}, http.StatusBadRequest, "invalid_encoding"},
		{"form/nul", h.ID, inReq{header: withAuth(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), body: "a=%00"}, http.StatusUnprocessableEntity, "invalid_field"},
		{"dedupe/invalid_utf8", h.ID, inReq{header: withAuth(map[string]string{"X-Delivery": "a\xffb"}), body: valid}, http.StatusUnprocessableEntity, "invalid_field"},
		{"dedupe/too_long", h.ID, inReq{header: withAuth(map[string]string{"X-Delivery": strings.Repeat("d", 5000)}), body: valid}, http.StatusUnprocessableEntity, "invalid_field"},
		{"signature/missing", signed.ID, inReq{header: bearer(signed.Token), body: valid}, unauth, "invalid_signature"},
		{"signature/wrong", signed.ID, inReq{header: func() map[string]string {
			m := sign("msg_1", time.Now(), valid)
			m["webhook-signature"] = "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
			return m
		}(), body: valid}, unauth, "invalid_signature"},
		{"signature/other_body", signed.ID, inReq{header: sign("msg_1", time.Now(), `{"lead":2}`), body: valid}, unauth, "invalid_signature"},
		{"signature/stale", signed.ID, inReq{header: sign("msg_1", time.Now().Add(-10*time.Minute), valid), body: valid}, unauth, "invalid_signature"},
		{"signature/future", signed.ID, inReq{header: sign("msg_1", time.Now().Add(10*time.Minute), valid), body: valid}, unauth, "invalid_signature"},
		{"signature/bad_token_first", signed.ID, inReq{header: func() map[string]string {
			m := sign("msg_1", time.Now(), valid)
			m["Authorization"] = "Bearer nope"
			return m
		}(), body: valid}, unauth, "unauthenticated"},
	}
	for kind, ct := range map[string]string{
		"text_plain": "text/plain", "xml": "application/xml", "multipart": "multipart/form-data; boundary=x",
		"unparsable": "application/json;;;===", "latin1": "application/json; charset=iso-8859-1",
		"form_latin1": "application/x-www-form-urlencoded; charset=iso-8859-1", "octets": "application/octet-stream",
	} {
		cases = append(cases, bad{"content_type/" + kind, h.ID, inReq{header: withAuth(map[string]string{"Content-Type": ct}), body: valid},
			http.StatusUnsupportedMediaType, "unsupported_media_type"})
	}
	cases = append(cases, bad{"content_encoding/gzip", h.ID, inReq{header: withAuth(map[string]string{"Content-Encoding": "gzip"}), body: valid},
		http.StatusUnsupportedMediaType, "unsupported_media_type"})
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"} {
		cases = append(cases, bad{"method/" + m, h.ID, inReq{method: m, header: bearer(h.Token)}, http.StatusMethodNotAllowed, "method_not_allowed"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := postIn(t, srv, c.hook, c.q)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.q.method == "HEAD" {
				return
			}
			var e struct {
				Error *struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil || e.Error.Message == "" {
				t.Fatalf("not the error shape: %s", r.body)
			}
			if e.Error.Code != c.code {
				t.Errorf("code %q, want %q (%s)", e.Error.Code, c.code, e.Error.Message)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if c.status == unauth {
				ch := strings.Join(r.header.Values("WWW-Authenticate"), " | ")
				if !strings.Contains(ch, "Bearer") || !strings.Contains(ch, "Basic") {
					t.Errorf("WWW-Authenticate %q, want Bearer and Basic challenges", ch)
				}
			}
			if c.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
		})
	}
	var evs struct{ Data []json.RawMessage }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/events", nil, http.StatusOK, &evs)
	if len(evs.Data) != 0 {
		t.Fatalf("bad requests made %d events", len(evs.Data))
	}

	// Accepted now: the signed request, its replay (the same webhook-id:
	// the first event, nothing new), and the dedupe header likewise.
	sig := sign("msg_1", time.Now(), valid)
	first := postIn(t, srv, signed.ID, inReq{header: sig, body: valid})
	again := postIn(t, srv, signed.ID, inReq{header: sig, body: valid})
	if first.status != 202 || again.status != 202 || first.eventID(t) != again.eventID(t) {
		t.Fatalf("signed and replayed: %d %s, %d %s", first.status, first.body, again.status, again.body)
	}
	d1 := postIn(t, srv, h.ID, inReq{header: withAuth(map[string]string{"X-Delivery": "d-1"}), body: valid})
	d2 := postIn(t, srv, h.ID, inReq{header: withAuth(map[string]string{"X-Delivery": "d-1"}), body: `{"other":1}`})
	d3 := postIn(t, srv, h.ID, inReq{header: withAuth(map[string]string{"X-Delivery": "d-2"}), body: valid})
	// The same value on another webhook is another key.
	o1 := postIn(t, srv, other.ID, inReq{header: map[string]string{"Authorization": "Bearer " + other.Token, "X-Delivery": "d-1"}, body: valid})
	if d1.eventID(t) != d2.eventID(t) || d3.eventID(t) == d1.eventID(t) || o1.eventID(t) == d1.eventID(t) {
		t.Fatalf("dedupe: %s %s %s %s", d1.body, d2.body, d3.body, o1.body)
	}
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/events", nil, http.StatusOK, &evs)
	if len(evs.Data) != 4 {
		t.Fatalf("%d events, want 4", len(evs.Data))
	}
}

// TestInboundDeployteqRules: the account rules of Deployteq's webhooks,
// through /in/{id}.
func TestInboundDeployteqRules(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ctx := context.Background()
		st := srv.App.Store
		ws := srv.Workspace(t, "lead.created")
		h := createHook(t, srv, ws, nil)
		send := func(tok string) int { return postIn(t, srv, h.ID, inReq{header: bearer(tok), body: `{}`}).status }

		// An integration token of a member of the workspace works, and
		// its use keeps the user active: last_active_at moves.
		userID, tok := newUser(t, srv, "member", ws)
		var before, after struct {
			Status       string     `json:"status"`
			LastActiveAt *time.Time `json:"last_active_at"`
		}
		srv.JSON(t, "GET", "/api/v1/users/"+userID, nil, http.StatusOK, &before)
		if code := send(tok); code != 202 {
			t.Fatalf("member's integration token: %d", code)
		}
		if err := srv.App.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		srv.JSON(t, "GET", "/api/v1/users/"+userID, nil, http.StatusOK, &after)
		if after.LastActiveAt == nil || (before.LastActiveAt != nil && !after.LastActiveAt.After(*before.LastActiveAt)) {
			t.Errorf("last_active_at %v → %v: the webhook's use is not activity", before.LastActiveAt, after.LastActiveAt)
		}

		// The owner of the webhook's token goes inactive: 401.
		stale := time.Now().Add(-srv.App.Config.InactiveAfter - time.Hour).UTC()
		owner := &store.User{ID: id.New(id.User), Email: "owner@example.com", Name: "Owner", Role: store.RoleMember,
			Status: store.UserActive, CreatedAt: stale}
		if err := st.CreateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		if err := st.SetMemberships(ctx, owner.ID, []string{ws}); err != nil {
			t.Fatal(err)
		}
		// (Given the token while still active, as it were: straight in the store.)
		appTok := auth.NewToken(store.TokenApp)
		if _, err := st.ReplaceInboundToken(ctx, ws, h.ID, &store.Token{ID: id.New(id.Token), UserID: owner.ID,
			Kind: store.TokenApp, Name: "crm", Hash: auth.HashToken(appTok), CreatedAt: stale}); err != nil {
			t.Fatal(err)
		}
		if code := send(appTok); code != 401 {
			t.Fatalf("inactive owner's app token: %d, want 401", code)
		}
		if code := send(h.Token); code != 401 {
			t.Fatalf("the replaced token: %d, want 401", code)
		}
		// The way out: a new token on another user's account. The old one
		// stops working at once; the new one works.
		var fresh hook
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID+"/token", map[string]string{"user_id": userID},
			http.StatusOK, &fresh)
		if !strings.HasPrefix(fresh.Token, "pba_") || fresh.ID != h.ID {
			t.Fatalf("new token: %+v", fresh)
		}
		if code := send(fresh.Token); code != 202 {
			t.Fatalf("new token: %d, want 202", code)
		}
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID+"/token", nil, http.StatusOK, &fresh)
		if code := send(fresh.Token); code != 202 {
			t.Fatalf("the caller's new token: %d", code)
		}
		var prev = fresh.Token
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID+"/token", map[string]string{"user_id": userID},
			http.StatusOK, &fresh)
		if code := send(prev); code != 401 {
			t.Fatalf("the token replaced a moment ago: %d, want 401 at once", code)
		}
		// Deleting the webhook revokes its token at once.
		srv.JSON(t, "DELETE", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID, nil, http.StatusNoContent, nil)
		if code := send(fresh.Token); code != 401 {
			t.Fatalf("the deleted webhook's token: %d, want 401", code)
		}
		if _, _, err := st.TokenByHash(ctx, auth.HashToken(fresh.Token)); err == nil {
			t.Errorf("the deleted webhook's token is still stored")
		}
		// Its owner has no tokens left and can be deleted... after its
		// integration token goes too.
		var toks struct{ Data []struct{ Kind string } }
		srv.JSON(t, "GET", "/api/v1/users/"+userID+"/tokens", nil, http.StatusOK, &toks)
		if len(toks.Data) != 1 || toks.Data[0].Kind != store.TokenIntegration {
			t.Errorf("the owner's tokens: %+v, want its integration token only", toks.Data)
		}
	})
}

// TestInboundIsolation: a member sees and changes only its workspaces'
// inbound webhooks; another's is not found on every route.
func TestInboundIsolation(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine func(*config.Config)) {
		srv := apptest.Start(t, engine)
		ws1, ws2 := srv.Workspace(t, "lead.created"), srv.Workspace(t, "lead.created")
		theirs := createHook(t, srv, ws2, nil)
		mine := createHook(t, srv, ws1, nil)
		_, tok := newUser(t, srv, "member", ws1)
		do := func(method, path, body string) (int, string) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		routes := []struct{ method, path, body string }{
			{"GET", "/inbound/{id}", ""},
			{"PATCH", "/inbound/{id}", `{"name":"mine now"}`},
			{"POST", "/inbound/{id}/disable", ""},
			{"POST", "/inbound/{id}/enable", ""},
			{"POST", "/inbound/{id}/token", ""},
			{"GET", "/inbound/{id}/requests", ""},
			{"DELETE", "/inbound/{id}", ""},
		}
		for _, ws := range []string{ws1, ws2} {
			for _, r := range routes {
				path := "/api/v1/workspaces/" + ws + strings.Replace(r.path, "{id}", theirs.ID, 1)
				if code, b := do(r.method, path, r.body); code != 404 || !strings.Contains(b, "not found") {
					t.Errorf("%s %s: %d %s, want 404", r.method, path, code, b)
				}
			}
		}
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/inbound", ""},
			{"POST", "/inbound", `{"name":"x","auth":"bearer","event_type":"lead.created"}`},
		} {
			if code, b := do(r.method, "/api/v1/workspaces/"+ws2+r.path, r.body); code != 404 {
				t.Errorf("%s %s in another workspace: %d %s", r.method, r.path, code, b)
			}
		}
		code, b := do("GET", "/api/v1/workspaces/"+ws1+"/inbound", "")
		if code != 200 || !strings.Contains(b, mine.ID) || strings.Contains(b, theirs.ID) {
			t.Errorf("own list: %d %s", code, b)
		}
		// The member's token does not post to the other workspace's webhook.
		if r := postIn(t, srv, theirs.ID, inReq{header: bearer(tok), body: `{}`}); r.status != 401 {
			t.Errorf("posting to another workspace's webhook: %d", r.status)
		}
		// Nothing changed there.
		var got hook
		srv.JSON(t, "GET", "/api/v1/workspaces/"+ws2+"/inbound/"+theirs.ID, nil, http.StatusOK, &got)
		if got.Status != "active" {
			t.Errorf("the other workspace's webhook is %s", got.Status)
		}
		if r := postIn(t, srv, theirs.ID, inReq{header: bearer(theirs.Token), body: `{}`}); r.status != 202 {
			t.Errorf("its own token after the attempts: %d", r.status)
		}
	})
}

// TestInboundBruteForce: failures from one address are slowed down and
// then refused with 429, while a valid token from that address still gets
// through.
func TestInboundBruteForce(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "lead.created")
	h := createHook(t, srv, ws, nil)
	const source = 251
	var wg sync.WaitGroup
	codes := make([]int, 30)
	retry := make([]string, 30)
	start := time.Now()
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := postIn(t, srv, h.ID, inReq{header: bearer("wrong"), body: `{}`, source: source})
			codes[i], retry[i] = r.status, r.header.Get("Retry-After")
		}()
	}
	wg.Wait()
	n401, n429 := 0, 0
	for i, c := range codes {
		switch c {
		case 401:
			n401++
		case 429:
			n429++
			if s, err := strconv.Atoi(retry[i]); err != nil || s < 1 || s > 60 {
				t.Errorf("429 with Retry-After %q", retry[i])
			}
		default:
			t.Errorf("status %d", c)
		}
	}
	if n401 != 20 || n429 != 10 {
		t.Errorf("%d × 401 and %d × 429, want 20 and 10", n401, n429)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("30 failures answered in %s: not slowed down", time.Since(start))
	}
	// Still limited, but a valid token gets through at once.
	if r := postIn(t, srv, h.ID, inReq{header: bearer("wrong"), body: `{}`, source: source}); r.status != 429 {
		t.Errorf("next failure: %d, want 429", r.status)
	}
	t0 := time.Now()
	if r := postIn(t, srv, h.ID, inReq{header: bearer(h.Token), body: `{}`, source: source}); r.status != 202 {
		t.Errorf("valid token from a limited address: %d %s", r.status, r.body)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("valid token delayed %s", d)
	}
	// Another address is not limited.
	if r := postIn(t, srv, h.ID, inReq{header: bearer("wrong"), body: `{}`}); r.status != 401 {
		t.Errorf("another address: %d, want 401", r.status)
	}
}

// TestInboundLogFlushedAtShutdown: requests logged just before a shutdown
// are written, not lost with the process.
func TestInboundLogFlushedAtShutdown(t *testing.T) {
	cfg := apptest.Config(t)
	srv := apptest.StartConfig(t, cfg)
	ws := srv.Workspace(t, "lead.created")
	h := createHook(t, srv, ws, nil)
	for range 3 {
		postIn(t, srv, h.ID, inReq{header: bearer(h.Token), body: `{}`})
	}
	srv.Stop()
	srv = apptest.StartConfig(t, cfg)
	var log struct{ Data []json.RawMessage }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/inbound/"+h.ID+"/requests", nil, http.StatusOK, &log)
	if len(log.Data) != 3 {
		t.Fatalf("after a restart the log holds %d requests, want 3", len(log.Data))
	}
}

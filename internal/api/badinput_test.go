package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/app/apptest"
	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/config"
	"github.com/postbode/postbode/internal/id"
	"github.com/postbode/postbode/internal/store"
)

// bodyKind says what a route does with a request body.
type bodyKind int

const (
	noBody       bodyKind = iota // ignored (GET, DELETE)
	optionalBody                 // empty or a JSON object without fields
	requiredBody                 // a JSON object
)

// routeInfo is what the bad-input table needs to know about one route.
type routeInfo struct {
	body  bodyKind
	valid string // a body the route accepts; bad-input cases change one thing
	list  bool   // takes ?limit= and ?cursor=
	// public: answers without a credential (the OpenAPI document).
	public bool
}

// routes lists every route of api.New. TestRoutesAreAllCovered keeps it in
// step with api.go, so a new route cannot miss the bad-input table.
var routes = map[string]routeInfo{
	"POST /api/v1/workspaces":                                                   {body: requiredBody, valid: `{"name":"acme"}`},
	"GET /api/v1/workspaces":                                                    {list: true},
	"POST /api/v1/workspaces/{ws}/event-types":                                  {body: requiredBody, valid: `{"name":"order.created","label":"Order created"}`},
	"GET /api/v1/workspaces/{ws}/event-types":                                   {list: true},
	"POST /api/v1/workspaces/{ws}/events":                                       {body: requiredBody, valid: `{"type":"invoice.paid","data":{}}`},
	"POST /api/v1/workspaces/{ws}/events/batch":                                 {body: requiredBody, valid: `{"events":[{"type":"invoice.paid","data":{}}]}`},
	"GET /api/v1/workspaces/{ws}/events/{id}":                                   {},
	"GET /api/v1/workspaces/{ws}/events":                                        {list: true},
	"POST /api/v1/workspaces/{ws}/subscriptions":                                {body: requiredBody, valid: `{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"]}`},
	"GET /api/v1/workspaces/{ws}/subscriptions":                                 {list: true},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}":                            {},
	"PATCH /api/v1/workspaces/{ws}/subscriptions/{id}":                          {body: requiredBody, valid: `{"name":"renamed"}`},
	"DELETE /api/v1/workspaces/{ws}/subscriptions/{id}":                         {},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/test":                      {body: optionalBody, valid: `{}`},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts":                   {list: true},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts/{attempt}":         {},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/enable":                    {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/disable":                   {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret":             {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/recover":                   {body: requiredBody, valid: `{"since":"2020-01-01T00:00:00Z"}`},
	"POST /api/v1/workspaces/{ws}/deliveries/{id}/resend":                       {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/claim":             {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/ack":               {body: requiredBody, valid: `{"acks":[{"id":"msg_00000000000000000000000000","action":"success"}]}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/success": {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/failed":  {body: optionalBody, valid: `{"reason":"no such patient"}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/release": {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/extend":  {body: optionalBody, valid: `{"lease_seconds":30}`},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox":                    {},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/stats":              {},
	"POST /api/v1/workspaces/{ws}/inbound":                                      {body: requiredBody, valid: `{"name":"crm","auth":"bearer","event_type":"invoice.paid"}`},
	"GET /api/v1/workspaces/{ws}/inbound":                                       {list: true},
	"GET /api/v1/workspaces/{ws}/inbound/{id}":                                  {},
	"PATCH /api/v1/workspaces/{ws}/inbound/{id}":                                {body: requiredBody, valid: `{"name":"renamed"}`},
	"DELETE /api/v1/workspaces/{ws}/inbound/{id}":                               {},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/enable":                          {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/disable":                         {body: optionalBody, valid: `{}`},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/token":                           {body: optionalBody, valid: `{}`},
	"GET /api/v1/workspaces/{ws}/inbound/{id}/requests":                         {list: true},
	"GET /api/v1/me":                            {},
	"POST /api/v1/users":                        {body: requiredBody, valid: `{"email":"new@example.com","name":"New"}`},
	"GET /api/v1/users":                         {list: true},
	"GET /api/v1/users/{id}":                    {},
	"PATCH /api/v1/users/{id}":                  {body: requiredBody, valid: `{"name":"Renamed"}`},
	"DELETE /api/v1/users/{id}":                 {},
	"POST /api/v1/users/{id}/reactivate":        {body: optionalBody, valid: `{}`},
	"POST /api/v1/users/{id}/password":          {body: requiredBody, valid: `{"password":"correct horse battery"}`},
	"POST /api/v1/users/{id}/tokens":            {body: requiredBody, valid: `{"name":"ci"}`},
	"GET /api/v1/users/{id}/tokens":             {list: true},
	"DELETE /api/v1/tokens/{id}":                {},
	"POST /api/v1/tokens/{id}/transfer":         {body: requiredBody, valid: `{"user_id":"{usr}"}`},
	"POST /api/v1/workspaces/{ws}/portal-links": {body: optionalBody, valid: `{"ttl_seconds":60}`},
	"GET /api/v1/openapi.json":                  {public: true},
}

func TestRoutesAreAllCovered(t *testing.T) {
	registered := api.New(api.Options{}).Patterns
	if len(registered) == 0 {
		t.Fatal("found no route patterns in api.go")
	}
	for _, p := range registered {
		if _, ok := routes[p]; !ok {
			t.Errorf("route %q of api.New is missing from the bad-input table", p)
		}
	}
	for p := range routes {
		if !slices.Contains(registered, p) {
			t.Errorf("route %q of the bad-input table is not registered in api.New", p)
		}
	}
}

// fixture is a node with one of everything, for requests to point at.
type fixture struct {
	srv         *apptest.Server
	ws, ws2     string // ws holds the resources below; ws2 is empty
	sub         string
	inb         string // an inbound webhook of ws
	evt         string
	dlv         string
	att         string
	usr, tok    string // a member user, of no workspace, and its token
	pull, msg   string // a pull subscription in ws and the message in its mailbox
	appToken    string // an app token: never valid for the management API
	memberToken string // an integration token of a member of no workspace
}

func newFixture(t *testing.T, engine func(*config.Config)) *fixture {
	t.Helper()
	srv := apptest.Start(t, engine)
	rc := apptest.NewReceiver(t, nil)
	f := &fixture{srv: srv, ws: srv.Workspace(t, "invoice.paid"), ws2: srv.Workspace(t, "invoice.paid")}
	var sub struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{
		"name": "billing", "url": rc.URL + "/hook", "event_types": []string{"invoice.paid"},
	}, http.StatusCreated, &sub)
	f.sub = sub.ID
	var pull struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/subscriptions", map[string]any{
		"name": "mailbox", "mode": "pull", "event_types": []string{"invoice.paid"},
	}, http.StatusCreated, &pull)
	f.pull = pull.ID
	var inb struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/inbound", map[string]any{
		"name": "crm", "auth": "basic", "event_type": "invoice.paid", "dedupe_header": "webhook-id",
		"verify": map[string]string{"scheme": "github", "secret": "s3cret"},
	}, http.StatusCreated, &inb)
	f.inb = inb.ID
	var evt struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/workspaces/"+f.ws+"/events", map[string]any{
		"type": "invoice.paid", "data": map[string]int{"amount": 1},
	}, http.StatusAccepted, &evt)
	f.evt = evt.ID
	rc.Wait(t, 1, 5*time.Second)
	var got struct{ Deliveries []struct{ ID string } }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/events/"+f.evt, nil, http.StatusOK, &got)
	if len(got.Deliveries) != 1 {
		t.Fatalf("fixture event has %d deliveries, want 1", len(got.Deliveries))
	}
	f.dlv = got.Deliveries[0].ID
	// Wait for the outcome to be written, so that the state stays put.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var got struct{ Deliveries []struct{ Status string } }
		srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/events/"+f.evt, nil, http.StatusOK, &got)
		if got.Deliveries[0].Status == store.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fixture delivery is %s, want succeeded", got.Deliveries[0].Status)
		}
	}

	var atts struct{ Data []struct{ ID string } }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/subscriptions/"+f.sub+"/attempts", nil, http.StatusOK, &atts)
	if len(atts.Data) != 1 {
		t.Fatalf("fixture subscription has %d attempts, want 1", len(atts.Data))
	}
	f.att = atts.Data[0].ID
	var msgs struct{ Data []struct{ ID string } }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+f.ws+"/subscriptions/"+f.pull+"/mailbox", nil, http.StatusOK, &msgs)
	if len(msgs.Data) != 1 {
		t.Fatalf("fixture mailbox has %d messages, want 1", len(msgs.Data))
	}
	f.msg = msgs.Data[0].ID

	ctx := context.Background()
	st := srv.App.Store
	_, admin, err := st.TokenByHash(ctx, auth.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	f.appToken = auth.NewToken(store.TokenApp)
	if err := st.CreateToken(ctx, &store.Token{ID: id.New(id.Token), UserID: admin.ID, Kind: store.TokenApp,
		Name: "inbound", Hash: auth.HashToken(f.appToken), ResourceID: id.New(id.Inbound), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	member := &store.User{ID: id.New(id.User), Email: "member@example.com", Name: "Member", Role: "member",
		Status: "active", CreatedAt: now}
	if err := st.CreateUser(ctx, member); err != nil {
		t.Fatal(err)
	}
	f.memberToken = auth.NewToken(store.TokenIntegration)
	f.usr, f.tok = member.ID, id.New(id.Token)
	if err := st.CreateToken(ctx, &store.Token{ID: f.tok, UserID: member.ID, Kind: store.TokenIntegration,
		Name: "member", Hash: auth.HashToken(f.memberToken), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return f
}

// badCase is one bad request and the error it must get.
type badCase struct {
	name    string
	method  string
	path    string            // {ws}, {ws2}, {sub}, {evt} and {dlv} name the fixture's resources
	body    string            // sent as is; "" sends none
	header  map[string]string // after the defaults (admin token, JSON); an empty value removes the header
	status  int
	code    string
	mention string // the message must contain this, e.g. the field at fault
	allow   string // a 405's Allow header
}

// fill resolves a route pattern to a path at the fixture's resources.
func fill(pattern string) string {
	p := strings.Replace(pattern, "{attempt}", "{att}", 1)
	p = strings.Replace(p, "{message}", "{msg}", 1)
	switch {
	case strings.Contains(p, "/mailbox"):
		p = strings.Replace(p, "{id}", "{pull}", 1)
	case strings.Contains(p, "/subscriptions/{id}"):
		p = strings.Replace(p, "{id}", "{sub}", 1)
	case strings.Contains(p, "/inbound/{id}"):
		p = strings.Replace(p, "{id}", "{inb}", 1)
	case strings.Contains(p, "/events/{id}"):
		p = strings.Replace(p, "{id}", "{evt}", 1)
	case strings.Contains(p, "/deliveries/{id}"):
		p = strings.Replace(p, "{id}", "{dlv}", 1)
	case strings.Contains(p, "/users/{id}"):
		p = strings.Replace(p, "{id}", "{usr}", 1)
	case strings.Contains(p, "/tokens/{id}"):
		p = strings.Replace(p, "{id}", "{tok}", 1)
	}
	return p
}

// resourceName is what a 404 for the pattern's {id} calls the resource.
func resourceName(pattern string) string {
	if strings.Contains(pattern, "/attempts/{") {
		return "attempt"
	}
	if strings.Contains(pattern, "/mailbox/{") {
		return "message"
	}
	if strings.Contains(pattern, "/mailbox") {
		return "mailbox"
	}
	if strings.Contains(pattern, "/inbound/") {
		return "inbound webhook"
	}
	for _, r := range []string{"subscription", "event", "deliver", "user", "token"} {
		if strings.Contains(pattern, "/"+r) {
			return r
		}
	}
	return ""
}

// genericCases are the bad inputs that apply to routes by their shape.
func genericCases(f *fixture) []badCase {
	const unauth, notFound = http.StatusUnauthorized, http.StatusNotFound
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin@localhost:"+apptest.Token))
	huge := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	var out []badCase
	for _, pattern := range slices.Sorted(maps.Keys(routes)) {
		ri := routes[pattern]
		method, path, _ := strings.Cut(fill(pattern), " ")
		add := func(kind string, c badCase) {
			c.name = pattern + "/" + kind
			if c.method == "" {
				c.method = method
			}
			if c.path == "" {
				c.path = path
			}
			out = append(out, c)
		}
		if ri.public {
			continue // no credential, no input: only the wrong methods below
		}
		// Authentication is checked first, whatever the rest of the request.
		for kind, h := range map[string]string{
			"no_authorization":     "",
			"bearer_without_token": "Bearer ",
			"garbage_token":        "Bearer not-a-token",
			"garbage_header":       "garbage",
			"basic_auth":           basic,
			"app_token":            "Bearer " + f.appToken,
		} {
			add("auth/"+kind, badCase{body: ri.valid, header: map[string]string{"Authorization": h},
				status: unauth, code: "unauthenticated"})
		}
		if strings.Contains(pattern, "{ws}") {
			// Another tenant's workspace is not found, as if it did not
			// exist; a mailbox says only that the mailbox is not there.
			missing := "workspace"
			if strings.Contains(pattern, "/mailbox") {
				missing = "mailbox"
			}
			add("not_a_member", badCase{body: ri.valid, header: map[string]string{"Authorization": "Bearer " + f.memberToken},
				status: notFound, code: "not_found", mention: missing})
			for kind, ws := range map[string]string{"unknown": id.New(id.Workspace), "garbage": "nope", "wrong_prefix": f.sub} {
				add("workspace/"+kind, badCase{path: strings.Replace(path, "{ws}", ws, 1), body: ri.valid,
					status: notFound, code: "not_found", mention: missing})
			}
			// Text no engine can compare is refused before the store, the
			// same on both.
			for kind, ws := range map[string]string{"invalid_utf8": "ws_%FF", "nul": "ws_%00", "bare_invalid_utf8": "%C3"} {
				add("workspace/"+kind, badCase{path: strings.Replace(path, "{ws}", ws, 1), body: ri.valid,
					status: http.StatusUnprocessableEntity, code: "invalid_field", mention: "workspace"})
			}
		}
		if what := resourceName(pattern); strings.Contains(pattern, "{id}") {
			slot := path[strings.LastIndex(path, "{"):]
			slot = slot[:strings.Index(slot, "}")+1]
			prefix := map[string]string{"{sub}": id.Subscription, "{inb}": id.Inbound, "{evt}": id.Event, "{dlv}": id.Delivery, "{att}": id.Attempt,
				"{usr}": id.User, "{tok}": id.Token, "{pull}": id.Subscription, "{msg}": id.Message}[slot]
			for kind, v := range map[string]string{"unknown": id.New(prefix), "garbage": "x", "other_kind": f.ws} {
				add("id/"+kind, badCase{path: strings.Replace(path, slot, v, 1), body: ri.valid,
					status: notFound, code: "not_found", mention: what})
			}
			for kind, v := range map[string]string{"invalid_utf8": prefix + "%FF", "nul": prefix + "%00"} {
				add("id/"+kind, badCase{path: strings.Replace(path, slot, v, 1), body: ri.valid,
					status: http.StatusUnprocessableEntity, code: "invalid_field", mention: "id"})
			}
			// The resource exists, but in another workspace.
			if !strings.Contains(pattern, "{ws}") {
				continue
			}
			add("id/other_workspace", badCase{path: strings.Replace(path, "{ws}", "{ws2}", 1), body: ri.valid,
				status: notFound, code: "not_found", mention: "not found"})
		}
		if ri.list {
			for _, v := range []string{"0", "-1", "abc", "1.5", "1e2", "1001", "100000", "99999999999999999999"} {
				add("limit="+v, badCase{path: path + "?limit=" + v, status: http.StatusUnprocessableEntity,
					code: "invalid_field", mention: "limit"})
			}
			for kind, v := range map[string]string{"invalid_utf8": "%FF", "nul": "a%00", "invalid_utf8_in_id": "ws_%C3%28"} {
				add("cursor/"+kind, badCase{path: path + "?cursor=" + v, status: http.StatusUnprocessableEntity,
					code: "invalid_field", mention: "cursor"})
			}
		}
		if ri.body == noBody {
			continue
		}
		for kind, body := range map[string]string{
			"malformed_json":  `{"name":`,
			"not_json":        `name=acme`,
			"array":           `[]`,
			"array_of_object": `[` + ri.valid + `]`,
			"string":          `"acme"`,
			"number":          `42`,
			"null":            `null`,
			"trailing_brace":  ri.valid + `}`,
			"trailing_value":  ri.valid + ` {}`,
			"trailing_junk":   ri.valid + `x`,
			"single_quotes":   `{'name':'acme'}`,
			"bare_key":        `{name:"acme"}`,
			"trailing_comma":  `{"name":"acme",}`,
			"deep_nesting":    `{"x":` + strings.Repeat("[", 100_001) + `}`,
		} {
			add("body/"+kind, badCase{body: body, status: http.StatusBadRequest, code: "malformed_json"})
		}
		add("body/unknown_field", badCase{body: `{"bogus_field":1}`, status: http.StatusUnprocessableEntity,
			code: "invalid_field", mention: "bogus_field"})
		// Invalid UTF-8 anywhere in a body: the JSON decoder would quietly
		// replace it in strings and keep it in raw values.
		for kind, body := range map[string]string{
			"invalid_utf8_in_string": strings.Replace(ri.valid, `{`, "{\"x\xff\":1,", 1),
			"invalid_utf8_lone":      "{\"name\":\"\xc3\"}",
			"invalid_utf8_overlong":  "{\"name\":\"\xc0\xaf\"}",
			"invalid_utf8_surrogate": "{\"name\":\"\xed\xa0\x80\"}",
		} {
			add("body/"+kind, badCase{body: body, status: http.StatusBadRequest, code: "invalid_encoding"})
		}
		add("body/too_large", badCase{body: huge, status: http.StatusRequestEntityTooLarge, code: "payload_too_large"})
		for kind, ct := range map[string]string{
			"text_plain": "text/plain", "form": "application/x-www-form-urlencoded", "xml": "application/xml",
			"unparsable": "application/json;;;===", "multipart": "multipart/form-data; boundary=x",
			"latin1": "application/json; charset=iso-8859-1", "utf16": "application/json; charset=utf-16",
		} {
			add("content_type/"+kind, badCase{body: ri.valid, header: map[string]string{"Content-Type": ct},
				status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"})
		}
		add("content_encoding/gzip", badCase{body: ri.valid, header: map[string]string{"Content-Encoding": "gzip"},
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"})
		if ri.body == requiredBody {
			add("body/empty", badCase{body: "", status: http.StatusBadRequest, code: "malformed_json"})
			add("body/whitespace", badCase{body: " \n\t ", status: http.StatusBadRequest, code: "malformed_json"})
		}
	}

	// Every path with a wrong method: 405 and the methods that would do.
	// A path can match the wildcard of another route too: GET
	// …/events/batch reads the event "batch".
	allowed := map[string][]string{}
	for pattern := range routes {
		_, path, _ := strings.Cut(fill(pattern), " ")
		for other := range routes {
			method, wild, _ := strings.Cut(other, " ")
			if matches(wild, path) && !slices.Contains(allowed[path], method) {
				allowed[path] = append(allowed[path], method)
			}
		}
	}
	for path, methods := range allowed {
		var allow []string
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
			if slices.Contains(methods, m) {
				allow = append(allow, m)
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if slices.Contains(methods, m) {
				continue
			}
			out = append(out, badCase{name: "method/" + m + " " + path, method: m, path: path,
				status: http.StatusMethodNotAllowed, code: "method_not_allowed", allow: strings.Join(allow, ", ")})
		}
	}

	// Paths no route matches.
	for _, path := range []string{
		"/api/v1", "/api/v1/", "/api/v1/nope", "/api/v2/workspaces", "/api/v1/workspaces/",
		"/api/v1/workspaces/{ws}/", "/api/v1/workspaces/{ws}/nope", "/api/v1/workspaces/{ws}/events/",
		"/api/v1/workspaces/{ws}/subscriptions/{sub}/nope", "/api/v1/workspaces/{ws}/subscriptions/{sub}/test/x",
		"/api/v1/workspaces/{ws}/deliveries/{dlv}/nope", "/api/v1/WORKSPACES",
		"/api/v1/workspaces/{ws}//subscriptions", "/api/v1/workspaces/{ws}/./subscriptions",
		"/api/v1/workspaces/{ws}/x/../subscriptions",
	} {
		if len(allowed[path]) > 0 {
			panic("not an unknown route: " + path)
		}
		for _, m := range []string{"GET", "POST", "PUT"} {
			out = append(out, badCase{name: "route/" + m + " " + path, method: m, path: path, status: notFound, code: "not_found"})
		}
	}
	return out
}

// matches reports whether a route pattern's path, with {wildcards}, matches path.
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != xs[i] && !strings.HasPrefix(ps[i], "{") {
			return false
		}
	}
	return true
}

// fieldCases are the bad values of individual fields, route by route.
func fieldCases() []badCase {
	const (
		wsPath    = "/api/v1/workspaces"
		etPath    = "/api/v1/workspaces/{ws}/event-types"
		evPath    = "/api/v1/workspaces/{ws}/events"
		subsPath  = "/api/v1/workspaces/{ws}/subscriptions"
		subPath   = "/api/v1/workspaces/{ws}/subscriptions/{sub}"
		recovPath = "/api/v1/workspaces/{ws}/subscriptions/{sub}/recover"
		unproc    = http.StatusUnprocessableEntity
	)
	long := func(n int) string { return strings.Repeat("a", n) }
	// sub is a subscription body with valid required fields and extra.
	sub := func(extra string) string {
		b := `{"name":"x","url":"http://127.0.0.1:9/x","event_types":["invoice.paid"]`
		if extra != "" {
			b += "," + extra
		}
		return b + "}"
	}
	type fc struct {
		name, body, mention string
		code                string // default invalid_field
	}
	var out []badCase
	addAll := func(method, path string, status int, cases []fc) {
		for _, c := range cases {
			code := c.code
			if code == "" {
				code = "invalid_field"
			}
			out = append(out, badCase{name: method + " " + path + "/" + c.name, method: method, path: path,
				body: c.body, status: status, code: code, mention: c.mention})
		}
	}

	addAll("POST", wsPath, unproc, []fc{
		{"name_missing", `{}`, "name", ""},
		{"name_empty", `{"name":""}`, "name", ""},
		{"name_blank", `{"name":"  \t "}`, "name", ""},
		{"name_null", `{"name":null}`, "name", ""},
		{"name_number", `{"name":5}`, "name", ""},
		{"name_object", `{"name":{}}`, "name", ""},
		{"name_too_long", `{"name":"` + long(201) + `"}`, "name", ""},
		{"name_nul", `{"name":"a\u0000b"}`, "name", ""},
		{"name_newline", `{"name":"a\nb"}`, "name", ""},
		// A lone surrogate escape is no Unicode text: the JSON decoder
		// would quietly store U+FFFD instead.
		{"name_lone_surrogate", `{"name":"a\ud800"}`, "name", ""},
	})

	addAll("POST", etPath, unproc, []fc{
		{"name_missing", `{"label":"L"}`, "name", ""},
		{"name_empty", `{"name":"","label":"L"}`, "name", ""},
		{"name_upper_case", `{"name":"Invoice.Paid","label":"L"}`, "name", ""},
		{"name_space", `{"name":"invoice paid","label":"L"}`, "name", ""},
		{"name_slash", `{"name":"invoice/paid","label":"L"}`, "name", ""},
		{"name_unicode", `{"name":"factuur.betaald✓","label":"L"}`, "name", ""},
		{"name_star", `{"name":"*","label":"L"}`, "name", ""},
		{"name_too_long", `{"name":"` + long(101) + `","label":"L"}`, "name", ""},
		{"name_reserved", `{"name":"webhook.test","label":"L"}`, "name", ""},
		{"name_number", `{"name":1,"label":"L"}`, "name", ""},
		{"label_missing", `{"name":"a.b"}`, "label", ""},
		{"label_blank", `{"name":"a.b","label":"  "}`, "label", ""},
		{"label_too_long", `{"name":"a.b","label":"` + long(201) + `"}`, "label", ""},
		{"label_array", `{"name":"a.b","label":["L"]}`, "label", ""},
		{"description_too_long", `{"name":"a.b","label":"L","description":"` + long(2001) + `"}`, "description", ""},
		{"description_number", `{"name":"a.b","label":"L","description":1}`, "description", ""},
		{"schema_string", `{"name":"a.b","label":"L","schema":"object"}`, "schema", ""},
		{"schema_array", `{"name":"a.b","label":"L","schema":[]}`, "schema", ""},
		{"schema_number", `{"name":"a.b","label":"L","schema":1}`, "schema", ""},
		{"schema_not_compiling", `{"name":"a.b","label":"L","schema":{"type":"nope"}}`, "schema", ""},
		{"schema_remote_ref", `{"name":"a.b","label":"L","schema":{"$ref":"http://169.254.169.254/schema.json"}}`, "schema", ""},
		{"label_nul", `{"name":"a.b","label":"L\u0000"}`, "label", ""},
		{"description_nul", `{"name":"a.b","label":"L","description":"d\u0000"}`, "description", ""},
		{"label_lone_surrogate", `{"name":"a.b","label":"L\ud800"}`, "label", ""},
		{"schema_lone_surrogate", `{"name":"c.d","label":"L","schema":{"description":"\ud800"}}`, "schema", ""},
	})
	out = append(out, badCase{name: "POST " + etPath + "/duplicate", method: "POST", path: etPath,
		body: `{"name":"invoice.paid","label":"Again"}`, status: http.StatusConflict, code: "event_type_exists", mention: "invoice.paid"})

	eventCases := []fc{
		{"type_missing", `{"data":{}}`, "type", ""},
		{"type_empty", `{"type":"","data":{}}`, "type", ""},
		{"type_invalid", `{"type":"Invoice Paid!","data":{}}`, "type", ""},
		{"type_number", `{"type":1,"data":{}}`, "type", ""},
		{"type_unknown", `{"type":"invoice.refunded","data":{}}`, "type", "unknown_event_type"},
		{"type_test", `{"type":"webhook.test","data":{}}`, "type", "unknown_event_type"},
		{"data_missing", `{"type":"invoice.paid"}`, "data", ""},
		{"data_null", `{"type":"invoice.paid","data":null}`, "data", ""},
		{"data_escaped_nul", `{"type":"invoice.paid","data":{"a":"\u0000"}}`, "data", ""},
		{"data_escaped_nul_key", `{"type":"invoice.paid","data":{"\u0000":1}}`, "data", ""},
		{"type_nul", `{"type":"invoice.paid\u0000","data":{}}`, "type", ""},
		{"user_id_nul", `{"type":"invoice.paid","data":{},"user_id":"u\u0000"}`, "user_id", ""},
		{"subject_nul", `{"type":"invoice.paid","data":{},"subject":"user/\u0000"}`, "subject", ""},
		{"subject_newline", `{"type":"invoice.paid","data":{},"subject":"user/1\nX"}`, "subject", ""},
		{"user_id_empty", `{"type":"invoice.paid","data":{},"user_id":""}`, "user_id", ""},
		{"user_id_number", `{"type":"invoice.paid","data":{},"user_id":7}`, "user_id", ""},
		{"user_id_too_long", `{"type":"invoice.paid","data":{},"user_id":"` + long(256) + `"}`, "user_id", ""},
		{"subject_blank", `{"type":"invoice.paid","data":{},"subject":" "}`, "subject", ""},
		{"subject_object", `{"type":"invoice.paid","data":{},"subject":{}}`, "subject", ""},
		{"subject_too_long", `{"type":"invoice.paid","data":{},"subject":"` + long(256) + `"}`, "subject", ""},
		// Lone surrogate escapes: U+FFFD would be stored in their place in
		// strings, and data would keep an escape that strict receivers'
		// JSON parsers refuse.
		{"data_lone_surrogate", `{"type":"invoice.paid","data":{"a":"\ud800"}}`, "data", ""},
		{"data_lone_surrogate_key", `{"type":"invoice.paid","data":{"\udc00":1}}`, "data", ""},
		{"data_reversed_surrogates", `{"type":"invoice.paid","data":"\udc00\ud800"}`, "data", ""},
		{"subject_lone_surrogate", `{"type":"invoice.paid","data":{},"subject":"user/\ud800"}`, "subject", ""},
		{"user_id_lone_surrogate", `{"type":"invoice.paid","data":{},"user_id":"u\udfff"}`, "user_id", ""},
	}
	addAll("POST", evPath, unproc, eventCases)
	// The same mistakes in the second event of a batch name it; the first,
	// valid event is not stored either (the snapshot check).
	var batchCases []fc
	for _, c := range eventCases {
		batchCases = append(batchCases, fc{c.name, `{"events":[{"type":"invoice.paid","data":{}},` + c.body + `]}`,
			"events[1]." + c.mention, c.code})
	}
	batchCases = append(batchCases,
		fc{"events_missing", `{}`, "events", ""},
		fc{"events_empty", `{"events":[]}`, "events", ""},
		fc{"events_object", `{"events":{}}`, "events", ""},
		fc{"events_too_many", `{"events":[` + strings.Repeat(`{"type":"invoice.paid","data":1},`, 1000) +
			`{"type":"invoice.paid","data":1}]}`, "events", ""},
		fc{"idempotency_key_number", `{"events":[{"type":"invoice.paid","data":{},"idempotency_key":1}]}`, "idempotency_key", ""},
		fc{"idempotency_key_nul", `{"events":[{"type":"invoice.paid","data":{},"idempotency_key":"k\u0000"}]}`,
			"events[0].idempotency_key", ""},
		fc{"idempotency_key_too_long", `{"events":[{"type":"invoice.paid","data":{},"idempotency_key":"` + long(256) + `"}]}`,
			"events[0].idempotency_key", ""},
	)
	addAll("POST", evPath+"/batch", unproc, batchCases)
	out = append(out, badCase{name: "POST " + evPath + "/batch/idempotency_key_header", method: "POST", path: evPath + "/batch",
		body: `{"events":[{"type":"invoice.paid","data":{}}]}`, header: map[string]string{"Idempotency-Key": "k"},
		status: unproc, code: "invalid_field", mention: "Idempotency-Key"})
	for kind, key := range map[string]string{"too_long": long(256), "invalid_utf8": "k\xff", "latin1": "caf\xe9"} {
		out = append(out, badCase{name: "POST " + evPath + "/idempotency_key_" + kind, method: "POST", path: evPath,
			body: `{"type":"invoice.paid","data":{}}`, header: map[string]string{"Idempotency-Key": key},
			status: unproc, code: "invalid_field", mention: "Idempotency-Key"})
	}

	// Subscription fields, on create.
	createCases := []fc{
		{"name_missing", `{"url":"http://127.0.0.1:9/x","event_types":["*"]}`, "name", ""},
		{"name_null", `{"name":null,"url":"http://127.0.0.1:9/x","event_types":["*"]}`, "name", ""},
		{"name_blank", `{"name":" ","url":"http://127.0.0.1:9/x","event_types":["*"]}`, "name", ""},
		{"url_missing", `{"name":"x","event_types":["*"]}`, "url", ""},
		{"event_types_missing", `{"name":"x","url":"http://127.0.0.1:9/x"}`, "event_types", ""},
		{"event_types_null", `{"name":"x","url":"http://127.0.0.1:9/x","event_types":null}`, "event_types", ""},
	}
	// Subscription fields, on create and PATCH alike.
	fieldCases := []fc{
		{"name_number", `"name":1`, "name", ""},
		{"name_too_long", `"name":"` + long(201) + `"`, "name", ""},
		{"name_nul", `"name":"a\u0000"`, "name", ""},
		{"url_nul", `"url":"http://127.0.0.1:9/\u0000"`, "url", ""},
		{"event_types_nul", `"event_types":["invoice.paid\u0000"]`, "event_types[0]", ""},
		{"api_version_nul", `"api_version":"v\u0000"`, "api_version", ""},
		{"url_empty", `"url":""`, "url", ""},
		{"url_ftp", `"url":"ftp://example.com/x"`, "url", ""},
		{"url_javascript", `"url":"javascript:alert(1)"`, "url", ""},
		{"url_file", `"url":"file:///etc/passwd"`, "url", ""},
		{"url_relative", `"url":"/hook"`, "url", ""},
		{"url_no_host", `"url":"http:///hook"`, "url", ""},
		{"url_only_port", `"url":"http://:8080/hook"`, "url", ""},
		{"url_not_a_url", `"url":"not a url"`, "url", ""},
		{"url_port_zero", `"url":"http://127.0.0.1:0/x"`, "url", ""},
		{"url_port_too_big", `"url":"http://127.0.0.1:65536/x"`, "url", ""},
		{"url_port_huge", `"url":"http://example.com:99999999999999999999/x"`, "url", ""},
		{"url_bad_escape", `"url":"http://example.com/%zz"`, "url", ""},
		{"url_space_in_host", `"url":"http://exa mple.com/"`, "url", ""},
		{"url_too_long", `"url":"http://example.com/` + long(2048) + `"`, "url", ""},
		{"url_number", `"url":42`, "url", ""},
		{"event_types_empty", `"event_types":[]`, "event_types", ""},
		{"event_types_string", `"event_types":"invoice.paid"`, "event_types", ""},
		{"event_types_numbers", `"event_types":[1]`, "event_types", ""},
		{"event_types_invalid_name", `"event_types":["Invoice Paid"]`, "event_types[0]", ""},
		{"event_types_empty_name", `"event_types":["invoice.paid",""]`, "event_types[1]", ""},
		{"event_types_unknown", `"event_types":["invoice.refunded"]`, "event_types[0]", "unknown_event_type"},
		{"event_types_star_and_more", `"event_types":["*","invoice.paid"]`, "event_types[0]", ""},
		{"event_types_too_many", `"event_types":[` + strings.Repeat(`"invoice.paid",`, 100) + `"invoice.paid"]`, "event_types", ""},
		{"status_active", `"status":"active"`, "status", ""},
		{"status_paused", `"status":"paused"`, "status", ""},
		{"mode_pull", `"mode":"pull"`, "", ""},
		{"mode_unknown", `"mode":"smtp"`, "mode", ""},
		{"mode_number", `"mode":1`, "mode", ""},
		{"auth_on_push", `"auth":"bearer"`, "auth", ""},
		{"coalesce_on_push", `"coalesce_by_subject":true`, "coalesce_by_subject", ""},
		{"payload_unknown", `"payload":"summary"`, "payload", ""},
		{"format_unknown", `"format":"xml"`, "format", ""},
		{"format_raw_with_notification", `"format":"raw","payload":"notification"`, "format", ""},
		{"signature_scheme_unknown", `"signature_scheme":"md5"`, "signature_scheme", ""},
		{"signature_header_invalid", `"signature_header":"X Signature"`, "signature_header", ""},
		{"signature_header_empty", `"signature_header":""`, "signature_header", ""},
		{"signature_header_reserved", `"signature_header":"Content-Type"`, "signature_header", ""},
		{"signature_header_webhook_signature", `"signature_header":"webhook-signature"`, "signature_header", ""},
		{"headers_array", `"headers":["X-A"]`, "headers", ""},
		{"headers_number_value", `"headers":{"X-A":1}`, "headers", ""},
		{"headers_invalid_name", `"headers":{"X A":"1"}`, "headers", ""},
		{"headers_empty_name", `"headers":{"":"1"}`, "headers", ""},
		{"headers_content_type", `"headers":{"Content-Type":"text/plain"}`, "headers.Content-Type", ""},
		{"headers_host", `"headers":{"host":"example.com"}`, "headers.host", ""},
		{"headers_webhook_signature", `"headers":{"Webhook-Signature":"v1,x"}`, "headers.Webhook-Signature", ""},
		{"headers_signature_header", `"signature_header":"X-Sig","headers":{"x-sig":"1"}`, "headers.x-sig", ""},
		{"headers_newline_value", `"headers":{"X-A":"a\r\nX-B: b"}`, "headers.X-A", ""},
		{"headers_nul_value", `"headers":{"X-A":"a\u0000b"}`, "headers.X-A", ""},
		{"headers_control_value", `"headers":{"X-A":"a\u0001b"}`, "headers.X-A", ""},
		{"headers_del_value", `"headers":{"X-A":"a\u007fb"}`, "headers.X-A", ""},
		{"headers_value_too_long", `"headers":{"X-A":"` + long(4097) + `"}`, "headers.X-A", ""},
		{"headers_lone_surrogate", `"headers":{"X-A":"a\ud800"}`, "headers.X-A", ""},
		{"name_lone_surrogate", `"name":"a\ud800"`, "name", ""},
		{"url_lone_surrogate", `"url":"http://127.0.0.1:9/?q=\ud800"`, "url", ""},
		// A wrong type inside a list or map names the element, as other
		// errors there do.
		{"headers_number_value_named", `"headers":{"X-A":1}`, "headers.X-A", ""},
		{"event_types_number_indexed", `"event_types":["invoice.paid",1]`, "event_types[1]", ""},
		{"timeout_zero", `"timeout_seconds":0`, "timeout_seconds", ""},
		{"timeout_31", `"timeout_seconds":31`, "timeout_seconds", ""},
		{"timeout_negative", `"timeout_seconds":-1`, "timeout_seconds", ""},
		{"timeout_fraction", `"timeout_seconds":1.5`, "timeout_seconds", ""},
		{"timeout_string", `"timeout_seconds":"10"`, "timeout_seconds", ""},
		{"timeout_huge", `"timeout_seconds":1e40`, "timeout_seconds", ""},
		{"failure_threshold_zero", `"failure_threshold":0`, "failure_threshold", ""},
		{"failure_threshold_negative", `"failure_threshold":-5`, "failure_threshold", ""},
		{"failure_threshold_too_big", `"failure_threshold":1001`, "failure_threshold", ""},
		{"failure_threshold_bool", `"failure_threshold":true`, "failure_threshold", ""},
		{"retry_schedule_string", `"retry_schedule":"5s,5m"`, "retry_schedule", ""},
		{"retry_schedule_number", `"retry_schedule":[5]`, "retry_schedule", ""},
		{"retry_schedule_garbage", `"retry_schedule":["5s","soon"]`, "retry_schedule[1]", ""},
		{"retry_schedule_zero", `"retry_schedule":["0s"]`, "retry_schedule[0]", ""},
		{"retry_schedule_negative", `"retry_schedule":["-5s"]`, "retry_schedule[0]", ""},
		{"retry_schedule_no_unit", `"retry_schedule":["5"]`, "retry_schedule[0]", ""},
		{"retry_schedule_too_long_delay", `"retry_schedule":["169h"]`, "retry_schedule[0]", ""},
		{"retry_schedule_overflow", `"retry_schedule":["99999999999h"]`, "retry_schedule[0]", ""},
		{"retry_schedule_too_many", `"retry_schedule":[` + strings.Repeat(`"1s",`, 50) + `"1s"]`, "retry_schedule", ""},
		{"api_version_number", `"api_version":1`, "api_version", ""},
		{"api_version_object", `"api_version":{}`, "api_version", ""},
		{"api_version_too_long", `"api_version":"` + long(101) + `"`, "api_version", ""},
		{"unknown_field", `"colour":"blue"`, "colour", ""},
	}
	createOnly := []fc{
		{"secret_garbage", `"secret":"hunter2"`, "secret", ""},
		{"secret_no_prefix", `"secret":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"`, "secret", ""},
		{"secret_short", `"secret":"whsec_` + base64.StdEncoding.EncodeToString(make([]byte, 8)) + `"`, "secret", ""},
		{"secret_long", `"secret":"whsec_` + base64.StdEncoding.EncodeToString(make([]byte, 65)) + `"`, "secret", ""},
		{"secret_bad_base64", `"secret":"whsec_!!!!"`, "secret", ""},
		{"secret_number", `"secret":1`, "secret", ""},
	}
	addAll("POST", subsPath, unproc, createCases)
	for _, c := range append(slices.Clone(fieldCases), createOnly...) {
		addAll("POST", subsPath, unproc, []fc{{c.name, sub(c.body), c.mention, c.code}})
	}
	for _, c := range fieldCases {
		addAll("PATCH", subPath, unproc, []fc{{c.name, "{" + c.body + "}", c.mention, c.code}})
	}
	addAll("PATCH", subPath, unproc, []fc{
		{"secret", `{"secret":"whsec_` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`, "secret", ""},
	})

	for _, c := range []struct{ name, query, mention string }{
		{"type_invalid", "type=Invoice%20Paid", "type"},
		{"type_nul", "type=a%00", "type"},
		{"subject_invalid_utf8", "subject=%FF", "subject"},
		{"subject_nul", "subject=user%2F%00", "subject"},
		{"since_garbage", "since=yesterday", "since"},
		{"since_date_only", "since=2026-01-02", "since"},
		{"until_number", "until=1767225600", "until"},
	} {
		out = append(out, badCase{name: "GET " + evPath + "?" + c.name, method: "GET", path: evPath + "?" + c.query,
			status: unproc, code: "invalid_field", mention: c.mention})
	}

	mbox := subsPath + "/{pull}/mailbox"
	addAll("POST", mbox+"/claim", unproc, []fc{
		{"count_zero", `{"count":0}`, "count", ""},
		{"count_too_many", `{"count":1001}`, "count", ""},
		{"count_string", `{"count":"1"}`, "count", ""},
		{"lease_zero", `{"lease_seconds":0}`, "lease_seconds", ""},
		{"lease_too_long", `{"lease_seconds":43201}`, "lease_seconds", ""},
		{"wait_too_long", `{"wait_seconds":31}`, "wait_seconds", ""},
		{"wait_negative", `{"wait_seconds":-1}`, "wait_seconds", ""},
		{"type_invalid", `{"type":"Invoice Paid"}`, "type", ""},
		{"subject_nul", `{"subject":"patient/\u0000"}`, "subject", ""},
		{"unknown_field", `{"limit":1}`, "limit", ""},
	})
	// The batch itself; each acknowledgement's own fields are refused in
	// its result instead (ackItemCases).
	addAll("POST", mbox+"/ack", unproc, []fc{
		{"acks_missing", `{}`, "acks", ""},
		{"acks_empty", `{"acks":[]}`, "acks", ""},
		{"acks_null", `{"acks":null}`, "acks", ""},
		{"acks_too_many", `{"acks":[` + strings.Repeat(`{"id":"msg_x","action":"success"},`, 1000) + `{"id":"msg_x","action":"success"}]}`, "acks", ""},
		{"acks_object", `{"acks":{}}`, "acks", ""},
		{"ack_string", `{"acks":["msg_x"]}`, "acks", ""},
		{"id_number", `{"acks":[{"id":1,"action":"success"}]}`, "id", ""},
		{"delay_string", `{"acks":[{"id":"msg_x","action":"release","delay_seconds":"5"}]}`, "delay_seconds", ""},
		{"unknown_item_field", `{"acks":[{"id":"msg_x","action":"success","bogus":1}]}`, "bogus", ""},
	})
	addAll("POST", mbox+"/{msg}/failed", unproc, []fc{
		{"reason_missing", `{}`, "reason", ""},
		{"reason_nul", `{"reason":"a\u0000"}`, "reason", ""},
		{"delay_on_failed", `{"reason":"x","delay_seconds":5}`, "delay_seconds", ""},
	})
	addAll("POST", mbox+"/{msg}/release", unproc, []fc{
		{"delay_negative", `{"delay_seconds":-1}`, "delay_seconds", ""},
		{"delay_too_long", `{"delay_seconds":604801}`, "delay_seconds", ""},
		{"lease_on_release", `{"lease_seconds":5}`, "lease_seconds", ""},
	})
	addAll("POST", mbox+"/{msg}/extend", unproc, []fc{
		{"lease_missing", `{}`, "lease_seconds", ""},
		{"lease_zero", `{"lease_seconds":0}`, "lease_seconds", ""},
	})
	for _, action := range []string{"success", "release", "extend"} {
		body := `{}`
		if action == "extend" {
			body = `{"lease_seconds":30}`
		}
		// The fixture's message is new, not claimed: there is no lease to act under.
		out = append(out, badCase{name: "POST " + mbox + "/" + action + "/not_claimed", method: "POST",
			path: mbox + "/{msg}/" + action, body: body, status: http.StatusConflict, code: "lease_lost"})
	}
	for _, c := range []struct{ name, query, mention string }{
		{"count_zero", "count=0", "count"},
		{"count_too_many", "count=1001", "count"},
		{"status_bogus", "status=archived", "status"},
		{"type_invalid", "type=A%20B", "type"},
		{"cursor_invalid_utf8", "cursor=%FF", "cursor"},
	} {
		out = append(out, badCase{name: "GET " + mbox + "?" + c.name, method: "GET", path: mbox + "?" + c.query,
			status: unproc, code: "invalid_field", mention: c.mention})
	}
	// A push subscription has no mailbox.
	out = append(out, badCase{name: "POST " + subsPath + "/{sub}/mailbox/claim/push", method: "POST",
		path: subsPath + "/{sub}/mailbox/claim", body: `{}`, status: http.StatusNotFound, code: "not_found", mention: "mailbox"})
	// Inbound webhook fields, on create and PATCH alike.
	inbField := []fc{
		{"name_number", `"name":1`, "name", ""},
		{"name_blank", `"name":"  "`, "name", ""},
		{"name_too_long", `"name":"` + long(201) + `"`, "name", ""},
		{"name_nul", `"name":"a\u0000"`, "name", ""},
		{"name_lone_surrogate", `"name":"a\ud800"`, "name", ""},
		{"name_newline", `"name":"a\nb"`, "name", ""},
		{"event_type_unknown", `"event_type":"invoice.refunded"`, "event_type", "unknown_event_type"},
		{"event_type_reserved", `"event_type":"webhook.test"`, "event_type", "unknown_event_type"},
		{"event_type_invalid", `"event_type":"Invoice Paid"`, "event_type", ""},
		{"event_type_empty", `"event_type":""`, "event_type", ""},
		{"event_type_number", `"event_type":1`, "event_type", ""},
		{"event_type_array", `"event_type":["invoice.paid"]`, "event_type", ""},
		{"event_type_nul", `"event_type":"invoice.paid\u0000"`, "event_type", ""},
		{"event_type_lone_surrogate", `"event_type":"invoice.paid\udc00"`, "event_type", ""},
		{"verify_string", `"verify":"github"`, "verify", ""},
		{"verify_number", `"verify":1`, "verify", ""},
		{"verify_array", `"verify":[]`, "verify", ""},
		{"verify_scheme_missing", `"verify":{"secret":"s"}`, "verify.scheme", ""},
		{"verify_scheme_unknown", `"verify":{"scheme":"md5","secret":"s"}`, "verify.scheme", ""},
		{"verify_scheme_number", `"verify":{"scheme":1,"secret":"s"}`, "verify.scheme", ""},
		{"verify_secret_missing", `"verify":{"scheme":"github"}`, "verify.secret", ""},
		{"verify_secret_empty", `"verify":{"scheme":"github","secret":""}`, "verify.secret", ""},
		{"verify_secret_nul", `"verify":{"scheme":"github","secret":"s\u0000"}`, "verify.secret", ""},
		{"verify_secret_lone_surrogate", `"verify":{"scheme":"github","secret":"s\ud800"}`, "verify.secret", ""},
		{"verify_secret_too_long", `"verify":{"scheme":"github","secret":"` + long(1025) + `"}`, "verify.secret", ""},
		{"verify_unknown_field", `"verify":{"scheme":"github","secret":"s","colour":"blue"}`, "verify.colour", ""},
		{"verify_duplicate_field", `"verify":{"scheme":"github","secret":"s","secret":"t"}`, "verify.secret", ""},
		{"verify_header_on_preset", `"verify":{"scheme":"github","secret":"s","header":"X-Sig"}`, "verify.header", ""},
		{"verify_hmac_header_missing", `"verify":{"scheme":"hmac","secret":"s"}`, "verify.header", ""},
		{"verify_hmac_header_invalid", `"verify":{"scheme":"hmac","secret":"s","header":"X Sig"}`, "verify.header", ""},
		{"verify_hmac_algorithm", `"verify":{"scheme":"hmac","secret":"s","header":"X-Sig","algorithm":"md5"}`, "verify.algorithm", ""},
		{"verify_hmac_encoding", `"verify":{"scheme":"hmac","secret":"s","header":"X-Sig","encoding":"base32"}`, "verify.encoding", ""},
		{"verify_standard_secret", `"verify":{"scheme":"standard","secret":"hunter2"}`, "verify.secret", ""},
		{"verify_standard_short", `"verify":{"scheme":"standard","secret":"whsec_` + base64.StdEncoding.EncodeToString(make([]byte, 8)) + `"}`, "verify.secret", ""},
		{"verify_masked_other_scheme", `"verify":{"scheme":"stripe","secret":"***"}`, "verify.secret", ""},
		{"dedupe_header_invalid", `"dedupe_header":"X Id"`, "dedupe_header", ""},
		{"dedupe_header_number", `"dedupe_header":1`, "dedupe_header", ""},
		{"dedupe_header_nul", `"dedupe_header":"X-Id\u0000"`, "dedupe_header", ""},
		{"dedupe_header_unicode", `"dedupe_header":"X-Ïd"`, "dedupe_header", ""},
		{"dedupe_header_too_long", `"dedupe_header":"X-` + long(100) + `"`, "dedupe_header", ""},
		{"dedupe_header_authorization", `"dedupe_header":"Authorization"`, "dedupe_header", ""},
		{"dedupe_header_secret", `"dedupe_header":"X-Api-Key"`, "dedupe_header", ""},
		{"unknown_field", `"colour":"blue"`, "colour", ""},
		{"status", `"status":"disabled"`, "status", ""},
		{"token", `"token":"pba_x"`, "token", ""},
	}
	const inbsPath, inbPath, inbTokenPath = "/api/v1/workspaces/{ws}/inbound", "/api/v1/workspaces/{ws}/inbound/{inb}", "/api/v1/workspaces/{ws}/inbound/{inb}/token"
	inb := func(extra string) string {
		b := `{"name":"crm","auth":"bearer","event_type":"invoice.paid"`
		if extra != "" {
			b += "," + extra
		}
		return b + "}"
	}
	addAll("POST", inbsPath, unproc, []fc{
		{"name_missing", `{"auth":"bearer","event_type":"invoice.paid"}`, "name", ""},
		{"name_null", `{"name":null,"auth":"bearer","event_type":"invoice.paid"}`, "name", ""},
		{"event_type_missing", `{"name":"crm","auth":"bearer"}`, "event_type", ""},
		{"event_type_null", `{"name":"crm","auth":"bearer","event_type":null}`, "event_type", ""},
		{"auth_unknown", inb(`"auth":"digest"`), "auth", ""},
		{"auth_empty", inb(`"auth":""`), "auth", ""},
		{"auth_upper_case", inb(`"auth":"Bearer"`), "auth", ""},
		{"auth_number", inb(`"auth":1`), "auth", ""},
		{"auth_nul", inb(`"auth":"bearer\u0000"`), "auth", ""},
		{"verify_masked_on_create", inb(`"verify":{"scheme":"github","secret":"***"}`), "verify.secret", ""},
	})
	for _, c := range inbField {
		addAll("POST", inbsPath, unproc, []fc{{c.name, inb(c.body), c.mention, c.code}})
		addAll("PATCH", inbPath, unproc, []fc{{c.name, "{" + c.body + "}", c.mention, c.code}})
	}
	addAll("PATCH", inbPath, unproc, []fc{
		{"auth", `{"auth":"bearer"}`, "auth", ""},
	})
	addAll("POST", inbTokenPath, unproc, []fc{
		{"user_id_unknown", `{"user_id":"` + id.New(id.User) + `"}`, "user_id", ""},
		{"user_id_garbage", `{"user_id":"x"}`, "user_id", ""},
		{"user_id_number", `{"user_id":1}`, "user_id", ""},
		{"user_id_nul", `{"user_id":"usr_\u0000"}`, "user_id", ""},
		{"user_id_lone_surrogate", `{"user_id":"usr_\ud800"}`, "user_id", ""},
		{"user_id_without_access", `{"user_id":"{usr}"}`, "user_id", ""},
		{"unknown_field", `{"owner":"x"}`, "owner", ""},
	})

	addAll("POST", recovPath, unproc, []fc{
		{"since_missing", `{}`, "since", ""},
		{"since_empty", `{"since":""}`, "since", ""},
		{"since_garbage", `{"since":"yesterday"}`, "since", ""},
		{"since_date_only", `{"since":"2026-01-02"}`, "since", ""},
		{"since_no_zone", `{"since":"2026-01-02T15:04:05"}`, "since", ""},
		{"since_number", `{"since":1767225600}`, "since", ""},
	})
	return out
}

type errorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// send makes one request to the node: the admin token and a JSON content
// type unless c.header says otherwise.
func send(t *testing.T, f *fixture, c badCase) (*http.Response, []byte) {
	t.Helper()
	path := strings.NewReplacer("{ws}", f.ws, "{ws2}", f.ws2, "{sub}", f.sub, "{inb}", f.inb, "{evt}", f.evt, "{dlv}", f.dlv,
		"{att}", f.att, "{usr}", f.usr, "{tok}", f.tok, "{pull}", f.pull, "{msg}", f.msg).Replace(c.path)
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(strings.NewReplacer("{usr}", f.usr).Replace(c.body))
	}
	req, err := http.NewRequest(c.method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkError asserts that resp is exactly the error c expects.
func checkError(t *testing.T, c badCase, resp *http.Response, b []byte) {
	t.Helper()
	if resp.StatusCode >= 500 {
		t.Fatalf("bad input got %d, a server error (a panic or an unmapped error): %s", resp.StatusCode, b)
	}
	if resp.StatusCode != c.status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e errorBody
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil {
		t.Fatalf("body is not the error shape {\"error\":{\"code\",\"message\"}}: %s (%v)", b, err)
	}
	if e.Error.Code != c.code {
		t.Errorf("code %q, want %q (message %q)", e.Error.Code, c.code, e.Error.Message)
	}
	if strings.TrimSpace(e.Error.Message) == "" {
		t.Errorf("empty message")
	}
	if c.mention != "" && !strings.Contains(e.Error.Message, c.mention) {
		t.Errorf("message %q does not mention %q", e.Error.Message, c.mention)
	}
	if c.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without a WWW-Authenticate header")
	}
	if c.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != c.allow {
		t.Errorf("Allow %q, want %q", resp.Header.Get("Allow"), c.allow)
	}
}

// activityTimes are the fields that a token's use changes.
var activityTimes = regexp.MustCompile(`"last_(active_at|used_at)":("[^"]*"|null)`)

// TestBadInput sends every kind of bad input to every route and requires
// the exact status and error code, the JSON error shape, and no 5xx; then
// that none of it changed anything.
func TestBadInput(t *testing.T) {
	apptest.Engines(t, testBadInput)
}

func testBadInput(t *testing.T, engine func(*config.Config)) {
	f := newFixture(t, engine)
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{
			"/api/v1/workspaces",
			"/api/v1/workspaces/" + f.ws + "/event-types",
			"/api/v1/workspaces/" + f.ws2 + "/event-types",
			"/api/v1/workspaces/" + f.ws + "/subscriptions",
			"/api/v1/workspaces/" + f.ws2 + "/subscriptions",
			"/api/v1/workspaces/" + f.ws + "/inbound",
			"/api/v1/workspaces/" + f.ws2 + "/inbound",
			"/api/v1/workspaces/" + f.ws + "/inbound/" + f.inb + "/requests",
			"/api/v1/workspaces/" + f.ws + "/events/" + f.evt,
			"/api/v1/workspaces/" + f.ws + "/subscriptions/" + f.sub + "/attempts",
			"/api/v1/users",
			"/api/v1/users/" + f.usr + "/tokens",
			"/api/v1/workspaces/" + f.ws + "/subscriptions/" + f.pull + "/mailbox",
		} {
			status, body := f.srv.Do(t, "GET", p, nil)
			// Using a token is activity: its times move, nothing else may.
			body = activityTimes.ReplaceAll(body, nil)
			fmt.Fprintf(&b, "%s: %d %s\n", p, status, body)
		}
		return b.String()
	}
	before := snapshot()

	cases := append(genericCases(f), fieldCases()...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			resp, b := send(t, f, c)
			checkError(t, c, resp, b)
		})
	}

	// A batch acknowledgement answers 200 and refuses each bad
	// acknowledgement in its own result, naming acks[i].field.
	ackPath := "/api/v1/workspaces/" + f.ws + "/subscriptions/" + f.pull + "/mailbox/ack"
	for _, c := range ackItemCases(f.msg) {
		t.Run("POST "+ackPath+"/item/"+c.name, func(t *testing.T) {
			var got struct {
				Results []struct {
					ID     string
					Status string
					Error  *struct{ Code, Message string }
				}
			}
			f.srv.JSON(t, "POST", ackPath, `{"acks":[{"id":"msg_00000000000000000000000000","action":"success"},`+c.item+`]}`,
				http.StatusOK, &got)
			if len(got.Results) != 2 {
				t.Fatalf("%d results, want 2", len(got.Results))
			}
			if e := got.Results[0].Error; e == nil || e.Code != "not_found" {
				t.Errorf("results[0].error = %+v, want not_found", e)
			}
			e := got.Results[1].Error
			if e == nil || e.Code != c.code || !strings.Contains(e.Message, c.mention) || got.Results[1].Status != "" {
				t.Errorf("results[1] = %+v (error %+v), want %s mentioning %q", got.Results[1], e, c.code, c.mention)
			}
		})
	}

	if after := snapshot(); after != before {
		t.Errorf("bad input changed the stored state\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// ackItemCase is one bad acknowledgement in a batch: refused in its result.
type ackItemCase struct{ name, item, code, mention string }

func ackItemCases(msg string) []ackItemCase {
	m := `"id":"` + msg + `"`
	return []ackItemCase{
		{"id_missing", `{"action":"success"}`, "invalid_field", "acks[1].id"},
		{"id_invalid", `{"id":"msg_\u0000","action":"success"}`, "invalid_field", "acks[1].id"},
		{"action_missing", `{` + m + `}`, "invalid_field", "acks[1].action"},
		{"action_bogus", `{` + m + `,"action":"archive"}`, "invalid_field", "acks[1].action"},
		{"lease_id_invalid", `{` + m + `,"action":"success","lease_id":"a\u0000"}`, "invalid_field", "acks[1].lease_id"},
		{"reason_missing", `{` + m + `,"action":"failed"}`, "invalid_field", "acks[1].reason"},
		{"reason_nul", `{` + m + `,"action":"failed","reason":"a\u0000"}`, "invalid_field", "acks[1].reason"},
		{"reason_on_success", `{` + m + `,"action":"success","reason":"x"}`, "invalid_field", "acks[1].reason"},
		{"delay_on_failed", `{` + m + `,"action":"failed","reason":"x","delay_seconds":5}`, "invalid_field", "acks[1].delay_seconds"},
		{"delay_negative", `{` + m + `,"action":"release","delay_seconds":-1}`, "invalid_field", "acks[1].delay_seconds"},
		{"delay_too_long", `{` + m + `,"action":"release","delay_seconds":604801}`, "invalid_field", "acks[1].delay_seconds"},
		{"lease_on_release", `{` + m + `,"action":"release","lease_seconds":5}`, "invalid_field", "acks[1].lease_seconds"},
		{"lease_missing", `{` + m + `,"action":"extend"}`, "invalid_field", "acks[1].lease_seconds"},
		{"lease_zero", `{` + m + `,"action":"extend","lease_seconds":0}`, "invalid_field", "acks[1].lease_seconds"},
		// The fixture's message is new, not claimed: there is no lease to act under.
		{"not_claimed", `{` + m + `,"action":"success"}`, "lease_lost", "lease"},
		{"not_found", `{"id":"msg_00000000000000000000000001","action":"success"}`, "not_found", "message"},
	}
}

// TestPrivateTargets: without --allow-private-targets, a push URL that is
// or resolves to an internal address is refused at creation and on change.
func TestPrivateTargets(t *testing.T) {
	srv := apptest.Start(t, func(c *config.Config) { c.AllowPrivateTargets = false })
	ws := srv.Workspace(t, "invoice.paid")
	f := &fixture{srv: srv, ws: ws}
	var sub struct{ ID string }
	// A public literal address: accepted without a DNS lookup.
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
		"name": "public", "url": "https://93.184.215.14/hook", "event_types": []string{"*"},
	}, http.StatusCreated, &sub)
	f.sub = sub.ID
	for _, u := range []string{
		"http://127.0.0.1:9/x", "http://localhost/x", "http://LOCALHOST./x", "http://api.localhost/x",
		"http://[::1]/x", "http://0.0.0.0/x", "http://10.1.2.3/x", "http://192.168.0.1/x", "http://172.16.0.1/x",
		"http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "http://[::ffff:127.0.0.1]/x",
		"http://127.1/x", "http://2130706433/x", "http://0x7f000001/x", "https://user:pass@127.0.0.1/x",
	} {
		body, _ := json.Marshal(map[string]any{"name": "internal", "url": u, "event_types": []string{"*"}})
		for _, c := range []badCase{
			{method: "POST", path: "/api/v1/workspaces/{ws}/subscriptions", body: string(body)},
			{method: "PATCH", path: "/api/v1/workspaces/{ws}/subscriptions/{sub}", body: `{"url":"` + u + `"}`},
		} {
			c.name, c.status, c.code, c.mention = c.method+" "+u, http.StatusUnprocessableEntity, "private_target", "url"
			t.Run(c.name, func(t *testing.T) {
				resp, b := send(t, f, c)
				checkError(t, c, resp, b)
			})
		}
	}
	var got struct{ URL string }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions/"+sub.ID, nil, http.StatusOK, &got)
	if got.URL != "https://93.184.215.14/hook" {
		t.Errorf("a refused PATCH changed the url to %q", got.URL)
	}
}

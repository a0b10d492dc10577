// The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json. Each
// route's entry names the Go types its handler decodes and answers with;
// their schemas are derived from those types by reflection, so that the
// document cannot drift from what the handlers send. A test checks that
// every registered route is documented and that real answers match.
package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/inbound"
	"github.com/postbode/postbode/internal/listing"
	"github.com/postbode/postbode/internal/mailbox"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
	"github.com/postbode/postbode/internal/version"
	"github.com/postbode/postbode/internal/workspace"
)

// operation documents one route.
type operation struct {
	tag, summary string
	request      any // a value of the body's type; nil for none
	optional     bool
	status       int
	response     any // a value of the answer's type; nil for no body
	query        []param
	auth         string // "" integration token; "mailbox"; "inbound"; "none"
}

type param struct{ name, kind, doc string }

var (
	pageParams = []param{{"cursor", "string", "next_cursor of the previous page"}, {"limit", "integer", "page size"}}
	idem       = param{"Idempotency-Key", "header", "a repeat within 24 hours returns the first answer and creates nothing"}
)

// operations documents every route, by its ServeMux pattern.
var operations = map[string]operation{
	"POST /api/v1/workspaces":                                           {tag: "Workspaces", summary: "Create a workspace", request: nameInput{}, status: 201, response: store.Workspace{}},
	"GET /api/v1/workspaces":                                            {tag: "Workspaces", summary: "List the caller's workspaces", status: 200, response: listing.List[store.Workspace]{}, query: pageParams},
	"POST /api/v1/workspaces/{ws}/event-types":                          {tag: "Event types", summary: "Add an event type", request: workspace.EventTypeInput{}, status: 201, response: store.EventType{}},
	"GET /api/v1/workspaces/{ws}/event-types":                           {tag: "Event types", summary: "List the event types", status: 200, response: listing.List[store.EventType]{}, query: pageParams},
	"POST /api/v1/workspaces/{ws}/events":                               {tag: "Events", summary: "Publish an event (202 once durably stored)", request: event.Input{}, status: 202, response: event.Published{}, query: []param{idem}},
	"POST /api/v1/workspaces/{ws}/events/batch":                         {tag: "Events", summary: "Publish 1 to 1000 events together, all or none", request: batchInput{}, status: 202, response: batchOutput{}},
	"GET /api/v1/workspaces/{ws}/events":                                {tag: "Events", summary: "List events, newest first", status: 200, response: listing.List[store.Event]{}, query: append([]param{{"type", "string", "event type"}, {"subject", "string", "subject"}, {"since", "string", "RFC 3339, inclusive"}, {"until", "string", "RFC 3339, exclusive"}}, pageParams...)},
	"GET /api/v1/workspaces/{ws}/events/{id}":                           {tag: "Events", summary: "An event with its deliveries", status: 200, response: event.WithDeliveries{}},
	"POST /api/v1/workspaces/{ws}/subscriptions":                        {tag: "Subscriptions", summary: "Create a subscription; the secret (push) or token (pull) is shown once", request: subscription.Input{}, status: 201, response: subscription.Created{}},
	"GET /api/v1/workspaces/{ws}/subscriptions":                         {tag: "Subscriptions", summary: "List subscriptions", status: 200, response: listing.List[store.Subscription]{}, query: pageParams},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}":                    {tag: "Subscriptions", summary: "Read a subscription", status: 200, response: store.Subscription{}},
	"PATCH /api/v1/workspaces/{ws}/subscriptions/{id}":                  {tag: "Subscriptions", summary: "Change a subscription", request: subscription.Input{}, status: 200, response: store.Subscription{}},
	"DELETE /api/v1/workspaces/{ws}/subscriptions/{id}":                 {tag: "Subscriptions", summary: "Delete a subscription", status: 204},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/test":              {tag: "Subscriptions", summary: "Send a webhook.test event now", status: 200, response: testOutput{}},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts":           {tag: "Subscriptions", summary: "The attempt log, newest first (bodies cut at 4 KiB)", status: 200, response: listing.List[store.Attempt]{}, query: pageParams},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/attempts/{attempt}": {tag: "Subscriptions", summary: "One attempt, whole", status: 200, response: store.Attempt{}},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/enable":            {tag: "Subscriptions", summary: "Make active; held deliveries are released", status: 200, response: store.Subscription{}},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/disable":           {tag: "Subscriptions", summary: "Pause; new deliveries are held", status: 200, response: store.Subscription{}},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/rotate-secret":     {tag: "Subscriptions", summary: "A new secret; the old one signs too for 24 hours", status: 200, response: subscription.Created{}},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/recover":           {tag: "Subscriptions", summary: "Queue failed and held deliveries created since a time again", request: recoverInput{}, status: 200, response: recoverOutput{}},
	"POST /api/v1/workspaces/{ws}/deliveries/{id}/resend":               {tag: "Events", summary: "One more delivery of that event to that subscription", status: 202, response: store.Delivery{}},
	"POST /api/v1/workspaces/{ws}/inbound":                              {tag: "Inbound webhooks", summary: "Create an inbound webhook; its token is shown once", request: inbound.Input{}, status: 201, response: inbound.Created{}},
	"GET /api/v1/workspaces/{ws}/inbound":                               {tag: "Inbound webhooks", summary: "List inbound webhooks", status: 200, response: listing.List[inbound.View]{}, query: pageParams},
	"GET /api/v1/workspaces/{ws}/inbound/{id}":                          {tag: "Inbound webhooks", summary: "Read an inbound webhook", status: 200, response: inbound.View{}},
	"PATCH /api/v1/workspaces/{ws}/inbound/{id}":                        {tag: "Inbound webhooks", summary: "Change an inbound webhook", request: inbound.Input{}, status: 200, response: inbound.View{}},
	"DELETE /api/v1/workspaces/{ws}/inbound/{id}":                       {tag: "Inbound webhooks", summary: "Delete an inbound webhook and its token", status: 204},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/enable":                  {tag: "Inbound webhooks", summary: "Accept requests again", status: 200, response: inbound.View{}},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/disable":                 {tag: "Inbound webhooks", summary: "Answer 403 inbound_disabled", status: 200, response: inbound.View{}},
	"POST /api/v1/workspaces/{ws}/inbound/{id}/token":                   {tag: "Inbound webhooks", summary: "A new app token (the old one stops working)", request: userInput{}, optional: true, status: 200, response: inbound.Created{}},
	"GET /api/v1/workspaces/{ws}/inbound/{id}/requests":                 {tag: "Inbound webhooks", summary: "The requests received, newest first", status: 200, response: listing.List[store.InboundRequest]{}, query: pageParams},
	"POST /api/v1/workspaces/{ws}/portal-links":                         {tag: "Portal", summary: "A link to the customer portal of the workspace", request: portalLinkInput{}, optional: true, status: 201, response: account.PortalLink{}},
	"GET /api/v1/me":                                                {tag: "Users", summary: "The calling user, with its workspaces", status: 200, response: account.User{}},
	"POST /api/v1/users":                                            {tag: "Users", summary: "Create a user (admins)", request: account.UserInput{}, status: 201, response: account.NewUser{}},
	"GET /api/v1/users":                                             {tag: "Users", summary: "List users", status: 200, response: listing.List[account.User]{}, query: pageParams},
	"GET /api/v1/users/{id}":                                        {tag: "Users", summary: "Read a user", status: 200, response: account.User{}},
	"PATCH /api/v1/users/{id}":                                      {tag: "Users", summary: "Change a user (admins)", request: account.UserInput{}, status: 200, response: account.User{}},
	"DELETE /api/v1/users/{id}":                                     {tag: "Users", summary: "Delete a user (409 user_has_tokens while it owns tokens)", status: 204},
	"POST /api/v1/users/{id}/reactivate":                            {tag: "Users", summary: "Make an inactive user active (admins)", status: 200, response: account.User{}},
	"POST /api/v1/users/{id}/password":                              {tag: "Users", summary: "Change the password; tokens keep working", request: passwordInput{}, status: 204},
	"POST /api/v1/users/{id}/tokens":                                {tag: "Tokens", summary: "A new integration token, shown once", request: nameInput{}, status: 201, response: account.NewToken{}},
	"GET /api/v1/users/{id}/tokens":                                 {tag: "Tokens", summary: "A user's tokens (never their secrets)", status: 200, response: listing.List[store.Token]{}, query: pageParams},
	"DELETE /api/v1/tokens/{id}":                                    {tag: "Tokens", summary: "Revoke a token", status: 204},
	"POST /api/v1/tokens/{id}/transfer":                             {tag: "Tokens", summary: "Move a token to another user; it keeps working", request: userInput{}, status: 200, response: store.Token{}},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/claim": {tag: "Mailboxes", summary: "Claim the oldest new messages (long polling with wait_seconds)", request: mailbox.ClaimInput{}, optional: true, status: 200, response: mailbox.Claims{}, auth: "mailbox"},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/ack":   {tag: "Mailboxes", summary: "Acknowledge up to 1000 messages at once", request: mailbox.AckBatchInput{}, status: 200, response: mailbox.AckResults{}, auth: "mailbox"},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/success": {tag: "Mailboxes", summary: "Done", request: mailbox.AckInput{}, optional: true, status: 200, response: store.MailboxMessage{}, auth: "mailbox"},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/failed":  {tag: "Mailboxes", summary: "Failed for good, with a reason", request: mailbox.AckInput{}, optional: true, status: 200, response: store.MailboxMessage{}, auth: "mailbox"},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/release": {tag: "Mailboxes", summary: "Back to new, claimable after delay_seconds", request: mailbox.AckInput{}, optional: true, status: 200, response: store.MailboxMessage{}, auth: "mailbox"},
	"POST /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/{message}/extend":  {tag: "Mailboxes", summary: "The lease runs lease_seconds from now", request: mailbox.AckInput{}, optional: true, status: 200, response: store.MailboxMessage{}, auth: "mailbox"},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox":                    {tag: "Mailboxes", summary: "Search messages, oldest first", status: 200, response: listing.List[store.MailboxMessage]{}, auth: "mailbox", query: []param{{"status", "string", "message status"}, {"type", "string", "event type"}, {"subject", "string", "subject"}, {"count", "integer", "page size, at most 1000"}, {"cursor", "string", "next_cursor of the previous page"}}},
	"GET /api/v1/workspaces/{ws}/subscriptions/{id}/mailbox/stats":              {tag: "Mailboxes", summary: "Counts by status", status: 200, response: map[string]int{}, auth: "mailbox"},
	"GET /api/v1/openapi.json": {tag: "Meta", summary: "This document", status: 200, response: map[string]any{}, auth: "none"},
	// Served by the inbound receiver, beside the API.
	"POST /in/{id}": {tag: "Inbound webhooks", summary: "Post to an inbound webhook: JSON or form body, at most 1 MiB; each accepted request becomes an event", request: map[string]any{}, status: 202, response: Received{}, auth: "inbound"},
}

// OpenAPI returns the document, built once.
var OpenAPI = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
})

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI())
}

type object = map[string]any

func buildOpenAPI() object {
	g := &schemaGen{components: object{}}
	paths := object{}
	patterns := make([]string, 0, len(operations))
	for p := range operations {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, pattern := range patterns {
		op := operations[pattern]
		method, path, _ := strings.Cut(pattern, " ")
		item, _ := paths[path].(object)
		if item == nil {
			item = object{}
			paths[path] = item
		}
		o := object{"tags": []string{op.tag}, "summary": op.summary, "operationId": operationID(method, path)}
		var params []object
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				params = append(params, object{"name": name, "in": "path", "required": true, "schema": object{"type": "string"}})
			}
		}
		for _, q := range op.query {
			in, typ := "query", q.kind
			if q.kind == "header" {
				in, typ = "header", "string"
			}
			params = append(params, object{"name": q.name, "in": in, "description": q.doc, "schema": object{"type": typ}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.request != nil {
			ct := object{"application/json": object{"schema": g.schema(reflect.TypeOf(op.request), false)}}
			if op.auth == "inbound" {
				ct["application/x-www-form-urlencoded"] = object{"schema": object{"type": "object", "additionalProperties": object{"type": "string"}}}
			}
			o["requestBody"] = object{"required": !op.optional, "content": ct}
		}
		resp := object{"description": http.StatusText(op.status)}
		if op.response != nil {
			resp["content"] = object{"application/json": object{"schema": g.schema(reflect.TypeOf(op.response), true)}}
		}
		o["responses"] = object{
			strconv.Itoa(op.status): resp,
			"default":               object{"description": "an error", "content": object{"application/json": object{"schema": object{"$ref": "#/components/schemas/Error"}}}},
		}
		switch op.auth {
		case "none":
			o["security"] = []object{}
		case "mailbox", "inbound":
			o["security"] = []object{{"bearer": []string{}}, {"basic": []string{}}}
		}
		item[strings.ToLower(method)] = o
	}
	g.components["Error"] = object{"type": "object", "required": []string{"error"}, "properties": object{
		"error": object{"type": "object", "required": []string{"code", "message"}, "properties": object{
			"code":    object{"type": "string", "description": "snake_case, stable"},
			"message": object{"type": "string", "description": "a sentence naming the field at fault"},
		}},
	}}
	return object{
		"openapi": "3.1.0",
		"info": object{"title": "Postbode API", "version": version.Version,
			"description": "The management API, the mailbox API and the inbound receiver of Postbode, a self-hosted webhook gateway. IDs are opaque strings with a type prefix; times are RFC 3339 UTC; errors are {\"error\":{\"code\",\"message\"}}; lists are {\"data\":[…],\"next_cursor\":…}."},
		"servers":  []object{{"url": "/"}},
		"security": []object{{"bearer": []string{}}},
		"paths":    paths,
		"components": object{
			"schemas": g.components,
			"securitySchemes": object{
				"bearer": object{"type": "http", "scheme": "bearer", "description": "an integration token; an app token on a mailbox or inbound webhook"},
				"basic":  object{"type": "http", "scheme": "basic", "description": "mailboxes and inbound webhooks with auth basic: the username and the app token as password"},
			},
		},
	}
}

// operationID is a name for a route: post_workspaces_ws_events.
func operationID(method, path string) string {
	r := strings.NewReplacer("/api/v1/", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_")
	return strings.ToLower(method) + "_" + r.Replace(strings.TrimPrefix(path, "/"))
}

// schemaGen derives JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses) from
// Go types the way encoding/json writes them.
type schemaGen struct{ components object }

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
	durType  = reflect.TypeOf(store.Duration(0))
)

// schema describes t. A response's fields without omitempty are required
// (encoding/json always writes them); a request's are all optional, the
// services say which they need. Named structs of responses become
// components.
func (g *schemaGen) schema(t reflect.Type, response bool) object {
	switch t {
	case timeType:
		return object{"type": "string", "format": "date-time"}
	case rawType:
		return object{} // any JSON value
	case durType:
		return object{"type": "string", "description": "a Go duration such as 5m0s"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem(), response))
	case reflect.String:
		return object{"type": "string"}
	case reflect.Bool:
		return object{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return object{"type": "integer"}
	case reflect.Float64:
		return object{"type": "number"}
	case reflect.Interface:
		return object{}
	case reflect.Slice:
		// A nil slice is written as null.
		return nullable(object{"type": "array", "items": g.schema(t.Elem(), response)})
	case reflect.Map:
		return nullable(object{"type": "object", "additionalProperties": g.schema(t.Elem(), response)})
	case reflect.Struct:
		name := componentName(t)
		if !response || name == "" {
			return g.object(t, response)
		}
		if _, done := g.components[name]; !done {
			g.components[name] = object{} // a placeholder against recursion
			g.components[name] = g.object(t, response)
		}
		return object{"$ref": "#/components/schemas/" + name}
	}
	panic("openapi: no schema for " + t.String())
}

func nullable(s object) object {
	if typ, ok := s["type"].(string); ok {
		c := object{}
		for k, v := range s {
			c[k] = v
		}
		c["type"] = []string{typ, "null"}
		return c
	}
	if len(s) == 0 {
		return s
	}
	return object{"anyOf": []object{s, {"type": "null"}}}
}

// componentName names a struct type by package and name (store.Event); an
// unnamed or generic one has none and is written in place.
func componentName(t reflect.Type) string {
	if t.Name() == "" || strings.Contains(t.Name(), "[") {
		return ""
	}
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
	if pkg == "api" { // the API's own answers
		return strings.ToUpper(t.Name()[:1]) + t.Name()[1:]
	}
	return pkg + "." + t.Name()
}

// object describes a struct's fields as encoding/json writes them, the
// fields of embedded structs included.
func (g *schemaGen) object(t reflect.Type, response bool) object {
	props := object{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			props[name] = g.schema(f.Type, response)
			if response && !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	o := object{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		o["required"] = required
	}
	return o
}

package event_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/ingest"
	"github.com/postbode/postbode/internal/metrics"
	"github.com/postbode/postbode/internal/servicetest"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/workspace"
)

// noDispatch keeps every delivery in the store.
type noDispatch struct{}

func (noDispatch) Reserve(string, int) (string, time.Duration, bool) { return "", 0, false }
func (noDispatch) Release(string, int)                               {}
func (noDispatch) Handoff(store.ClaimedDelivery)                     {}
func (noDispatch) Notify()                                           {}

type env struct {
	ctx   context.Context
	svc   *event.Service
	admin *auth.Principal
	ws    string
}

func newEnv(t *testing.T, st store.Store) *env {
	ctx := context.Background()
	wss := workspace.New(st, time.Now)
	in := ingest.New(st, noDispatch{}, 1, metrics.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); in.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	e := &env{ctx: ctx, svc: event.New(st, wss, in, noDispatch{}, time.Now), admin: servicetest.User(t, st, store.RoleAdmin, "a@example.com")}
	w, err := wss.Create(ctx, e.admin, "Main")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	for _, et := range []workspace.EventTypeInput{
		{Name: "plain", Label: "Plain"},
		{Name: "invoice.paid", Label: "Invoice paid", Schema: json.RawMessage(`{"type":"object","required":["amount"],
			"properties":{"amount":{"type":"number"},"lines":{"type":"array","items":{"type":"object","properties":{"qty":{"type":"integer"}}}}}}`)},
	} {
		if _, err := wss.CreateEventType(ctx, e.admin, e.ws, et); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func TestPublishRefusesBadEvents(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		cases := []struct {
			name string
			in   event.Input
			key  string
			want servicetest.Want
		}{
			{"no data", event.Input{Type: "plain"}, "", servicetest.Want{Kind: errs.Invalid, Field: "data"}},
			{"null data", event.Input{Type: "plain", Data: json.RawMessage(`null`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "data"}},
			{"escaped NUL in data", event.Input{Type: "plain", Data: json.RawMessage(`{"a":"x\u0000"}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "data"}},
			{"NUL in a key of data", event.Input{Type: "plain", Data: json.RawMessage(`{"\u0000":1}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "data"}},
			{"invalid UTF-8 in data", event.Input{Type: "plain", Data: json.RawMessage("{\"a\":\"\xff\"}")}, "", servicetest.Want{Kind: errs.Invalid, Field: "data"}},
			{"unknown type", event.Input{Type: "nope", Data: json.RawMessage(`{}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "type", Code: "unknown_event_type"}},
			{"bad type", event.Input{Type: "No Pe", Data: json.RawMessage(`{}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "type"}},
			{"NUL user_id", event.Input{Type: "plain", Data: json.RawMessage(`{}`), UserID: ptr("u\x00")}, "", servicetest.Want{Kind: errs.Invalid, Field: "user_id"}},
			{"invalid UTF-8 subject", event.Input{Type: "plain", Data: json.RawMessage(`{}`), Subject: ptr("\xff")}, "", servicetest.Want{Kind: errs.Invalid, Field: "subject"}},
			{"blank subject", event.Input{Type: "plain", Data: json.RawMessage(`{}`), Subject: ptr(" ")}, "", servicetest.Want{Kind: errs.Invalid, Field: "subject"}},
			{"NUL key", event.Input{Type: "plain", Data: json.RawMessage(`{}`)}, "k\x00", servicetest.Want{Kind: errs.Invalid, Field: "Idempotency-Key"}},
			{"invalid UTF-8 key", event.Input{Type: "plain", Data: json.RawMessage(`{}`)}, "\xff", servicetest.Want{Kind: errs.Invalid, Field: "Idempotency-Key"}},
			{"long key", event.Input{Type: "plain", Data: json.RawMessage(`{}`)}, strings.Repeat("k", 256), servicetest.Want{Kind: errs.Invalid, Field: "Idempotency-Key"}},
			{"schema: missing property", event.Input{Type: "invoice.paid", Data: json.RawMessage(`{}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "data", Code: "schema_mismatch"}},
			{"schema: wrong type", event.Input{Type: "invoice.paid", Data: json.RawMessage(`{"amount":"12"}`)}, "", servicetest.Want{Kind: errs.Invalid, Field: "data", Code: "schema_mismatch"}},
		}
		for _, c := range cases {
			_, err := e.svc.Publish(e.ctx, e.admin, e.ws, c.in, c.key)
			servicetest.Check(t, c.name, err, c.want)
		}
		// The failing place in the data is named.
		_, err := e.svc.Publish(e.ctx, e.admin, e.ws, event.Input{Type: "invoice.paid",
			Data: json.RawMessage(`{"amount":1,"lines":[{"qty":1},{"qty":"two"}]}`)}, "")
		if err == nil || !strings.Contains(err.Error(), "/lines/1/qty") {
			t.Errorf("schema error %v; want it to name /lines/1/qty", err)
		}
		for _, data := range []string{`{"amount":12.5}`, `{"amount":1,"lines":[{"qty":2}]}`} {
			if _, err := e.svc.Publish(e.ctx, e.admin, e.ws, event.Input{Type: "invoice.paid", Data: json.RawMessage(data)}, ""); err != nil {
				t.Errorf("valid %s: %v", data, err)
			}
		}
		// Data without a schema is stored byte for byte, escapes and all.
		p, err := e.svc.Publish(e.ctx, e.admin, e.ws, event.Input{Type: "plain", Data: json.RawMessage(`{"a":"\\u0000 is not a NUL"}`)}, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Get(e.ctx, e.admin, e.ws, p.ID)
		if err != nil || string(got.Data) != `{"a":"\\u0000 is not a NUL"}` {
			t.Errorf("read back %s, %v", got.Data, err)
		}
	})
}

func TestPublishBatchNamesTheEvent(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ok := event.BatchItem{Type: "plain", Data: json.RawMessage(`{}`)}
		cases := []struct {
			name  string
			items []event.BatchItem
			want  servicetest.Want
		}{
			{"empty", nil, servicetest.Want{Kind: errs.Invalid, Field: "events"}},
			{"null data", []event.BatchItem{ok, {Type: "plain", Data: json.RawMessage(`null`)}}, servicetest.Want{Kind: errs.Invalid, Field: "events[1].data"}},
			{"NUL key", []event.BatchItem{{Type: "plain", Data: json.RawMessage(`{}`), IdempotencyKey: "\x00"}}, servicetest.Want{Kind: errs.Invalid, Field: "events[0].idempotency_key"}},
			{"unknown type", []event.BatchItem{ok, ok, {Type: "nope", Data: json.RawMessage(`{}`)}}, servicetest.Want{Kind: errs.Invalid, Field: "events[2].type", Code: "unknown_event_type"}},
			{"schema", []event.BatchItem{ok, {Type: "invoice.paid", Data: json.RawMessage(`{"amount":true}`)}}, servicetest.Want{Kind: errs.Invalid, Field: "events[1].data", Code: "schema_mismatch"}},
		}
		for _, c := range cases {
			_, err := e.svc.PublishBatch(e.ctx, e.admin, e.ws, "", c.items)
			servicetest.Check(t, c.name, err, c.want)
		}
		res, err := e.svc.PublishBatch(e.ctx, e.admin, e.ws, "", []event.BatchItem{ok, {Type: "invoice.paid", Data: json.RawMessage(`{"amount":3}`)}})
		if err != nil || len(res) != 2 || res[1].Type != "invoice.paid" {
			t.Errorf("valid batch: %+v, %v", res, err)
		}
	})
}

func TestGetAndResendRefuseBadIDs(t *testing.T) {
	servicetest.Engines(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		for _, id := range []string{"evt_\xff", "evt_\x00"} {
			_, err := e.svc.Get(e.ctx, e.admin, e.ws, id)
			servicetest.Check(t, "get", err, servicetest.Want{Kind: errs.Invalid, Field: "id"})
			_, err = e.svc.Resend(e.ctx, e.admin, e.ws, strings.Replace(id, "evt", "dlv", 1))
			servicetest.Check(t, "resend", err, servicetest.Want{Kind: errs.Invalid, Field: "id"})
		}
		_, err := e.svc.Get(e.ctx, e.admin, e.ws, "evt_nope")
		servicetest.Check(t, "missing event", err, servicetest.Want{Kind: errs.NotFound})
		_, err = e.svc.Resend(e.ctx, e.admin, e.ws, "dlv_nope")
		servicetest.Check(t, "missing delivery", err, servicetest.Want{Kind: errs.NotFound})
	})
}

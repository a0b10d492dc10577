package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/postbode/postbode/internal/app/apptest"
)

// FuzzDecodeSubscription feeds arbitrary bytes as the body of POST
// …/subscriptions through the node's real handler. Whatever the bytes, the
// answer is a 201 with a subscription and its secret or a 4xx with the
// JSON error shape; never a 5xx (which is also what a recovered panic
// becomes).
func FuzzDecodeSubscription(f *testing.F) {
	srv := apptest.Start(f)
	ws := srv.Workspace(f, "invoice.paid", "order.created")
	path := "/api/v1/workspaces/" + ws + "/subscriptions"

	for _, seed := range []string{
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"]}`,
		`{"name":"x","url":"https://example.com/x","event_types":["invoice.paid","order.created"],"mode":"push",
		  "payload":"notification","format":"envelope","headers":{"X-Tenant":"1"},"signature_scheme":"hmac-sha256",
		  "signature_header":"X-Sig","timeout_seconds":30,"failure_threshold":1,"retry_schedule":["1s","168h"],
		  "api_version":null}`,
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"],"secret":"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}`,
		`{"name":"x","url":"http://[::1]:9/x","event_types":["invoice.paid"],"format":"raw","api_version":"2024-01-01"}`,
		`{"name":"x","url":"http://:9/x","event_types":["*"]}`,
		`{"name":"x","url":"http://127.0.0.1:65536/x","event_types":["*"]}`,
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"],"headers":{"X-A":"a\u0001"}}`,
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"],"retry_schedule":["-1s"]}`,
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":["*"],"timeout_seconds":1e400}`,
		`{"name":"x","url":"http://127.0.0.1:9/x","event_types":[null]}`,
		`{"name":null,"mode":"pull","auth":"basic","coalesce_by_subject":true}`,
		`{"status":"disabled"}`, `{"name":"x"}}`, `{"name":"x"} {}`, `{}`, `[]`, `null`, `"x"`, `1`, ``, ` `, `{`,
		`{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"headers":{"":""}}`, `{"event_types":{}}`,
		`{"retry_schedule":[` + strings.Repeat(`"1ns",`, 60) + `"1ns"]}`,
		`{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(srv, path, body)

		status, out := rec.Code, rec.Body.Bytes()
		if status >= 500 {
			t.Fatalf("body %q: status %d: %s", body, status, out)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("body %q: Content-Type %q", body, ct)
		}
		switch {
		case status == http.StatusCreated:
			var sub struct {
				ID, Secret, URL string
				EventTypes      []string          `json:"event_types"`
				Headers         map[string]string `json:"headers"`
				SignatureHeader string            `json:"signature_header"`
			}
			if err := json.Unmarshal(out, &sub); err != nil || !strings.HasPrefix(sub.ID, "sub_") ||
				!strings.HasPrefix(sub.Secret, "whsec_") || sub.URL == "" || len(sub.EventTypes) == 0 {
				t.Fatalf("body %q: 201 without a whole subscription: %s", body, out)
			}
			if err := sendable(sub.URL, sub.Headers, sub.SignatureHeader); err != nil {
				t.Fatalf("body %q: accepted a subscription that cannot be delivered: %v", body, err)
			}
		case status >= 400 && status < 500:
			checkErrorShape(t, body, status, out)
		default:
			t.Fatalf("body %q: status %d, want 201 or a 4xx: %s", body, status, out)
		}
	})
}

// FuzzPublishBatch feeds arbitrary bytes as the body of POST …/events/batch
// through the node's real handler. The answer is a 202 naming one stored
// event per event sent, in order, or a 4xx with the JSON error shape whose
// 422 message names the field; never a 5xx.
func FuzzPublishBatch(f *testing.F) {
	srv := apptest.Start(f)
	ws := srv.Workspace(f, "invoice.paid", "order.created")
	path := "/api/v1/workspaces/" + ws + "/events/batch"

	for _, seed := range []string{
		`{"events":[{"type":"invoice.paid","data":{}}]}`,
		`{"events":[{"type":"invoice.paid","data":1,"user_id":"u","subject":"s","idempotency_key":"k"},{"type":"order.created","data":"x"}]}`,
		`{"events":[{"type":"invoice.paid","data":{}},{"type":"invoice.void","data":{}}]}`,
		`{"events":[{"type":"invoice.paid"}]}`, `{"events":[null]}`, `{"events":[[]]}`, `{"events":[1]}`,
		`{"events":[{"type":"invoice.paid","data":{},"extra":1}]}`, `{"events":[]}`, `{"events":null}`,
		`{"events":{}}`, `{}`, `[]`, `null`, ``, `{"events":[{"type":"invoice.paid","data":{}}]} x`,
		`{"events":[` + strings.Repeat(`{"type":"invoice.paid","data":1},`, 1000) + `{"type":"invoice.paid","data":1}]}`,
		`{"events":[{"type":"invoice.paid","data":{},"user_id":"\ud800"}]}`, "{\"events\":[{\"type\":\"\xff\"}]}",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(srv, path, body)

		status, out := rec.Code, rec.Body.Bytes()
		switch {
		case status == http.StatusAccepted:
			var sent struct{ Events []json.RawMessage }
			var got struct{ Events []struct{ ID, Type string } }
			if err := json.Unmarshal(body, &sent); err != nil {
				t.Fatalf("body %q: 202 for a body that is not a batch: %s", body, out)
			}
			if err := json.Unmarshal(out, &got); err != nil || len(got.Events) != len(sent.Events) {
				t.Fatalf("body %q: 202 for %d events answered %s", body, len(sent.Events), out)
			}
			for i, e := range got.Events {
				if !strings.HasPrefix(e.ID, "evt_") || (e.Type != "invoice.paid" && e.Type != "order.created") {
					t.Fatalf("body %q: events[%d] answered %+v", body, i, e)
				}
			}
		case status >= 400 && status < 500:
			checkErrorShape(t, body, status, out)
		default:
			t.Fatalf("body %q: status %d, want 202 or a 4xx: %s", body, status, out)
		}
	})
}

// post sends body to path through the node's handler, as the bootstrap admin.
func post(srv *apptest.Server, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.App.Handler.ServeHTTP(rec, req)
	return rec
}

// checkErrorShape fails unless out, a 4xx answer to body, has the JSON error
// shape and, for a 422, a message that names the field.
func checkErrorShape(t *testing.T, body []byte, status int, out []byte) {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == "" || strings.TrimSpace(e.Error.Message) == "" {
		t.Fatalf("body %q: %d without the error shape: %s", body, status, out)
	}
	if status == http.StatusUnprocessableEntity && !strings.Contains(e.Error.Message, ":") {
		t.Fatalf("body %q: 422 whose message names no field: %q", body, e.Error.Message)
	}
}

var errDialed = errors.New("dialed")

// sendable reports whether Go's HTTP client would send a delivery request to
// url with these headers: the transport checks the URL and every header
// before it dials, and this one fails every dial with errDialed.
func sendable(url string, headers map[string]string, signatureHeader string) error {
	req, err := http.NewRequest("POST", url, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	if req.URL.Hostname() == "" {
		return fmt.Errorf("url %q has no host to connect to", url)
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("url %q has no port to connect to", url)
		}
	}
	for k, v := range headers {
		req.Header[k] = []string{v}
	}
	req.Header[signatureHeader] = []string{"sig"}
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, errDialed }}
	defer tr.CloseIdleConnections()
	if _, err := tr.RoundTrip(req); !errors.Is(err, errDialed) {
		return err
	}
	return nil
}

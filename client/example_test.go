// Examples of the client: compiled by go vet and go test; those with an
// Output comment run against a stand-in server.
package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/postbode/postbode/client"
)

func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", os.Getenv("POSTBODE_TOKEN"))

	ws, err := c.CreateWorkspace(ctx, "Acme")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreateEventType(ctx, ws.ID, client.EventTypeParams{Name: "invoice.paid", Label: "Invoice paid"}); err != nil {
		log.Fatal(err)
	}
	sub, err := c.CreateSubscription(ctx, ws.ID, client.SubscriptionParams{
		Name:       "billing",
		URL:        "https://billing.example.com/hooks/postbode",
		EventTypes: []string{"invoice.paid"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("give the receiver its secret:", sub.Secret)

	ev, err := c.Publish(ctx, ws.ID, client.PublishParams{
		Type:           "invoice.paid",
		Data:           map[string]any{"invoice": "1001", "amount": 4200},
		IdempotencyKey: "order-1001", // a repeat within 24 h returns this event again
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published", ev.ID)
}

func ExampleClient_AllEvents() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", os.Getenv("POSTBODE_TOKEN"))
	since := time.Now().Add(-24 * time.Hour)
	// Every invoice.paid event of the last day, newest first, 500 a request.
	for ev, err := range c.AllEvents(ctx, "ws_…", client.EventFilter{Type: "invoice.paid", Since: since}, client.ListOptions{Limit: 500}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.ID, ev.CreatedAt)
	}
}

func ExampleClient_Claim() {
	ctx := context.Background()
	// A mailbox's consumer authenticates with the mailbox's own app token.
	c := client.New("http://127.0.0.1:8080", os.Getenv("MAILBOX_TOKEN"))
	ws, mailbox := "ws_…", "sub_…"
	for ctx.Err() == nil {
		msgs, err := c.Claim(ctx, ws, mailbox, client.ClaimParams{Count: 100, LeaseSeconds: 60, WaitSeconds: 30})
		if err != nil {
			log.Fatal(err)
		}
		acks := make([]client.BatchAck, 0, len(msgs))
		for _, m := range msgs {
			fmt.Println("handling", m.Event.Type, string(m.Event.Data))
			acks = append(acks, client.BatchAck{ID: m.ID, Action: client.AckSuccess, AckParams: client.AckParams{LeaseID: m.LeaseID}})
		}
		if len(acks) == 0 {
			continue
		}
		results, err := c.AckBatch(ctx, ws, mailbox, acks)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range results {
			if errors.Is(r.Error, client.ErrLeaseLost) {
				fmt.Println(r.ID, "was claimed again by someone else")
			}
		}
	}
}

func ExampleClient_PostInbound() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8080", os.Getenv("POSTBODE_TOKEN"))
	in, err := c.CreateInbound(ctx, "ws_…", client.InboundParams{Name: "payments", Auth: "basic", EventType: "invoice.paid"})
	if err != nil {
		log.Fatal(err)
	}
	// What the other system does, with the token shown once above.
	ev, err := c.PostInbound(ctx, in.URL, client.InboundAuth{Username: in.Username, Token: in.Token}, []byte(`{"invoice":"1004"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("event", ev.ID)
}

// Errors are *client.Error values: match their kind with errors.Is, or
// read them with errors.As.
func ExampleError() {
	// A stand-in for Postbode that knows no subscription.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"no such subscription"}}`)
	}))
	defer srv.Close()

	c := client.New(srv.URL, "pbi_…")
	_, err := c.GetSubscription(context.Background(), "ws_1", "sub_1")
	fmt.Println(errors.Is(err, client.ErrNotFound), client.IsConflict(err))
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.Message)
	}
	fmt.Println(err)
	// Output:
	// true false
	// 404 not_found no such subscription
	// postbode: 404 not_found: no such subscription
}

// A 503 (or 429) is retried after its Retry-After, with the same body and
// the same generated idempotency key.
func ExampleWithRetries() {
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries++
		w.Header().Set("Content-Type", "application/json")
		if tries == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"store_unavailable","message":"try again"}}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"id":"evt_1","type":"invoice.paid","created_at":"2026-01-02T15:04:05Z","duplicate":false}`)
	}))
	defer srv.Close()

	c := client.New(srv.URL, "pbi_…", client.WithRetries(5))
	ev, err := c.Publish(context.Background(), "ws_1", client.PublishParams{Type: "invoice.paid", Data: map[string]int{"n": 1}})
	fmt.Println(ev.ID, err, tries)
	// Output: evt_1 <nil> 2
}

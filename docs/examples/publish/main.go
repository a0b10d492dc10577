// Command publish uses the Go client to set up a workspace with an event
// type and a subscription, and to publish events to it.
//
//	POSTBODE_URL=http://127.0.0.1:8080 POSTBODE_TOKEN=pbi_… \
//	  go run ./docs/examples/publish -receiver http://127.0.0.1:9000/hook -n 3
//
// It prints the subscription's secret: give it to the receiver
// (docs/examples/receiver) as POSTBODE_SECRET. Postbode must run with
// --allow-private-targets for a receiver on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/postbode/postbode/client"
)

func main() {
	wsID := flag.String("workspace", "", "an existing workspace's id (default: make one)")
	receiver := flag.String("receiver", "", "a URL to subscribe to the events (default: none)")
	n := flag.Int("n", 1, "how many events to publish")
	flag.Parse()

	base := os.Getenv("POSTBODE_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	token := os.Getenv("POSTBODE_TOKEN")
	if token == "" {
		log.Fatal("set POSTBODE_TOKEN to an integration token (pbi_…)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client.New(base, token, client.WithUserAgent("postbode-example-publish"))

	if *wsID == "" {
		ws, err := c.CreateWorkspace(ctx, "Example")
		if err != nil {
			log.Fatal(err)
		}
		*wsID = ws.ID
		fmt.Println("workspace", ws.ID)
	}
	_, err := c.CreateEventType(ctx, *wsID, client.EventTypeParams{Name: "invoice.paid", Label: "Invoice paid",
		Description: "An invoice was paid in full."})
	switch {
	case errors.Is(err, client.ErrEventTypeExists):
		// Made by an earlier run: fine.
	case err != nil:
		log.Fatal(err)
	}
	if *receiver != "" {
		sub, err := c.CreateSubscription(ctx, *wsID, client.SubscriptionParams{Name: "example receiver", URL: *receiver,
			EventTypes: []string{"invoice.paid"}})
		if errors.Is(err, client.ErrPrivateTarget) {
			log.Fatal("the receiver is on a private address: start Postbode with --allow-private-targets")
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("subscription %s; its secret (shown once): %s\n", sub.ID, sub.Secret)
	}
	for i := range *n {
		invoice := fmt.Sprint(1001 + i)
		ev, err := c.Publish(ctx, *wsID, client.PublishParams{
			Type:    "invoice.paid",
			Subject: "invoice/" + invoice,
			Data:    map[string]any{"invoice": invoice, "amount": 4200},
			// The same key again within 24 hours gives the same event:
			// running this twice publishes nothing new.
			IdempotencyKey: *wsID + "/invoice-" + invoice,
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("published %s (duplicate: %v)\n", ev.ID, ev.Duplicate)
	}
	if *receiver == "" {
		return
	}
	// Wait for the deliveries of the last event.
	time.Sleep(500 * time.Millisecond)
	for ev, err := range c.AllEvents(ctx, *wsID, client.EventFilter{Type: "invoice.paid"}, client.ListOptions{Limit: 100}) {
		if err != nil {
			log.Fatal(err)
		}
		full, err := c.GetEvent(ctx, *wsID, ev.ID)
		if err != nil {
			log.Fatal(err)
		}
		for _, d := range full.Deliveries {
			fmt.Printf("%s → %s: %s after %d attempts %s\n", ev.ID, d.SubscriptionID, d.Status, d.Attempts, d.LastError)
		}
	}
}

// Package client is a typed Go client for Postbode's HTTP API: the
// management API under /api/v1 (workspaces, event types, events,
// subscriptions and their attempt log, deliveries, inbound webhooks, users
// and tokens, portal links), the mailbox API of pull subscriptions, and
// posting to an inbound webhook (POST /in/{id}).
//
// # Making a client
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("POSTBODE_TOKEN"))
//
// The base URL is the server's root (a trailing /api/v1 is accepted too).
// The token is sent as Authorization: Bearer: an integration token (pbi_…)
// for the management API, or a pull subscription's app token (pba_…) for
// its mailbox. Every method takes a context first.
//
// # Lists
//
// A List… method returns one [Page]: Data and NextCursor ("" on the last
// page). The matching All… method returns an iter.Seq2 that follows the
// cursor page after page:
//
//	for ev, err := range c.AllEvents(ctx, ws, client.EventFilter{Type: "invoice.paid"}, client.ListOptions{Limit: 500}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.ID)
//	}
//
// # Errors
//
// An answer outside 2xx is returned as a *[Error] with the HTTP status and
// the API's error code and message. Match kinds of errors with errors.Is
// and the sentinels ([ErrNotFound], [ErrConflict], [ErrInvalid],
// [ErrLeaseLost], …), which compare the status and, where they have one,
// the code; or use errors.As to read the *Error itself:
//
//	_, err := c.GetSubscription(ctx, ws, "sub_nope")
//	if errors.Is(err, client.ErrNotFound) { … }
//
// # Retries
//
// 429 and 503 answers are retried (by default up to 3 times, see
// [WithRetries]) after the server's Retry-After or else an exponential
// backoff with jitter, and never past the context's deadline. The server
// answers those two before doing anything, so any request may be retried
// after them. A request that failed on the network is retried only when
// repeating it cannot do anything twice: GET requests, a publish with an
// idempotency key, and a batch whose events all have one. When retries are
// on, [Client.Publish] without [PublishParams.IdempotencyKey] and
// [Client.PublishBatch] events without one get a generated key, the same
// on every retry, so a retried publish never makes a second event. The
// request body is sent again whole on every retry.
package client

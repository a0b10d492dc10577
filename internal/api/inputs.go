// The bodies of the routes whose input or answer is not a service's own
// type: named, so that the handler and the OpenAPI document share them.
package api

import (
	"github.com/postbode/postbode/internal/event"
	"github.com/postbode/postbode/internal/store"
)

// nameInput names a new workspace or token.
type nameInput struct {
	Name string `json:"name"`
}

// userInput names the user a token goes to.
type userInput struct {
	UserID string `json:"user_id"`
}

// passwordInput changes a password; the current one is needed for one's own.
type passwordInput struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"current_password"`
}

// recoverInput is the time from which failed and held deliveries are sent again.
type recoverInput struct {
	Since string `json:"since"`
}

// portalLinkInput is how long a portal link lasts; 0 for the default.
type portalLinkInput struct {
	TTLSeconds int64 `json:"ttl_seconds"`
}

// batchInput documents a batch: its handler decodes the events one by one,
// so that an error names the event.
type batchInput struct {
	Events []event.BatchItem `json:"events"`
}

// batchOutput is a batch's answer, in the batch's order.
type batchOutput struct {
	Events []event.Published `json:"events"`
}

// testOutput is the Test button's answer: the attempt it made.
type testOutput struct {
	Attempt *store.Attempt `json:"attempt"`
}

// recoverOutput is how many deliveries recover queued.
type recoverOutput struct {
	Queued int `json:"queued"`
}

// Received is an inbound webhook's answer: the event made.
type Received struct {
	ID string `json:"id"`
}

// Package id makes the opaque, type-prefixed identifiers of the API
// (evt_…, dlv_…). The part after the prefix is a UUIDv7 in hex, so ids sort
// by creation time: lists page by id and the newest attempt sorts last.
package id

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// Prefixes of every kind of id.
const (
	Workspace    = "ws_"
	User         = "usr_"
	Token        = "tok_"
	Subscription = "sub_"
	Event        = "evt_"
	Delivery     = "dlv_"
	Attempt      = "att_"
	Inbound      = "inb_"
	Message      = "msg_"
	// InboundRequest is an entry of an inbound webhook's request log.
	InboundRequest = "inr_"
)

// New returns prefix followed by 32 hex digits of a fresh UUIDv7.
func New(prefix string) string {
	u := uuid.Must(uuid.NewV7())
	var buf [64]byte
	n := copy(buf[:], prefix)
	hex.Encode(buf[n:], u[:])
	return string(buf[:n+32])
}

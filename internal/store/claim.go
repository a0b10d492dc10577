// Helpers every engine shares for paging, claiming and listing attempts, so
// that the rules they encode (default page size, per-subscription cap,
// pairing claimed deliveries with their events, where a cut body ends) are
// written once.
package store

import "unicode/utf8"

// DefaultPageSize is the page size when a Page sets none.
const DefaultPageSize = 100

// Size is the number of items p asks for.
func (p Page) Size() int {
	if p.Limit <= 0 {
		return DefaultPageSize
	}
	return p.Limit
}

// PerSubscriptionCap is how many deliveries of one subscription the claim
// may take: PerSubscription, or no more than the whole claim when unset.
func (c Claim) PerSubscriptionCap() int {
	if c.PerSubscription <= 0 {
		return c.Limit
	}
	return c.PerSubscription
}

// EventIDs returns the distinct events of ds, in order of first appearance.
func EventIDs(ds []Delivery) []string {
	ids := make([]string, 0, len(ds))
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		if !seen[d.EventID] {
			seen[d.EventID] = true
			ids = append(ids, d.EventID)
		}
	}
	return ids
}

// Attach pairs each claimed delivery with its event. A delivery whose event
// is missing is left out; its lease runs out and maintenance requeues it.
func Attach(ds []Delivery, events []Event) []ClaimedDelivery {
	byID := make(map[string]*Event, len(events))
	for i := range events {
		byID[events[i].ID] = &events[i]
	}
	out := make([]ClaimedDelivery, 0, len(ds))
	for _, d := range ds {
		if e, ok := byID[d.EventID]; ok {
			out = append(out, ClaimedDelivery{Delivery: d, Event: *e})
		}
	}
	return out
}

// TrimPartialRune drops the first bytes of a UTF-8 character left at the
// end of s by a cut at a byte count. Anything else, valid or not, is kept.
func TrimPartialRune(s string) string {
	// Of a character cut short, at most UTFMax-1 bytes remain.
	for i := len(s) - 1; i >= 0 && i > len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				return s[:i]
			}
			break
		}
	}
	return s
}

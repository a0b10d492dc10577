// Mailboxes of pull subscriptions: claim (with long polling), the four
// acknowledgements one by one or many in one request, search and stats.
package client

import (
	"context"
	"iter"
	"net/url"
)

// ClaimParams asks for messages; zero fields take the server's defaults.
type ClaimParams struct {
	Count        int    `json:"count,omitempty"`         // 1..1000, default 1
	LeaseSeconds int    `json:"lease_seconds,omitempty"` // 1..43200, default 60
	WaitSeconds  int    `json:"wait_seconds,omitempty"`  // 0..30: wait that long for a message when none is new
	Type         string `json:"type,omitempty"`          // only messages of this event type
	Subject      string `json:"subject,omitempty"`       // only messages about this subject
}

func mailboxPath(workspaceID, subID string, rest ...string) string {
	return apiPath(append([]string{"workspaces", workspaceID, "subscriptions", subID, "mailbox"}, rest...)...)
}

// Claim claims the oldest new messages of a pull subscription's mailbox
// under one lease. It answers an empty slice when there is none (after
// waiting up to WaitSeconds).
func (c *Client) Claim(ctx context.Context, workspaceID, subID string, p ClaimParams) ([]ClaimedMessage, error) {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return nil, err
	}
	var out struct {
		Messages []ClaimedMessage `json:"messages"`
	}
	if err := c.do(ctx, &request{method: "POST", path: mailboxPath(workspaceID, subID, "claim"), body: p}, &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Acknowledgement actions.
const (
	AckSuccess = "success" // done
	AckFailed  = "failed"  // a permanent failure, with a Reason
	AckRelease = "release" // a transient failure: new again after DelaySeconds
	AckExtend  = "extend"  // the lease runs LeaseSeconds from now
)

// AckParams are an acknowledgement's fields. LeaseID, when given, must be
// the claim's: a message claimed again since is then ErrLeaseLost, not
// acknowledged.
type AckParams struct {
	LeaseID      string `json:"lease_id,omitempty"`
	Reason       string `json:"reason,omitempty"`        // failed (required), release
	DelaySeconds int    `json:"delay_seconds,omitempty"` // release: 0..604800
	LeaseSeconds int    `json:"lease_seconds,omitempty"` // extend (required): 1..43200
}

// Ack acknowledges one claimed message with action (AckSuccess,
// AckFailed, AckRelease, AckExtend) and returns it as it is now.
func (c *Client) Ack(ctx context.Context, workspaceID, subID, messageID, action string, p AckParams) (*MailboxMessage, error) {
	if err := required("workspace id", workspaceID, "subscription id", subID, "message id", messageID, "action", action); err != nil {
		return nil, err
	}
	var out MailboxMessage
	if err := c.do(ctx, &request{method: "POST", path: mailboxPath(workspaceID, subID, messageID, action), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AckSuccess marks a claimed message done.
func (c *Client) AckSuccess(ctx context.Context, workspaceID, subID, messageID, leaseID string) (*MailboxMessage, error) {
	return c.Ack(ctx, workspaceID, subID, messageID, AckSuccess, AckParams{LeaseID: leaseID})
}

// AckFailed marks a claimed message failed for good, keeping reason.
func (c *Client) AckFailed(ctx context.Context, workspaceID, subID, messageID, leaseID, reason string) (*MailboxMessage, error) {
	return c.Ack(ctx, workspaceID, subID, messageID, AckFailed, AckParams{LeaseID: leaseID, Reason: reason})
}

// Release makes a claimed message new again, claimable after delaySeconds.
func (c *Client) Release(ctx context.Context, workspaceID, subID, messageID, leaseID string, delaySeconds int) (*MailboxMessage, error) {
	return c.Ack(ctx, workspaceID, subID, messageID, AckRelease, AckParams{LeaseID: leaseID, DelaySeconds: delaySeconds})
}

// Extend makes a claimed message's lease run leaseSeconds from now.
func (c *Client) Extend(ctx context.Context, workspaceID, subID, messageID, leaseID string, leaseSeconds int) (*MailboxMessage, error) {
	return c.Ack(ctx, workspaceID, subID, messageID, AckExtend, AckParams{LeaseID: leaseID, LeaseSeconds: leaseSeconds})
}

// BatchAck is one acknowledgement of a batch: the message's ID, the
// Action and that action's fields.
type BatchAck struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	AckParams
}

// AckResult is the outcome of one acknowledgement of a batch: the
// message's Status now, or Error (lease_lost, not_found, invalid_field
// naming acks[i].field), which errors.Is matches like any *Error.
type AckResult struct {
	ID     string `json:"id"`
	Status string `json:"status,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// AckBatch applies 1 to 1,000 acknowledgements in one request and one
// transaction, each on its own: one refused leaves the others applied.
// The results come in the order of acks.
func (c *Client) AckBatch(ctx context.Context, workspaceID, subID string, acks []BatchAck) ([]AckResult, error) {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return nil, err
	}
	body := struct {
		Acks []BatchAck `json:"acks"`
	}{acks}
	var out struct {
		Results []AckResult `json:"results"`
	}
	if err := c.do(ctx, &request{method: "POST", path: mailboxPath(workspaceID, subID, "ack"), body: body}, &out); err != nil {
		return nil, err
	}
	for i := range out.Results {
		if e := out.Results[i].Error; e != nil {
			// The body has no status of its own: give each the one the
			// single route would have answered with.
			switch e.Code {
			case "lease_lost":
				e.Status = 409
			case "not_found":
				e.Status = 404
			default:
				e.Status = 422
			}
		}
	}
	return out.Results, nil
}

// MailboxFilter narrows a mailbox search; zero fields do not filter.
type MailboxFilter struct {
	Status  string // MessageNew, MessageClaimed, …
	Type    string
	Subject string
}

// SearchMailbox lists a mailbox's messages, oldest first. opt.Limit is
// sent as count (1 to 1,000, default 100).
func (c *Client) SearchMailbox(ctx context.Context, workspaceID, subID string, f MailboxFilter, opt ListOptions) (*Page[MailboxMessage], error) {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return nil, err
	}
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "type": f.Type, "subject": f.Subject} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return list[MailboxMessage](ctx, c, mailboxPath(workspaceID, subID), q, "count", opt)
}

// AllMailboxMessages iterates over a mailbox's messages, oldest first.
func (c *Client) AllMailboxMessages(ctx context.Context, workspaceID, subID string, f MailboxFilter, opt ListOptions) iter.Seq2[MailboxMessage, error] {
	return all(ctx, opt, func(ctx context.Context, o ListOptions) (*Page[MailboxMessage], error) {
		return c.SearchMailbox(ctx, workspaceID, subID, f, o)
	})
}

// MailboxStats counts a mailbox's messages by status.
func (c *Client) MailboxStats(ctx context.Context, workspaceID, subID string) (MailboxStats, error) {
	if err := required("workspace id", workspaceID, "subscription id", subID); err != nil {
		return nil, err
	}
	var out MailboxStats
	if err := c.do(ctx, &request{method: "GET", path: mailboxPath(workspaceID, subID, "stats"), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

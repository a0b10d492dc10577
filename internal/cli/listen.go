// listen: forward a pull subscription's messages, signed, to a local URL.
package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
	"github.com/postbode/postbode/internal/version"
	"github.com/postbode/postbode/webhook"
)

func (a *runner) listenCommand() *cobra.Command {
	var l listener
	var types []string
	c := &cobra.Command{
		Use:   "listen --forward-to URL",
		Short: "Forward events to a local URL, signed, without a public URL: through a pull subscription",
		Long: `For developing a receiver on your own machine without a public URL. listen
makes a pull subscription (or reuses the one it made before, found by its
name), long-polls its mailbox and POSTs each message to --forward-to as
Postbode would deliver it: the envelope body, signed with Standard Webhooks
headers (webhook-id, webhook-timestamp, webhook-signature). A 2xx answer
acknowledges the message; anything else, or no answer, releases it to be
forwarded again after --retry-delay. It prints a line per message. Ctrl-C
stops it and releases what it had claimed.

The signing secret is made at start and printed once; give --secret (a
whsec_ secret) to keep the same one across runs. The subscription stays when
listen stops, and collects events until the next run; delete it with
postbode subscriptions delete.`,
		Example: `  postbode listen --forward-to http://localhost:3000/hook
  postbode listen --forward-to http://localhost:3000/hook --event-type invoice.paid --secret whsec_…`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if l.forward == "" {
				return usagef("give --forward-to URL: where to POST the events, e.g. http://localhost:3000/hook")
			}
			if u, err := url.Parse(l.forward); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--forward-to %q is not an http:// or https:// URL", l.forward)
			}
			if l.secret == "" {
				l.secret = newSecret()
			} else if _, err := webhook.SignStandard(l.secret, "x", time.Now(), nil); err != nil {
				return usagef("--secret: not whsec_ followed by base64")
			}
			if l.name == "" {
				host, _ := os.Hostname()
				l.name = strings.TrimSpace("postbode listen " + host)
			}
			if len(types) == 0 {
				types = []string{"*"}
			}
			l.c, l.ws, l.out, l.log = c, ws, a.env.Stdout, a.env.Stderr
			l.hc = a.env.HTTPClient
			if l.hc == nil {
				l.hc = &http.Client{Timeout: 30 * time.Second}
			}
			if err := l.subscribe(cmd.Context(), types); err != nil {
				return err
			}
			return l.run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&l.forward, "forward-to", "", "the local URL to POST events to (required)")
	f.StringArrayVar(&types, "event-type", nil, "an event type to forward, repeatable (default: all)")
	f.StringVar(&l.name, "name", "", `the pull subscription's name (default "postbode listen <hostname>")`)
	f.StringVar(&l.secret, "secret", "", "the whsec_ secret to sign with (default: a new one, printed)")
	f.DurationVar(&l.retryDelay, "retry-delay", 5*time.Second, "how long a message that was not answered 2xx waits before it is forwarded again")
	return c
}

type listener struct {
	forward, name, secret string
	retryDelay            time.Duration

	c        *client.Client
	ws, sub  string
	retryAt  time.Time // when the first message released comes due
	hc       *http.Client
	out, log io.Writer
}

// newSecret is a whsec_ secret of 24 random bytes, like the server's.
func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// subscribe finds the pull subscription named l.name, or makes it, and
// gives it the event types asked for.
func (l *listener) subscribe(ctx context.Context, types []string) error {
	for s, err := range l.c.AllSubscriptions(ctx, l.ws, client.ListOptions{Limit: 1000}) {
		if err != nil {
			return err
		}
		if s.Name != l.name || s.Mode != "pull" {
			continue
		}
		l.sub = s.ID
		if !slices.Equal(s.EventTypes, types) {
			if _, err := l.c.UpdateSubscription(ctx, l.ws, s.ID, client.SubscriptionUpdate{EventTypes: types}); err != nil {
				return err
			}
		}
		fmt.Fprintf(l.log, "Reusing the pull subscription %s (%q).\n", s.ID, l.name)
		break
	}
	if l.sub == "" {
		s, err := l.c.CreateSubscription(ctx, l.ws, client.SubscriptionParams{Name: l.name, Mode: "pull", EventTypes: types})
		if err != nil {
			return err
		}
		l.sub = s.ID
		fmt.Fprintf(l.log, "Made the pull subscription %s (%q); it collects events while listen is not running: delete it when done.\n", s.ID, l.name)
	}
	fmt.Fprintf(l.log, "Forwarding %s to %s, signed with %s\nReady; Ctrl-C stops.\n", strings.Join(types, ", "), l.forward, l.secret)
	return nil
}

// run claims and forwards until ctx ends.
func (l *listener) run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		// A long poll wakes for a publish, not for a released message
		// coming due: wait no longer than until the next one does.
		wait := 30
		if !l.retryAt.IsZero() {
			wait = max(1, min(30, int(math.Ceil(time.Until(l.retryAt).Seconds()))))
			if time.Now().After(l.retryAt.Add(5 * time.Second)) {
				l.retryAt = time.Time{} // polled every second for a while past due: long polls again
			}
		}
		msgs, err := l.c.Claim(ctx, l.ws, l.sub, client.ClaimParams{Count: 10, LeaseSeconds: 60, WaitSeconds: wait})
		if ctx.Err() != nil {
			l.release(msgs)
			return nil
		}
		if err != nil {
			if _, api := client.APIError(err); api && !client.IsRetryable(err) {
				return err // a token or subscription that is not (any more): waiting will not help
			}
			failures++
			wait := min(time.Duration(failures)*time.Second, 30*time.Second)
			fmt.Fprintf(l.log, "%s  claim failed: %v (trying again in %s)\n", time.Now().Format("15:04:05"), err, wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		for i := range msgs {
			if ctx.Err() != nil {
				l.release(msgs[i:])
				return nil
			}
			l.handle(ctx, &msgs[i])
		}
	}
	return nil
}

// handle forwards one message and acknowledges it.
func (l *listener) handle(ctx context.Context, m *client.ClaimedMessage) {
	start := time.Now()
	status, err := l.send(ctx, m)
	dur := time.Since(start).Round(time.Millisecond)
	line := fmt.Sprintf("%s  %-24s %s  → ", start.Format("15:04:05"), m.Event.Type, m.Event.ID)
	if ctx.Err() != nil {
		l.release([]client.ClaimedMessage{*m})
		return
	}
	if err == nil && status >= 200 && status < 300 {
		if _, err := l.c.AckSuccess(ctx, l.ws, l.sub, m.ID, m.LeaseID); err != nil {
			fmt.Fprintf(l.out, "%s%d %s (acknowledging failed: %v)\n", line, status, dur, err)
			return
		}
		fmt.Fprintf(l.out, "%s%d %s\n", line, status, dur)
		return
	}
	what := strconv.Itoa(status)
	if err != nil {
		what = "error: " + err.Error()
	}
	if _, rerr := l.c.Release(ctx, l.ws, l.sub, m.ID, m.LeaseID, int(l.retryDelay/time.Second)); rerr != nil {
		fmt.Fprintf(l.out, "%s%s %s (releasing failed: %v)\n", line, what, dur, rerr)
		return
	}
	if due := time.Now().Add(l.retryDelay); l.retryAt.IsZero() || due.Before(l.retryAt) {
		l.retryAt = due
	}
	fmt.Fprintf(l.out, "%s%s %s, again in %s\n", line, what, dur, l.retryDelay)
}

// send POSTs the message's envelope, signed, to the forward URL.
func (l *listener) send(ctx context.Context, m *client.ClaimedMessage) (int, error) {
	e := m.Event
	body, err := json.Marshal(webhook.Event{ID: e.ID, Type: e.Type, Label: e.Label, WorkspaceID: e.WorkspaceID,
		SubscriptionID: l.sub, UserID: e.UserID, Subject: e.Subject, Data: e.Data, Timestamp: e.CreatedAt})
	if err != nil {
		return 0, err
	}
	now := time.Now()
	sig, err := webhook.SignStandard(l.secret, e.ID, now, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", l.forward, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Postbode/"+version.Version+" (listen)")
	req.Header.Set("webhook-id", e.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := l.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// release hands claimed messages back at once, for the next run; it runs
// after ctx ended, so with a context of its own.
func (l *listener) release(msgs []client.ClaimedMessage) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	acks := make([]client.BatchAck, len(msgs))
	for i, m := range msgs {
		acks[i] = client.BatchAck{ID: m.ID, Action: client.AckRelease, AckParams: client.AckParams{LeaseID: m.LeaseID}}
	}
	if _, err := l.c.AckBatch(ctx, l.ws, l.sub, acks); err != nil {
		fmt.Fprintf(l.log, "releasing %d claimed messages failed: %v (they come back when their lease runs out)\n", len(msgs), err)
		return
	}
	fmt.Fprintf(l.log, "released %d claimed messages\n", len(msgs))
}

// subscriptions and recover.
package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
)

func (a *runner) subscriptionsCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's subscriptions",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.Subscription], error) {
				return c.ListSubscriptions(ctx, ws, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "NAME", "MODE", "STATUS", "EVENT TYPES", "URL"}, func(s client.Subscription) []string {
				return []string{s.ID, s.Name, s.Mode, s.Status, strings.Join(s.EventTypes, ","), dash(s.URL)}
			})
		},
	}
	addListFlags(list, &lf)

	get := a.subCmd("get SUBSCRIPTION", "Show a subscription (secrets in its URL and headers masked)",
		func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Subscription, error) {
			return c.GetSubscription(cmd.Context(), ws, id)
		})
	enable := a.subCmd("enable SUBSCRIPTION", "Make a subscription active: its failure count resets and held deliveries go out",
		func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Subscription, error) {
			return c.EnableSubscription(cmd.Context(), ws, id)
		})
	disable := a.subCmd("disable SUBSCRIPTION", "Pause a subscription: new deliveries are held",
		func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Subscription, error) {
			return c.DisableSubscription(cmd.Context(), ws, id)
		})

	var p client.SubscriptionParams
	var headers []string
	var retry string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a subscription: push to --target, or a mailbox with --mode pull; its secret or token is shown once",
		Example: `  postbode subscriptions create billing --target https://example.com/hook --event-type invoice.paid
  postbode subscriptions create crm --target https://crm.example/in --event-type '*' --header 'Authorization=Bearer abc' --format entity
  postbode subscriptions create EPD --mode pull --auth basic --event-type patient.update`,
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			p.Name = args[0]
			if len(p.EventTypes) == 0 {
				return usagef("give at least one --event-type (or '*' for every type)")
			}
			if p.Headers, err = keyValues("header", headers); err != nil {
				return err
			}
			if retry != "" {
				p.RetrySchedule = strings.Split(retry, ",")
			}
			s, err := c.CreateSubscription(cmd.Context(), ws, p)
			if err != nil {
				return err
			}
			return a.output(s, func(w io.Writer) {
				subscriptionFields(w, &s.Subscription)
				if s.Secret != "" {
					fields(w, "secret", s.Secret+"   (shown this once)")
				}
				if s.Username != "" {
					fields(w, "username", s.Username)
				}
				if s.Token != "" {
					fields(w, "token", s.Token+"   (shown this once)")
				}
			})
		},
	}
	f := create.Flags()
	f.StringVar(&p.URL, "target", "", "the URL to POST events to (push); --url is the server's")
	f.StringArrayVar(&p.EventTypes, "event-type", nil, "an event type to deliver, repeatable; '*' for all")
	f.StringArrayVar(&headers, "header", nil, "an extra request header NAME=VALUE, repeatable")
	f.StringVar(&p.Mode, "mode", "", "push (default) or pull (a mailbox)")
	f.StringVar(&p.Payload, "payload", "", "full (default) or notification (no data)")
	f.StringVar(&p.Format, "format", "", "envelope (default), raw or entity")
	f.StringVar(&p.SignatureScheme, "signature-scheme", "", "standard (default) or hmac-sha256")
	f.StringVar(&p.SignatureHeader, "signature-header", "", "hmac-sha256: the header (default X-Postbode-Signature)")
	f.StringVar(&p.Secret, "secret", "", "the signing secret, whsec_… (default: generated)")
	f.IntVar(&p.TimeoutSeconds, "timeout", 0, "seconds to wait for an answer, 1 to 30 (default 10)")
	f.IntVar(&p.FailureThreshold, "failure-threshold", 0, "consecutive failures that disable it (0: the server's default)")
	f.StringVar(&retry, "retry-schedule", "", "delays between attempts, e.g. 30s,5m,1h (default: the server's)")
	f.StringVar(&p.APIVersion, "api-version", "", "the api_version sent in the envelope")
	f.StringVar(&p.Auth, "auth", "", "pull: bearer (default) or basic")
	f.BoolVar(&p.CoalesceBySubject, "coalesce-by-subject", false, "pull: a new message about a subject replaces the unclaimed one")

	var upd struct {
		name, url, payload, format, scheme, header, apiVersion, retry string
		timeout, threshold                                            int
		eventTypes, headers                                           []string
		coalesce, noHeaders                                           bool
	}
	update := &cobra.Command{
		Use:   "update SUBSCRIPTION",
		Short: "Change a subscription: only the flags given change",
		Example: `  postbode subscriptions update sub_… --target https://example.com/new
  postbode subscriptions update sub_… --event-type invoice.paid --event-type invoice.void
  postbode subscriptions update sub_… --retry-schedule default`,
		Args: args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			var u client.SubscriptionUpdate
			fl := cmd.Flags()
			setStr := func(name string, v string, dst **string) {
				if fl.Changed(name) {
					*dst = &v
				}
			}
			setStr("name", upd.name, &u.Name)
			setStr("target", upd.url, &u.URL)
			setStr("payload", upd.payload, &u.Payload)
			setStr("format", upd.format, &u.Format)
			setStr("signature-scheme", upd.scheme, &u.SignatureScheme)
			setStr("signature-header", upd.header, &u.SignatureHeader)
			if fl.Changed("api-version") {
				if upd.apiVersion == "" {
					u.ClearAPIVersion = true
				} else {
					u.APIVersion = &upd.apiVersion
				}
			}
			if fl.Changed("timeout") {
				u.TimeoutSeconds = &upd.timeout
			}
			if fl.Changed("failure-threshold") {
				u.FailureThreshold = &upd.threshold
			}
			if fl.Changed("coalesce-by-subject") {
				u.CoalesceBySubject = &upd.coalesce
			}
			if fl.Changed("event-type") {
				u.EventTypes = upd.eventTypes
			}
			if fl.Changed("header") {
				if u.Headers, err = keyValues("header", upd.headers); err != nil {
					return err
				}
			}
			if upd.noHeaders {
				u.Headers = map[string]string{}
			}
			switch {
			case !fl.Changed("retry-schedule"):
			case upd.retry == "default":
				u.DefaultRetrySchedule = true
			case upd.retry == "":
				u.RetrySchedule = []string{}
			default:
				u.RetrySchedule = strings.Split(upd.retry, ",")
			}
			s, err := c.UpdateSubscription(cmd.Context(), ws, args[0], u)
			if err != nil {
				return err
			}
			return a.output(s, func(w io.Writer) { subscriptionFields(w, s) })
		},
	}
	f = update.Flags()
	f.StringVar(&upd.name, "name", "", "a new name")
	f.StringVar(&upd.url, "target", "", "a new URL to POST events to")
	f.StringArrayVar(&upd.eventTypes, "event-type", nil, "the event types, repeatable: replaces them all")
	f.StringArrayVar(&upd.headers, "header", nil, "the headers NAME=VALUE, repeatable: replaces them all (a value *** keeps the stored one)")
	f.BoolVar(&upd.noHeaders, "no-headers", false, "remove every extra header")
	f.StringVar(&upd.payload, "payload", "", "full or notification")
	f.StringVar(&upd.format, "format", "", "envelope, raw or entity")
	f.StringVar(&upd.scheme, "signature-scheme", "", "standard or hmac-sha256")
	f.StringVar(&upd.header, "signature-header", "", "hmac-sha256: the header")
	f.IntVar(&upd.timeout, "timeout", 0, "seconds to wait for an answer, 1 to 30")
	f.IntVar(&upd.threshold, "failure-threshold", 0, "consecutive failures that disable it")
	f.StringVar(&upd.retry, "retry-schedule", "", "delays, e.g. 30s,5m; 'default' for the server's; '' for no retries")
	f.StringVar(&upd.apiVersion, "api-version", "", "the envelope's api_version ('' clears it)")
	f.BoolVar(&upd.coalesce, "coalesce-by-subject", false, "pull: coalesce unclaimed messages by subject")

	del := &cobra.Command{
		Use:   "delete SUBSCRIPTION",
		Short: "Delete a subscription with its deliveries and attempts (or its mailbox)",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if err := c.DeleteSubscription(cmd.Context(), ws, args[0]); err != nil {
				return err
			}
			return a.done(map[string]any{"deleted": args[0]}, "deleted "+args[0])
		},
	}
	test := &cobra.Command{
		Use:   "test SUBSCRIPTION",
		Short: "Send a webhook.test event now and show the attempt",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			at, err := c.TestSubscription(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return a.output(at, func(w io.Writer) { attemptFields(w, at) })
		},
	}
	var alf listFlags
	attempts := &cobra.Command{
		Use:   "attempts SUBSCRIPTION [ATTEMPT]",
		Short: "The attempt log of a push subscription, newest first, or one attempt whole",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				at, err := c.GetAttempt(cmd.Context(), ws, args[0], args[1])
				if err != nil {
					return err
				}
				return a.output(at, func(w io.Writer) {
					attemptFields(w, at)
					fmt.Fprintf(w, "\nrequest body:\n%s\n", at.Request.Body)
					if at.Response != nil {
						fmt.Fprintf(w, "\nresponse body:\n%s\n", at.Response.Body)
					}
				})
			}
			items, next, err := collect(cmd.Context(), &alf, func(ctx contextT, o client.ListOptions) (*client.Page[client.Attempt], error) {
				return c.ListAttempts(ctx, ws, args[0], o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "TIME", "EVENT TYPE", "STATUS", "DURATION", "DELIVERY", "ERROR"}, func(at client.Attempt) []string {
				return []string{at.ID, when(at.CreatedAt), at.EventType, attemptStatus(&at), strconv.FormatInt(at.DurationMS, 10) + "ms", at.DeliveryID, dash(at.Error)}
			})
		},
	}
	addListFlags(attempts, &alf)
	rotate := &cobra.Command{
		Use:   "rotate-secret SUBSCRIPTION",
		Short: "Give a push subscription a new secret (shown once); the old one signs beside it for 24 hours",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			s, err := c.RotateSecret(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return a.output(s, func(w io.Writer) {
				fields(w, "id", s.ID, "secret", s.Secret+"   (shown this once)", "previous secret until", whenp(s.PreviousSecretExpiresAt))
			})
		},
	}
	c := group("subscriptions", "Manage subscriptions: push webhooks and pull mailboxes",
		list, get, create, update, del, test, attempts, enable, disable, rotate)
	c.Aliases = []string{"subscription", "subs", "sub"}
	return c
}

// subCmd is a command on one subscription that answers the subscription.
func (a *runner) subCmd(use, short string, do func(*cobra.Command, *client.Client, string, string) (*client.Subscription, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			s, err := do(cmd, c, ws, args[0])
			if err != nil {
				return err
			}
			return a.output(s, func(w io.Writer) { subscriptionFields(w, s) })
		},
	}
}

func subscriptionFields(w io.Writer, s *client.Subscription) {
	fields(w, "id", s.ID, "name", s.Name, "mode", s.Mode, "status", s.Status, "event types", strings.Join(s.EventTypes, ", "))
	if s.Mode == "pull" {
		fields(w, "auth", dash(s.Auth), "coalesce by subject", strconv.FormatBool(s.CoalesceBySubject))
	} else {
		retry := "default"
		if s.RetrySchedule != nil {
			retry = dash(strings.Join(s.RetrySchedule, ","))
		}
		fields(w, "url", s.URL, "payload", s.Payload, "format", s.Format, "signature", s.SignatureScheme,
			"timeout", strconv.Itoa(s.TimeoutSeconds)+"s", "retry schedule", retry,
			"consecutive failures", strconv.Itoa(s.ConsecutiveFailures))
		keys := make([]string, 0, len(s.Headers))
		for k := range s.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fields(w, "header", k+": "+s.Headers[k])
		}
	}
	fields(w, "created", when(s.CreatedAt), "updated", when(s.UpdatedAt))
}

func attemptStatus(at *client.Attempt) string {
	switch {
	case at.Response != nil:
		return strconv.Itoa(at.Response.Status)
	case at.Error != "":
		return "error"
	}
	return "-"
}

func attemptFields(w io.Writer, at *client.Attempt) {
	fields(w, "id", at.ID, "time", when(at.CreatedAt), "url", at.Request.URL, "event", at.EventID+" ("+at.EventType+")",
		"status", attemptStatus(at), "succeeded", strconv.FormatBool(at.Succeeded),
		"duration", (time.Duration(at.DurationMS) * time.Millisecond).String())
	if at.Error != "" {
		fields(w, "error", at.Error)
	}
}

// done prints the outcome of an action without an answer of its own.
func (a *runner) done(v any, line string) error {
	if a.json {
		return a.printJSON(v)
	}
	_, err := fmt.Fprintln(a.env.Stdout, line)
	return err
}

func (a *runner) recoverCommand() *cobra.Command {
	var since string
	var wait bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "recover SUBSCRIPTION --since TIME",
		Short: "Send again the failed and held deliveries made since TIME (enabling a disabled subscription)",
		Long: `Send again the failed and held deliveries of a subscription created since TIME,
enabling it if it was disabled. With --wait, follow them in the attempt log
until each has been attempted, with a progress bar on stderr (plain lines
when stderr is not a terminal).`,
		Example: `  postbode recover sub_… --since 24h
  postbode recover sub_… --since 2026-01-02T00:00:00Z --wait`,
		Args: args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if since == "" {
				return usagef("give --since: a time or a duration ago (24h)")
			}
			t, err := parseTime(since, time.Now())
			if err != nil {
				return err
			}
			// Attempts after the newest one now are the recovered
			// deliveries': dated by the server's clock, not this machine's.
			var start time.Time
			if wait {
				p, err := c.ListAttempts(cmd.Context(), ws, args[0], client.ListOptions{Limit: 1})
				if err != nil {
					return err
				}
				if len(p.Data) > 0 {
					start = p.Data[0].CreatedAt
				}
			}
			n, err := c.RecoverDeliveries(cmd.Context(), ws, args[0], t)
			if err != nil {
				return err
			}
			if !wait || n == 0 {
				return a.done(map[string]any{"queued": n}, fmt.Sprintf("queued %d deliveries", n))
			}
			fmt.Fprintf(a.env.Stderr, "queued %d deliveries\n", n)
			ok, failed, err := a.follow(cmd, c, ws, args[0], start, n, timeout)
			if err != nil {
				return err
			}
			return a.done(map[string]any{"queued": n, "succeeded": ok, "failed": failed},
				fmt.Sprintf("recovered %d of %d deliveries; %d failed again", ok, n, failed))
		},
	}
	c.Flags().StringVar(&since, "since", "", "RFC 3339 time, a date, or a duration ago (24h) (required)")
	c.Flags().BoolVar(&wait, "wait", false, "follow the deliveries until each has been attempted, with a progress bar")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: stop following after this long")
	return c
}

// follow watches a subscription's attempt log for attempts after start
// until n deliveries have been attempted, counting those that succeeded.
func (a *runner) follow(cmd *cobra.Command, c *client.Client, ws, sub string, start time.Time, n int, timeout time.Duration) (ok, failed int, err error) {
	bar := newProgress(a.env.Stderr, "recover", n)
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]bool{} // delivery → succeeded
		for at, err := range c.AllAttempts(cmd.Context(), ws, sub, client.ListOptions{Limit: 100}) {
			if err != nil {
				return 0, 0, err
			}
			if !at.CreatedAt.After(start) {
				break
			}
			if at.Test {
				continue
			}
			seen[at.DeliveryID] = seen[at.DeliveryID] || at.Succeeded
		}
		ok, failed = 0, 0
		for _, s := range seen {
			if s {
				ok++
			} else {
				failed++
			}
		}
		bar.Set(min(ok+failed, n))
		if ok+failed >= n {
			bar.Done()
			return ok, failed, nil
		}
		if time.Now().After(deadline) {
			bar.Done()
			return ok, failed, fmt.Errorf("after %s, %d of %d deliveries attempted (%d succeeded); they go on in the server", timeout, ok+failed, n, ok)
		}
		select {
		case <-cmd.Context().Done():
			bar.Done()
			return ok, failed, cmd.Context().Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

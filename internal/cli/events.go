// events, and resend: one delivery, or many with a progress bar.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
)

func (a *runner) eventsCommand() *cobra.Command {
	var lf listFlags
	var typ, subject, since, until string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's events, newest first",
		Example: `  postbode events list --type invoice.paid --since 24h
  postbode events list --all --json | jq '.data[].id'`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			f := client.EventFilter{Type: typ, Subject: subject}
			now := time.Now()
			if since != "" {
				if f.Since, err = parseTime(since, now); err != nil {
					return err
				}
			}
			if until != "" {
				if f.Until, err = parseTime(until, now); err != nil {
					return err
				}
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.Event], error) {
				return c.ListEvents(ctx, ws, f, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "TIME", "TYPE", "SUBJECT", "DATA"}, func(e client.Event) []string {
				return []string{e.ID, when(e.CreatedAt), e.Type, str(e.Subject), shorten(e.Data, e.DataTruncated)}
			})
		},
	}
	addListFlags(list, &lf)
	list.Flags().StringVar(&typ, "type", "", "only events of this type")
	list.Flags().StringVar(&subject, "subject", "", "only events about this subject")
	list.Flags().StringVar(&since, "since", "", "only events since: RFC 3339, a date, or a duration ago (24h)")
	list.Flags().StringVar(&until, "until", "", "only events before this time")

	get := &cobra.Command{
		Use:   "get EVENT",
		Short: "Show an event whole, with its deliveries",
		Args:  args("EVENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			e, err := c.GetEvent(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return a.output(e, func(w io.Writer) {
				fields(w, "id", e.ID, "type", e.Type, "label", dash(e.Label), "subject", str(e.Subject), "user", str(e.UserID),
					"time", when(e.CreatedAt), "data", string(e.Data))
				if len(e.Deliveries) > 0 {
					fmt.Fprintln(w, "\nDELIVERY\tSUBSCRIPTION\tSTATUS\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
					for _, d := range e.Deliveries {
						row(w, d.ID, d.SubscriptionID, d.Status, strconv.Itoa(d.Attempts), whenp(d.NextAttemptAt), dash(d.LastError))
					}
				}
			})
		},
	}

	var p client.PublishParams
	var data string
	publish := &cobra.Command{
		Use:   "publish TYPE --data JSON",
		Short: "Publish an event: stored, then delivered to every subscription of its type",
		Example: `  postbode events publish invoice.paid --data '{"invoice":"1001","amount":4200}' --idempotency-key order-1001
  postbode events publish user.new --subject user/1 --data @user.json
  echo '{"id":1}' | postbode events publish user.delete --subject user/1 --data @-`,
		Args: args("TYPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if data == "" {
				data = "{}"
			}
			b, err := a.readData("data", data)
			if err != nil {
				return err
			}
			p.Type, p.Data = args[0], json.RawMessage(b)
			out, err := c.Publish(cmd.Context(), ws, p)
			if err != nil {
				return err
			}
			return a.output(out, func(w io.Writer) {
				fields(w, "id", out.ID, "type", out.Type, "time", when(out.CreatedAt))
				if out.Duplicate {
					fields(w, "duplicate", "true (an earlier event with this idempotency key; nothing new stored)")
				}
			})
		},
	}
	publish.Flags().StringVar(&data, "data", "", "the event's data: JSON, @file or @- for stdin (default {})")
	publish.Flags().StringVar(&p.Subject, "subject", "", "what the event is about, e.g. user/1")
	publish.Flags().StringVar(&p.UserID, "user-id", "", "the user the event is about or for")
	publish.Flags().StringVar(&p.IdempotencyKey, "idempotency-key", "", "a repeat within 24 hours returns the first event and stores nothing")

	resend := &cobra.Command{
		Use:   "resend DELIVERY",
		Short: "One more delivery of a delivery's event to its subscription (postbode resend does many)",
		Args:  args("DELIVERY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			d, err := c.ResendDelivery(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return a.output(d, func(w io.Writer) { deliveryFields(w, d) })
		},
	}
	c := group("events", "List, show, publish events and resend a delivery", list, get, publish, resend)
	c.Aliases = []string{"event"}
	return c
}

func deliveryFields(w io.Writer, d *client.Delivery) {
	fields(w, "id", d.ID, "event", d.EventID, "subscription", d.SubscriptionID, "status", d.Status, "created", when(d.CreatedAt))
}

// shorten is an event's data for a table: one line, at most 60 characters.
func shorten(data json.RawMessage, truncated bool) string {
	if truncated {
		return "(over 4 KiB)"
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return dash(s)
}

func (a *runner) resendCommand() *cobra.Command {
	var event, sub, status, since, typ string
	var yes bool
	c := &cobra.Command{
		Use:   "resend [DELIVERY...]",
		Short: "Resend many deliveries: given ones, every delivery of an event, or a subscription's failed ones",
		Long: `Resend deliveries: each gets one more delivery of its event to its subscription.

  postbode resend DELIVERY...                         the deliveries given
  postbode resend --event EVENT [--subscription SUB]  an event again, to each of its subscriptions (or one)
  postbode resend --subscription SUB --since TIME     the subscription's deliveries with --status
                                                      (default failed) of the events since TIME

Finding a subscription's deliveries reads each event since TIME (narrow it
with --type); without --yes it only lists what it would resend. Progress goes
to stderr as a bar on a terminal, else as lines. (To send again everything a
subscription failed or held, the server can do it in one request:
postbode recover.)`,
		Example: `  postbode resend --event evt_…
  postbode resend --subscription sub_… --since 24h --yes
  postbode resend --subscription sub_… --since 2026-01-02 --status failed,held --type invoice.paid --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var ids []string
			switch {
			case len(args) > 0:
				if event != "" || since != "" {
					return usagef("give deliveries, or --event, or --subscription with --since: one of them")
				}
				ids, yes = args, true
			case event != "":
				if since != "" {
					return usagef("--event and --since do not go together")
				}
				e, err := c.GetEvent(ctx, ws, event)
				if err != nil {
					return err
				}
				// The newest delivery to each subscription: an earlier
				// resend made a second one, which is not to be sent twice.
				newest := map[string]client.Delivery{}
				for _, d := range e.Deliveries {
					if n, ok := newest[d.SubscriptionID]; (sub == "" || d.SubscriptionID == sub) && (!ok || d.CreatedAt.After(n.CreatedAt)) {
						newest[d.SubscriptionID] = d
					}
				}
				for _, d := range e.Deliveries {
					if newest[d.SubscriptionID].ID == d.ID {
						ids = append(ids, d.ID)
					}
				}
				yes = true
			case sub != "" && since != "":
				t, err := parseTime(since, time.Now())
				if err != nil {
					return err
				}
				want := map[string]bool{}
				for _, s := range strings.Split(status, ",") {
					want[strings.TrimSpace(s)] = true
				}
				if ids, err = a.findDeliveries(cmd, c, ws, sub, typ, t, want); err != nil {
					return err
				}
			default:
				return usagef("give deliveries, or --event EVENT, or --subscription SUB --since TIME")
			}
			if !yes {
				if a.json {
					return a.printJSON(map[string]any{"would_resend": ids})
				}
				for _, id := range ids {
					fmt.Fprintln(a.env.Stdout, id)
				}
				fmt.Fprintf(a.env.Stderr, "%d deliveries would be resent: add --yes to resend them\n", len(ids))
				return nil
			}
			return a.resendAll(cmd, c, ws, ids)
		},
	}
	f := c.Flags()
	f.StringVar(&event, "event", "", "resend this event to each of its subscriptions (its newest delivery to each)")
	f.StringVar(&sub, "subscription", "", "only deliveries to this subscription")
	f.StringVar(&since, "since", "", "with --subscription: deliveries of events since this time (RFC 3339, a date, or 24h ago)")
	f.StringVar(&status, "status", "failed", "with --since: the delivery statuses to resend, comma-separated (failed, held, succeeded, pending)")
	f.StringVar(&typ, "type", "", "with --since: only events of this type")
	f.BoolVar(&yes, "yes", false, "with --since: resend, rather than list what would be resent")
	return c
}

// findDeliveries reads the events since t and returns the deliveries to
// sub whose status is wanted, oldest event first.
func (a *runner) findDeliveries(cmd *cobra.Command, c *client.Client, ws, sub, typ string, t time.Time, want map[string]bool) ([]string, error) {
	ctx := cmd.Context()
	var events []string
	for e, err := range c.AllEvents(ctx, ws, client.EventFilter{Type: typ, Since: t}, client.ListOptions{Limit: 1000}) {
		if err != nil {
			return nil, err
		}
		events = append(events, e.ID)
	}
	bar := newProgress(a.env.Stderr, "reading events", len(events))
	var ids []string
	for i := len(events) - 1; i >= 0; i-- {
		e, err := c.GetEvent(ctx, ws, events[i])
		if client.IsNotFound(err) {
			bar.Add(1) // deleted meanwhile (retention)
			continue
		}
		if err != nil {
			bar.Done()
			return nil, err
		}
		for _, d := range e.Deliveries {
			if d.SubscriptionID == sub && want[d.Status] {
				ids = append(ids, d.ID)
			}
		}
		bar.Add(1)
	}
	bar.Done()
	return ids, nil
}

// resendAll resends each delivery, going on after a failure; the error
// counts the failures.
func (a *runner) resendAll(cmd *cobra.Command, c *client.Client, ws string, ids []string) error {
	type result struct {
		Delivery    string `json:"delivery"`
		NewDelivery string `json:"new_delivery,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	results := make([]result, 0, len(ids))
	bar := newProgress(a.env.Stderr, "resend", len(ids))
	failed := 0
	for _, id := range ids {
		d, err := c.ResendDelivery(cmd.Context(), ws, id)
		r := result{Delivery: id}
		if err != nil {
			if cmd.Context().Err() != nil {
				bar.Done()
				return err
			}
			failed++
			r.Error = err.Error()
		} else {
			r.NewDelivery = d.ID
		}
		results = append(results, r)
		bar.Add(1)
	}
	bar.Done()
	err := a.output(map[string]any{"resent": len(ids) - failed, "failed": failed, "results": results}, func(w io.Writer) {
		row(w, "DELIVERY", "NEW DELIVERY", "ERROR")
		for _, r := range results {
			row(w, r.Delivery, dash(r.NewDelivery), dash(r.Error))
		}
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deliveries were not resent", failed, len(ids))
	}
	fmt.Fprintf(a.env.Stderr, "resent %d deliveries\n", len(ids))
	return nil
}

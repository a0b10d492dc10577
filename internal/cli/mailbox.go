// mailbox: a pull subscription's messages.
package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
)

func (a *runner) mailboxCommand() *cobra.Command {
	var cp client.ClaimParams
	claim := &cobra.Command{
		Use:   "claim SUBSCRIPTION",
		Short: "Claim the oldest new messages under a lease (acknowledge them with mailbox ack)",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			msgs, err := c.Claim(cmd.Context(), ws, args[0], cp)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"messages": msgs})
			}
			return a.output(nil, func(w io.Writer) {
				row(w, "MESSAGE", "LEASE", "CLAIMED UNTIL", "CLAIMS", "EVENT", "TYPE", "DATA")
				for _, m := range msgs {
					row(w, m.ID, m.LeaseID, when(m.ClaimedUntil), strconv.Itoa(m.Claims), m.Event.ID, m.Event.Type, shorten(m.Event.Data, false))
				}
			})
		},
	}
	claim.Flags().IntVar(&cp.Count, "count", 1, "messages to claim, 1 to 1000")
	claim.Flags().IntVar(&cp.LeaseSeconds, "lease", 60, "seconds the lease runs, 1 to 43200")
	claim.Flags().IntVar(&cp.WaitSeconds, "wait", 0, "seconds to wait for a message when none is new, 0 to 30")
	claim.Flags().StringVar(&cp.Type, "type", "", "only messages of this event type")
	claim.Flags().StringVar(&cp.Subject, "subject", "", "only messages about this subject")

	var ap client.AckParams
	ack := &cobra.Command{
		Use:   "ack SUBSCRIPTION MESSAGE success|failed|release|extend",
		Short: "Acknowledge a claimed message: success, failed (--reason), release (--delay) or extend (--lease)",
		Example: `  postbode mailbox ack sub_… msg_… success --lease-id lease_…
  postbode mailbox ack sub_… msg_… failed --reason "no such patient"
  postbode mailbox ack sub_… msg_… release --delay 60`,
		Args: args("SUBSCRIPTION", "MESSAGE", "ACTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			switch args[2] {
			case client.AckSuccess, client.AckFailed, client.AckRelease, client.AckExtend:
			default:
				return usagef("the action %q is not success, failed, release or extend", args[2])
			}
			m, err := c.Ack(cmd.Context(), ws, args[0], args[1], args[2], ap)
			if err != nil {
				return err
			}
			return a.output(m, func(w io.Writer) { messageFields(w, m) })
		},
	}
	ack.Flags().StringVar(&ap.LeaseID, "lease-id", "", "the claim's lease id: refused (lease_lost) if it was claimed again since")
	ack.Flags().StringVar(&ap.Reason, "reason", "", "failed, release: why")
	ack.Flags().IntVar(&ap.DelaySeconds, "delay", 0, "release: seconds until it may be claimed again")
	ack.Flags().IntVar(&ap.LeaseSeconds, "lease", 0, "extend: seconds the lease runs from now")

	var mf client.MailboxFilter
	var lf listFlags
	search := &cobra.Command{
		Use:   "search SUBSCRIPTION",
		Short: "List a mailbox's messages, oldest first",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.MailboxMessage], error) {
				return c.SearchMailbox(ctx, ws, args[0], mf, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"MESSAGE", "STATUS", "TYPE", "SUBJECT", "EVENT", "CLAIMS", "CREATED", "REASON"}, func(m client.MailboxMessage) []string {
				return []string{m.ID, m.Status, m.Type, str(m.Subject), m.EventID, strconv.Itoa(m.Claims), when(m.CreatedAt), dash(m.Reason)}
			})
		},
	}
	addListFlags(search, &lf)
	search.Flags().StringVar(&mf.Status, "status", "", "new, claimed, success, failed, replaced or max_retries_exceeded")
	search.Flags().StringVar(&mf.Type, "type", "", "only messages of this event type")
	search.Flags().StringVar(&mf.Subject, "subject", "", "only messages about this subject")

	stats := &cobra.Command{
		Use:   "stats SUBSCRIPTION",
		Short: "Count a mailbox's messages by status",
		Args:  args("SUBSCRIPTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			s, err := c.MailboxStats(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return a.output(s, func(w io.Writer) {
				keys := make([]string, 0, len(s))
				for k := range s {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				row(w, "STATUS", "MESSAGES")
				for _, k := range keys {
					row(w, k, strconv.Itoa(s[k]))
				}
			})
		},
	}
	return group("mailbox", "A pull subscription's mailbox: claim, ack, search, stats", claim, ack, search, stats)
}

func messageFields(w io.Writer, m *client.MailboxMessage) {
	fields(w, "id", m.ID, "status", m.Status, "type", m.Type, "event", m.EventID, "claims", fmt.Sprint(m.Claims),
		"claimed until", whenp(m.ClaimedUntil), "reason", dash(m.Reason))
}

// inbound: inbound webhooks, the URLs other systems post events to.
package cli

import (
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/postbode/postbode/client"
)

// verifyFlags are an inbound webhook's check of the sender's signature.
type verifyFlags struct{ v client.InboundVerify }

func (vf *verifyFlags) add(f *pflag.FlagSet) {
	f.StringVar(&vf.v.Scheme, "verify", "", "check the sender's signature: standard, hmac, github, stripe, shopify or slack")
	f.StringVar(&vf.v.Secret, "verify-secret", "", "the sender's signing secret")
	f.StringVar(&vf.v.Header, "verify-header", "", "hmac: the signature's header")
	f.StringVar(&vf.v.Algorithm, "verify-algorithm", "", "hmac: sha1, sha256 or sha512")
	f.StringVar(&vf.v.Encoding, "verify-encoding", "", "hmac: hex or base64")
	f.StringVar(&vf.v.Prefix, "verify-prefix", "", "hmac: a prefix before the signature, e.g. sha256=")
}

func (vf *verifyFlags) get() *client.InboundVerify {
	if vf.v.Scheme == "" {
		return nil
	}
	v := vf.v
	return &v
}

func (a *runner) inboundCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's inbound webhooks",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.Inbound], error) {
				return c.ListInbound(ctx, ws, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "NAME", "EVENT TYPE", "AUTH", "STATUS", "URL"}, func(in client.Inbound) []string {
				return []string{in.ID, in.Name, in.EventType, in.Auth, in.Status, in.URL}
			})
		},
	}
	addListFlags(list, &lf)
	one := func(use, short string, do func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Inbound, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  args("INBOUND"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ws, err := a.clientWS()
				if err != nil {
					return err
				}
				in, err := do(cmd, c, ws, args[0])
				if err != nil {
					return err
				}
				return a.output(in, func(w io.Writer) { inboundFields(w, in) })
			},
		}
	}
	get := one("get INBOUND", "Show an inbound webhook", func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Inbound, error) {
		return c.GetInbound(cmd.Context(), ws, id)
	})
	enable := one("enable INBOUND", "Accept posts again", func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Inbound, error) {
		return c.EnableInbound(cmd.Context(), ws, id)
	})
	disable := one("disable INBOUND", "Answer posts 403 inbound_disabled", func(cmd *cobra.Command, c *client.Client, ws, id string) (*client.Inbound, error) {
		return c.DisableInbound(cmd.Context(), ws, id)
	})

	var p client.InboundParams
	var cv verifyFlags
	create := &cobra.Command{
		Use:   "create NAME --event-type TYPE",
		Short: "Create an inbound webhook; its app token is shown once",
		Example: `  postbode inbound create payments --event-type payment.received
  postbode inbound create github --event-type push --verify github --verify-secret s3cret --dedupe-header X-GitHub-Delivery`,
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			p.Name, p.Verify = args[0], cv.get()
			in, err := c.CreateInbound(cmd.Context(), ws, p)
			if err != nil {
				return err
			}
			return a.output(in, func(w io.Writer) { inboundTokenFields(w, in) })
		},
	}
	create.Flags().StringVar(&p.EventType, "event-type", "", "the type of the events its posts become (required)")
	create.Flags().StringVar(&p.Auth, "auth", "", "bearer (default) or basic")
	create.Flags().StringVar(&p.DedupeHeader, "dedupe-header", "", "a header whose repeated value marks a repeated post")
	cv.add(create.Flags())

	var name, eventType, dedupe string
	var uv verifyFlags
	var noVerify bool
	update := &cobra.Command{
		Use:   "update INBOUND",
		Short: "Change an inbound webhook: only the flags given change",
		Args:  args("INBOUND"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			var u client.InboundUpdate
			fl := cmd.Flags()
			if fl.Changed("name") {
				u.Name = &name
			}
			if fl.Changed("event-type") {
				u.EventType = &eventType
			}
			if fl.Changed("dedupe-header") {
				u.DedupeHeader = &dedupe
			}
			u.Verify, u.RemoveVerify = uv.get(), noVerify
			in, err := c.UpdateInbound(cmd.Context(), ws, args[0], u)
			if err != nil {
				return err
			}
			return a.output(in, func(w io.Writer) { inboundFields(w, in) })
		},
	}
	update.Flags().StringVar(&name, "name", "", "a new name")
	update.Flags().StringVar(&eventType, "event-type", "", "a new event type")
	update.Flags().StringVar(&dedupe, "dedupe-header", "", "the dedupe header ('' stops deduplicating)")
	update.Flags().BoolVar(&noVerify, "no-verify", false, "stop checking the sender's signature")
	uv.add(update.Flags())

	del := &cobra.Command{
		Use:   "delete INBOUND",
		Short: "Delete an inbound webhook, its log and its token",
		Args:  args("INBOUND"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			if err := c.DeleteInbound(cmd.Context(), ws, args[0]); err != nil {
				return err
			}
			return a.done(map[string]any{"deleted": args[0]}, "deleted "+args[0])
		},
	}
	var owner string
	token := &cobra.Command{
		Use:   "token INBOUND",
		Short: "Give an inbound webhook a new app token (shown once); the old one stops working",
		Args:  args("INBOUND"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			in, err := c.NewInboundToken(cmd.Context(), ws, args[0], owner)
			if err != nil {
				return err
			}
			return a.output(in, func(w io.Writer) { inboundTokenFields(w, in) })
		},
	}
	token.Flags().StringVar(&owner, "user", "", "the user to own the token (admins; default: you)")
	var rlf listFlags
	requests := &cobra.Command{
		Use:   "requests INBOUND",
		Short: "The requests an inbound webhook received, newest first (credentials masked)",
		Args:  args("INBOUND"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &rlf, func(ctx contextT, o client.ListOptions) (*client.Page[client.InboundRequest], error) {
				return c.ListInboundRequests(ctx, ws, args[0], o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "TIME", "STATUS", "EVENT", "FROM", "ERROR"}, func(r client.InboundRequest) []string {
				return []string{r.ID, when(r.ReceivedAt), strconv.Itoa(r.Status), str(r.EventID), r.RemoteAddr, dash(r.Error)}
			})
		},
	}
	addListFlags(requests, &rlf)
	return group("inbound", "Manage inbound webhooks (POST /in/{id} makes events)", list, get, create, update, del, enable, disable, token, requests)
}

func inboundFields(w io.Writer, in *client.Inbound) {
	fields(w, "id", in.ID, "name", in.Name, "event type", in.EventType, "auth", in.Auth, "status", in.Status, "url", in.URL)
	if in.Username != "" {
		fields(w, "username", in.Username)
	}
	if in.Verify != nil {
		fields(w, "verify", in.Verify.Scheme)
	}
	if in.DedupeHeader != "" {
		fields(w, "dedupe header", in.DedupeHeader)
	}
	fields(w, "created", when(in.CreatedAt))
}

func inboundTokenFields(w io.Writer, in *client.InboundWithToken) {
	inboundFields(w, &in.Inbound)
	fields(w, "token", in.Token+"   (shown this once)")
}

// workspaces, event-types and portal-link.
package cli

import (
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
)

func (a *runner) workspacesCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspaces the token may see",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, c.ListWorkspaces)
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "NAME", "CREATED"}, func(w client.Workspace) []string {
				return []string{w.ID, w.Name, when(w.CreatedAt)}
			})
		},
	}
	addListFlags(list, &lf)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a workspace",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			w, err := c.CreateWorkspace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.output(w, func(out io.Writer) { fields(out, "id", w.ID, "name", w.Name, "created", when(w.CreatedAt)) })
		},
	}
	c := group("workspaces", "List and create workspaces", list, create)
	c.Aliases = []string{"workspace", "ws"}
	return c
}

func (a *runner) eventTypesCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's event types",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.EventType], error) {
				return c.ListEventTypes(ctx, ws, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"NAME", "LABEL", "SCHEMA", "DESCRIPTION"}, func(e client.EventType) []string {
				schema := "-"
				if len(e.Schema) > 0 && string(e.Schema) != "null" {
					schema = "yes"
				}
				return []string{e.Name, dash(e.Label), schema, dash(e.Description)}
			})
		},
	}
	addListFlags(list, &lf)
	var p client.EventTypeParams
	var schemaFile string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Add an event type to the workspace's catalogue",
		Example: `  postbode event-types create invoice.paid --label "Invoice paid"
  postbode event-types create user.new --schema user.schema.json`,
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			p.Name = args[0]
			if schemaFile != "" {
				b, err := os.ReadFile(schemaFile)
				if err != nil {
					return err
				}
				if !json.Valid(b) {
					return usagef("--schema %s: not valid JSON", schemaFile)
				}
				p.Schema = b
			}
			e, err := c.CreateEventType(cmd.Context(), ws, p)
			if err != nil {
				return err
			}
			return a.output(e, func(w io.Writer) {
				fields(w, "name", e.Name, "label", dash(e.Label), "description", dash(e.Description), "created", when(e.CreatedAt))
			})
		},
	}
	create.Flags().StringVar(&p.Label, "label", "", "what people read (default: the name)")
	create.Flags().StringVar(&p.Description, "description", "", "a longer description")
	create.Flags().StringVar(&schemaFile, "schema", "", "a file holding a JSON Schema that every event's data must match")
	return group("event-types", "List and add the workspace's event types", list, create)
}

func (a *runner) portalLinkCommand() *cobra.Command {
	var ttl time.Duration
	return withFlags(&cobra.Command{
		Use:   "portal-link",
		Short: "Make a link to the workspace's customer portal (its webhooks pages, without an account)",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := a.clientWS()
			if err != nil {
				return err
			}
			l, err := c.CreatePortalLink(cmd.Context(), ws, client.PortalLinkParams{TTLSeconds: int64(ttl / time.Second)})
			if err != nil {
				return err
			}
			return a.output(l, func(w io.Writer) { fields(w, "url", l.URL, "expires", when(l.ExpiresAt)) })
		},
	}, func(c *cobra.Command) {
		c.Flags().DurationVar(&ttl, "ttl", 0, "how long the link works, at most 168h (0: the server's default, 1h)")
	})
}

// withFlags lets a command's flags be declared beside it.
func withFlags(c *cobra.Command, add func(*cobra.Command)) *cobra.Command {
	add(c)
	return c
}

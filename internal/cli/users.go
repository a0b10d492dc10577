// users and tokens.
package cli

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/postbode/postbode/client"
)

func (a *runner) usersCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List users (a member sees itself)",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			items, next, err := collect(cmd.Context(), &lf, c.ListUsers)
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "EMAIL", "NAME", "ROLE", "STATUS", "TOKENS", "LAST ACTIVE"}, func(u client.User) []string {
				return []string{u.ID, u.Email, dash(u.Name), u.Role, u.Status, strconv.Itoa(u.TokenCount), whenp(u.LastActiveAt)}
			})
		},
	}
	addListFlags(list, &lf)
	get := &cobra.Command{
		Use:   "get [USER]",
		Short: "Show a user, or with no USER the token's own",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var u *client.User
			if len(args) == 0 {
				u, err = c.Me(cmd.Context())
			} else {
				u, err = c.GetUser(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			return a.output(u, func(w io.Writer) { userFields(w, u) })
		},
	}
	var p client.UserParams
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user (admins); without --password one is made and shown once",
		Example: `  postbode users create ann@example.com --name Ann --role member --workspaces ws_…,ws_…
  postbode users create ops@example.com --role admin`,
		Args: args("EMAIL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p.Email = args[0]
			u, err := c.CreateUser(cmd.Context(), p)
			if err != nil {
				return err
			}
			return a.output(u, func(w io.Writer) {
				userFields(w, &u.User)
				if u.Password != "" {
					fields(w, "password", u.Password+"   (shown this once)")
				}
			})
		},
	}
	create.Flags().StringVar(&p.Name, "name", "", "the user's name")
	create.Flags().StringVar(&p.Role, "role", "member", "admin or member")
	create.Flags().StringVar(&p.Password, "password", "", "the password (default: generated and shown once)")
	create.Flags().StringSliceVar(&p.Workspaces, "workspaces", nil, "a member's workspaces, comma-separated")

	var email, name, role string
	var workspaces []string
	update := &cobra.Command{
		Use:   "update USER",
		Short: "Change a user (admins): only the flags given change",
		Args:  args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var u client.UserUpdate
			fl := cmd.Flags()
			if fl.Changed("email") {
				u.Email = &email
			}
			if fl.Changed("name") {
				u.Name = &name
			}
			if fl.Changed("role") {
				u.Role = &role
			}
			if fl.Changed("workspaces") {
				u.Workspaces = append([]string{}, workspaces...)
			}
			out, err := c.UpdateUser(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return a.output(out, func(w io.Writer) { userFields(w, out) })
		},
	}
	update.Flags().StringVar(&email, "email", "", "a new email address")
	update.Flags().StringVar(&name, "name", "", "a new name")
	update.Flags().StringVar(&role, "role", "", "admin or member")
	update.Flags().StringSliceVar(&workspaces, "workspaces", nil, "the workspaces, comma-separated: replaces them ('' for none)")

	del := &cobra.Command{
		Use:   "delete USER",
		Short: "Delete a user; one that owns tokens is refused (revoke or transfer them first)",
		Args:  args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				if client.ErrorCode(err) == "user_has_tokens" {
					return wrapHint(err, "move them with `postbode tokens transfer TOKEN USER` or revoke them with `postbode tokens revoke TOKEN`")
				}
				return err
			}
			return a.done(map[string]any{"deleted": args[0]}, "deleted "+args[0])
		},
	}
	reactivate := &cobra.Command{
		Use:   "reactivate USER",
		Short: "Make an inactive user active again (admins)",
		Args:  args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.ReactivateUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.output(u, func(w io.Writer) { userFields(w, u) })
		},
	}
	var current string
	var stdin bool
	password := &cobra.Command{
		Use:     "password USER",
		Short:   "Set a user's password, read from stdin (an admin for anyone; a user its own with --current)",
		Example: `  printf '%s\n' 'a long new password' | postbode users password usr_… --stdin`,
		Args:    args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if !stdin {
				return usagef("give the new password on stdin with --stdin (not as an argument, where other users of this machine could read it)")
			}
			line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
			if err != nil && err != io.EOF {
				return err
			}
			pw := strings.TrimRight(line, "\r\n")
			if pw == "" {
				return usagef("stdin held no password")
			}
			if err := c.SetPassword(cmd.Context(), args[0], pw, current); err != nil {
				return err
			}
			return a.done(map[string]any{"password_set": args[0]}, "password set for "+args[0]+"; its login sessions ended")
		},
	}
	password.Flags().BoolVar(&stdin, "stdin", false, "read the new password from the first line of stdin")
	password.Flags().StringVar(&current, "current", "", "your current password, when setting your own as a member")
	c := group("users", "Manage users (admins) and see your own account", list, get, create, update, del, reactivate, password)
	c.Aliases = []string{"user"}
	return c
}

func userFields(w io.Writer, u *client.User) {
	fields(w, "id", u.ID, "email", u.Email, "name", dash(u.Name), "role", u.Role, "status", u.Status,
		"workspaces", dash(strings.Join(u.Workspaces, ", ")), "tokens", strconv.Itoa(u.TokenCount),
		"last active", whenp(u.LastActiveAt), "created", when(u.CreatedAt))
}

type hintError struct {
	error
	hint string
}

func (e hintError) Unwrap() error { return e.error }
func (e hintError) Error() string { return e.error.Error() + "\n" + e.hint }

func wrapHint(err error, hint string) error { return hintError{err, hint} }

func (a *runner) tokensCommand() *cobra.Command {
	var lf listFlags
	list := &cobra.Command{
		Use:   "list [USER]",
		Short: "List a user's tokens (default: the token's own user), without their secrets",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			user := ""
			if len(args) == 1 {
				user = args[0]
			} else {
				me, err := c.Me(cmd.Context())
				if err != nil {
					return err
				}
				user = me.ID
			}
			items, next, err := collect(cmd.Context(), &lf, func(ctx contextT, o client.ListOptions) (*client.Page[client.Token], error) {
				return c.ListTokens(ctx, user, o)
			})
			if err != nil {
				return err
			}
			return printList(a, items, next, []string{"ID", "KIND", "NAME", "RESOURCE", "CREATED", "LAST USED"}, func(t client.Token) []string {
				return []string{t.ID, t.Kind, t.Name, dash(t.ResourceID), when(t.CreatedAt), whenp(t.LastUsedAt)}
			})
		},
	}
	addListFlags(list, &lf)
	create := &cobra.Command{
		Use:   "create USER NAME",
		Short: "Make an integration token for a user; its secret is shown once",
		Args:  args("USER", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.output(t, func(w io.Writer) {
				fields(w, "id", t.ID, "user", t.UserID, "name", t.Name, "token", t.Secret+"   (shown this once)")
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke TOKEN",
		Short: "Revoke a token: it stops working at once",
		Args:  args("TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.done(map[string]any{"revoked": args[0]}, "revoked "+args[0])
		},
	}
	transfer := &cobra.Command{
		Use:   "transfer TOKEN USER",
		Short: "Move a token to another user (admins), where it keeps working",
		Args:  args("TOKEN", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.TransferToken(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.output(t, func(w io.Writer) { fields(w, "id", t.ID, "user", t.UserID, "kind", t.Kind, "name", t.Name) })
		},
	}
	c := group("tokens", "List, make, revoke and move tokens", list, create, revoke, transfer)
	c.Aliases = []string{"token"}
	return c
}

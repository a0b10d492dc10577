// The users pages, for admins: status and last activity, tokens, creating,
// reactivating, passwords, and deleting — with the seed's warning while
// tokens remain, and a way to move them to another user.
package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/postbode/postbode/internal/account"
	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/store"
)

// users lists the users for an admin; a member has only its own account
// to see.
func (s *Server) users(w http.ResponseWriter, r *http.Request, v *view) error {
	if !v.Admin {
		http.Redirect(w, r, "/users/"+v.User.ID, http.StatusSeeOther)
		return nil
	}
	var created *account.NewUser
	if o := v.onceFor("new-user"); o != nil {
		created = &account.NewUser{User: &account.User{User: &store.User{Email: o["email"]}}, Password: o["password"]}
	}
	return s.showUsers(w, r, v, created, http.StatusOK)
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, v *view, created *account.NewUser, code int) error {
	list, err := s.Accounts.ListUsers(r.Context(), v.principal, listQuery(r.URL.Query().Get("cursor"), "100"))
	if err != nil {
		return err
	}
	v.Title = "Users"
	v.Data = map[string]any{"Users": list.Data, "Next": list.NextCursor, "Created": created}
	s.render(w, code, "users.html", v)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, v *view) error {
	f := r.PostForm
	in := account.UserInput{Workspaces: f["workspaces"], Email: formString(f, "email"), Name: formString(f, "name"),
		Role: formString(f, "role")}
	if pw := r.PostFormValue("password"); pw != "" {
		in.Password = &pw
	}
	if in.Workspaces == nil {
		in.Workspaces = []string{}
	}
	u, err := s.Accounts.CreateUser(r.Context(), v.principal, in)
	if err != nil {
		list, lerr := s.Accounts.ListUsers(r.Context(), v.principal, listQuery("", "100"))
		if lerr != nil {
			return lerr
		}
		v.Title = "Users"
		v.Data = map[string]any{"Users": list.Data}
		return s.refused(w, r, v, "users.html", err)
	}
	flash := "User " + u.Email + " created."
	if u.Password == "" {
		return s.redirect(w, r, "/users", flash)
	}
	return s.showOnce(w, r, v, "/users", flash+" Give them the password below now: it is not shown again.",
		once{For: "new-user", Values: map[string]string{"email": u.Email, "password": u.Password}})
}

// userPage is a user's page: the user, its tokens and the other users its
// tokens may move to.
type userPage struct {
	User     *account.User
	Tokens   []store.Token
	Others   []account.User
	NewToken *account.NewToken
	// HasTokens shows the warning that the user cannot be deleted yet.
	HasTokens string
}

func (s *Server) loadUser(r *http.Request, v *view, id string) (*userPage, error) {
	u, err := s.Accounts.GetUser(r.Context(), v.principal, id)
	if err != nil {
		return nil, err
	}
	toks, err := s.allTokens(r, v, id)
	if err != nil {
		return nil, err
	}
	all, err := s.Accounts.ListUsers(r.Context(), v.principal, listQuery("", "1000"))
	if err != nil {
		return nil, err
	}
	page := &userPage{User: u, Tokens: toks}
	for _, o := range all.Data {
		if o.ID != u.ID {
			page.Others = append(page.Others, o)
		}
	}
	return page, nil
}

// allTokens pages through every token of a user.
func (s *Server) allTokens(r *http.Request, v *view, userID string) ([]store.Token, error) {
	var out []store.Token
	cursor := ""
	for {
		list, err := s.Accounts.ListTokens(r.Context(), v.principal, userID, listQuery(cursor, "1000"))
		if err != nil {
			return nil, err
		}
		out = append(out, list.Data...)
		if list.NextCursor == nil {
			return out, nil
		}
		cursor = *list.NextCursor
	}
}

func (s *Server) userDetail(w http.ResponseWriter, r *http.Request, v *view) error {
	page, err := s.loadUser(r, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	if o := v.onceFor("token:" + page.User.ID); o != nil {
		page.NewToken = &account.NewToken{Token: &store.Token{Name: o["name"]}, Secret: o["token"]}
	}
	return s.showUser(w, v, page, http.StatusOK)
}

func (s *Server) showUser(w http.ResponseWriter, v *view, page *userPage, code int) error {
	v.Title = page.User.Name
	if v.Title == "" {
		v.Title = page.User.Email
	}
	v.Data = page
	s.render(w, code, "user.html", v)
	return nil
}

func (s *Server) reactivateUser(w http.ResponseWriter, r *http.Request, v *view) error {
	u, err := s.Accounts.Reactivate(r.Context(), v.principal, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.redirect(w, r, "/users/"+u.ID, u.Email+" is active again.")
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if err := s.Accounts.SetPassword(r.Context(), v.principal, id, r.PostFormValue("password"), r.PostFormValue("current_password")); err != nil {
		page, lerr := s.loadUser(r, v, id)
		if lerr != nil {
			return lerr
		}
		v.Title = page.User.Email
		v.Data = page
		return s.refused(w, r, v, "user.html", err)
	}
	if id == v.User.ID {
		// Changing one's own password ends one's sessions, this one too.
		return s.redirect(w, r, "/login", "Password changed; log in with the new one.")
	}
	return s.redirect(w, r, "/users/"+id, "Password changed. Their tokens keep working.")
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	t, err := s.Accounts.CreateToken(r.Context(), v.principal, id, strings.TrimSpace(r.PostFormValue("name")))
	if err != nil {
		page, lerr := s.loadUser(r, v, id)
		if lerr != nil {
			return lerr
		}
		v.Title = page.User.Email
		v.Data = page
		return s.refused(w, r, v, "user.html", err)
	}
	return s.showOnce(w, r, v, "/users/"+id, "Token made. Copy it now: it is not shown again.",
		once{For: "token:" + id, Values: map[string]string{"name": t.Name, "token": t.Secret}})
}

// back is the user page a token form returns to: the user_id it names, if
// that is a user id at all.
func back(r *http.Request) string {
	id := r.PostFormValue("user_id")
	if !strings.HasPrefix(id, "usr_") || strings.ContainsAny(id, "/?#\\") {
		return "/users"
	}
	return "/users/" + id
}

// userPageError shows a refusal of a token's row form above the user's
// page it came from.
func (s *Server) userPageError(w http.ResponseWriter, r *http.Request, v *view, err error) error {
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Invalid && e.Kind != errs.Conflict {
		return err
	}
	page, lerr := s.loadUser(r, v, strings.TrimPrefix(back(r), "/users/"))
	if lerr != nil {
		return err
	}
	v.Error = message(renameField(err, "user_id", "new owner"))
	s.showUser(w, v, page, status(err))
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := s.Accounts.RevokeToken(r.Context(), v.principal, r.PathValue("id")); err != nil {
		return err
	}
	return s.redirect(w, r, back(r), "Token revoked.")
}

func (s *Server) transferToken(w http.ResponseWriter, r *http.Request, v *view) error {
	t, err := s.Accounts.TransferToken(r.Context(), v.principal, r.PathValue("id"), r.PostFormValue("to"))
	if err != nil {
		return s.userPageError(w, r, v, err)
	}
	return s.redirect(w, r, back(r), "Token "+t.Name+" moved; it keeps working.")
}

// moveTokens moves every token of a user to another, so that the user can
// be deleted.
func (s *Server) moveTokens(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	n, err := s.Accounts.TransferTokens(r.Context(), v.principal, id, r.PostFormValue("to"))
	if err != nil {
		page, lerr := s.loadUser(r, v, id)
		if lerr != nil {
			return lerr
		}
		v.Title = "Delete " + page.User.Email
		v.Data = page
		return s.refused(w, r, v, "user_delete.html", renameField(err, "user_id", "to"))
	}
	return s.redirect(w, r, "/users/"+id+"/delete", "Moved "+countOf(n, "token")+"; the user can be deleted now.")
}

func (s *Server) userConfirmDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	page, err := s.loadUser(r, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Title = "Delete " + page.User.Email
	v.Data = page
	s.render(w, http.StatusOK, "user_delete.html", v)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	err := s.Accounts.DeleteUser(r.Context(), v.principal, id)
	var e *errs.Error
	if errors.As(err, &e) && e.Code == "user_has_tokens" {
		page, lerr := s.loadUser(r, v, id)
		if lerr != nil {
			return lerr
		}
		page.HasTokens = e.Message
		v.Title = "Delete " + page.User.Email
		v.Data = page
		s.render(w, http.StatusConflict, "user_delete.html", v)
		return nil
	}
	if err != nil {
		return err
	}
	return s.redirect(w, r, "/users", "User deleted.")
}

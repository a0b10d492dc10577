// Rendering: the page templates, their helpers, and how a service's error
// becomes a page or a message beside the field it names.
package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/api"
	"github.com/postbode/postbode/internal/errs"
)

// pages holds one template set per page: the layout with the page's blocks.
var pages = func() map[string]*template.Template {
	// The layout and the parts pages share (files named _*.html).
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/_*.html"))
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimPrefix(n, "templates/")
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, n))
	}
	return out
}()

var funcs = template.FuncMap{
	// fieldError is the message for a field, or for a part of it
	// ("headers.X-Api-Key" shows at "headers").
	"fieldError": func(v *view, field string) string {
		if m, ok := v.Errors[field]; ok {
			return m
		}
		for f, m := range v.Errors {
			if strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
				return f + ": " + m
			}
		}
		return ""
	},
	"ago": func(t any) string {
		var at time.Time
		switch t := t.(type) {
		case time.Time:
			at = t
		case *time.Time:
			if t == nil {
				return "never"
			}
			at = *t
		}
		d := time.Since(at)
		switch {
		case d < 0:
			return "in " + roundDuration(-d)
		case d < 10*time.Second:
			return "just now"
		}
		return roundDuration(d) + " ago"
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join": strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"pretty": prettyJSON,
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"sortedKeys": sortedKeys,
	"badge": func(status string) string {
		switch status {
		case "active", "succeeded", "success", "delivered":
			return "ok"
		case "disabled", "failed", "inactive", "max_retries_exceeded":
			return "bad"
		case "paused", "held", "claimed", "pending", "sending":
			return "warn"
		}
		return "neutral"
	},
	"add": func(a, b int) int { return a + b },
	// count says "1 token" and "2 tokens".
	"count": func(n int, noun string) string { return countOf(n, noun) },
}

// sortedKeys are a map's keys in order, so that headers show the same way
// every time.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// countOf says n of noun: "1 token", "2 tokens".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// roundDuration says d the way people do: 3m, 2h, 5d.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// prettyJSON indents a JSON text for reading; anything else is shown as is.
func prettyJSON(s any) string {
	var b []byte
	switch s := s.(type) {
	case string:
		b = []byte(s)
	case json.RawMessage:
		b = s
	case []byte:
		b = s
	default:
		return fmt.Sprint(s)
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// render writes a page. A template error is logged: the page is cut off,
// never filled with another's data.
func (s *Server) render(w http.ResponseWriter, status int, name string, v *view) {
	t, ok := pages[name]
	if !ok {
		panic("web: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.Log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// status is the HTTP status err is answered with, as the API answers it.
func status(err error) int {
	_, code := api.Classify(err)
	return code
}

// message is what a person is told of err: the service's sentence, or, for
// a fault of the server, no detail (that goes to the log).
func message(err error) string {
	if e, _ := api.Classify(err); e.Kind != errs.Internal {
		if e.Kind == errs.Unavailable {
			return "The database cannot be reached right now; try again shortly."
		}
		if e.Kind == errs.TooLarge {
			return "The form is too large."
		}
		return upperFirst(e.Error()) + "."
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "The form is too large."
	}
	return "Something went wrong on our side; it has been logged."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fail renders err as an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	code := status(err)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		code = http.StatusRequestEntityTooLarge
	}
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.Log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	v.Title = http.StatusText(code)
	v.Error = message(err)
	s.render(w, code, "error.html", v)
}

// refused shows a form again after a service refused it: a refusal that
// names a field goes next to that field, any other above the form. An
// error a form cannot fix (not found, the server's own) is returned as is.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, v *view, page string, err error) error {
	if r.Method == http.MethodPost {
		v.Form = r.PostForm
	}
	return s.refusedGET(w, v, page, err)
}

// renameField makes a service's error name the form's field where the form
// calls it otherwise (the API's user_id is a form's "to").
func renameField(err error, from, to string) error {
	var e *errs.Error
	if errors.As(err, &e) && e.Field == from {
		c := *e
		c.Field = to
		return &c
	}
	return err
}

// refusedGET shows a page with a refusal of what its query asked (a
// search's filter), keeping v.Form as it is. The refusal goes on top, and
// beside the field it names.
func (s *Server) refusedGET(w http.ResponseWriter, v *view, page string, err error) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case errs.Invalid, errs.Conflict, errs.Malformed, errs.Forbidden, errs.TooLarge:
	default:
		return err
	}
	// The whole message goes on top too: a page's query may hold a field
	// (a cursor) that no form shows.
	v.Error = message(err)
	if e.Field != "" {
		v.Errors = map[string]string{e.Field: upperFirst(e.Message) + "."}
	}
	s.render(w, status(err), page, v)
	return nil
}

// renderPart writes one block of a page alone, for a script that puts it
// into the page it shows.
func (s *Server) renderPart(w http.ResponseWriter, page, block string, v *view) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, block, v); err != nil {
		s.Log.Error("rendering a part of a page", "page", page, "block", block, "err", err)
		http.Error(w, "The result could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

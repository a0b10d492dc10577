// The webhooks pages (push subscriptions), shared by the UI and the
// customer portal: list, create, edit, the Test button, the last requests,
// enable and disable, recover, rotate secret and delete.
package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/internal/errs"
	"github.com/postbode/postbode/internal/store"
	"github.com/postbode/postbode/internal/subscription"
)

// recentAttempts is how many requests a webhook's page shows (Aanmelder's
// "last 10 requests").
const recentAttempts = 10

// webhookPage is the data of a webhook's own page.
type webhookPage struct {
	Sub          *store.Subscription
	Attempts     []store.Attempt
	Test         *store.Attempt // the Test button's result
	Secret       string         // a secret just made, shown this once
	RecoverSince string         // the recover form's default, UTC
	Queued       *int           // what recover queued
}

// webhookFormPage is the data of the create and edit form.
type webhookFormPage struct {
	Sub        *store.Subscription
	EventTypes []store.EventType
	Headers    [][2]string // rows of name and value, a few left empty
	Schedule   string
	Active     bool
	Edit       bool
}

func (s *Server) webhooks(w http.ResponseWriter, r *http.Request, v *view) error {
	list, err := s.Subscriptions.List(r.Context(), v.principal, v.WS, listQuery(r.URL.Query().Get("cursor"), "100"))
	if err != nil {
		return err
	}
	var push []store.Subscription
	for _, sub := range list.Data {
		if sub.Mode == store.ModePush {
			push = append(push, sub)
		}
	}
	v.Title = "Webhooks"
	v.Data = map[string]any{"Subs": push, "Next": list.NextCursor}
	s.render(w, http.StatusOK, "webhooks.html", v)
	return nil
}

// formPage fills the create or edit form around sub.
func (s *Server) formPage(r *http.Request, v *view, sub *store.Subscription, edit bool) error {
	types, err := s.Workspaces.ListEventTypes(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return err
	}
	fp := &webhookFormPage{Sub: sub, EventTypes: types.Data, Edit: edit, Active: sub.Status == store.SubscriptionActive}
	// A type the webhook has that the page of the catalogue left out stays
	// on the form, so that saving keeps it.
	listed := map[string]bool{"*": true}
	for _, et := range types.Data {
		listed[et.Name] = true
	}
	for _, name := range sub.EventTypes {
		if !listed[name] {
			fp.EventTypes = append(fp.EventTypes, store.EventType{Name: name, Label: name})
		}
	}
	if v.Form != nil {
		fp.Active = v.Form.Get("active") != ""
		fp.Schedule = v.Form.Get("retry_schedule")
		names, values := v.Form["header_name"], v.Form["header_value"]
		for i := range min(len(names), 2*subscription.MaxHeaders) {
			if i < len(values) && (names[i] != "" || values[i] != "") {
				fp.Headers = append(fp.Headers, [2]string{names[i], values[i]})
			}
		}
	} else {
		var sched []string
		for _, d := range sub.RetrySchedule {
			sched = append(sched, time.Duration(d).String())
		}
		fp.Schedule = strings.Join(sched, ",")
		for _, k := range sortedKeys(sub.Headers) {
			fp.Headers = append(fp.Headers, [2]string{k, sub.Headers[k]})
		}
	}
	fp.Headers = append(fp.Headers, [2]string{}, [2]string{})
	v.Data = fp
	return nil
}

func (s *Server) webhookNew(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New webhook"
	sub := &store.Subscription{Status: store.SubscriptionActive, Payload: subscription.DefaultPayload, Format: subscription.DefaultFormat,
		SignatureScheme: subscription.DefaultSignatureScheme, SignatureHeader: subscription.DefaultSignatureHeader,
		TimeoutSeconds: subscription.DefaultTimeoutSeconds, FailureThreshold: subscription.DefaultFailureThreshold}
	if err := s.formPage(r, v, sub, false); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "webhook_form.html", v)
	return nil
}

// formString is a posted field, trimmed, or nil when the form has none: the
// services' inputs read nil as "not given".
func formString(f url.Values, name string) *string {
	if _, ok := f[name]; !ok {
		return nil
	}
	v := strings.TrimSpace(f.Get(name))
	return &v
}

// subscriptionInput reads the webhook form into the service's input: the
// service validates it, as it does the API's.
func subscriptionInput(f url.Values) (*subscription.Input, error) {
	in := &subscription.Input{}
	str := func(name string) *string { return formString(f, name) }
	num := func(name string) (*int, error) {
		v := str(name)
		if v == nil || *v == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(*v)
		if err != nil {
			return nil, errs.Invalidf(name, "must be a whole number")
		}
		return &n, nil
	}
	in.Name, in.URL, in.Payload, in.Format = str("name"), str("url"), str("payload"), str("format")
	in.SignatureScheme = str("signature_scheme")
	if in.SignatureScheme != nil && *in.SignatureScheme == "hmac-sha256" {
		in.SignatureHeader = str("signature_header")
	}
	in.EventTypes = subscription.Names(f["event_types"])
	if in.EventTypes == nil {
		in.EventTypes = subscription.Names{}
	}
	var err error
	if in.TimeoutSeconds, err = num("timeout_seconds"); err != nil {
		return nil, err
	}
	if in.FailureThreshold, err = num("failure_threshold"); err != nil {
		return nil, err
	}
	in.Headers = subscription.Headers{}
	names, values := f["header_name"], f["header_value"]
	// The form has one value per name; more rows than the service allows
	// headers cannot be meant.
	if len(values) > len(names) || len(names) > 2*subscription.MaxHeaders {
		return nil, errs.Invalidf("headers", "the header rows do not pair up names and values, or there are more than %d", subscription.MaxHeaders)
	}
	seen := map[string]bool{}
	for i, name := range names {
		name = strings.TrimSpace(name)
		value := ""
		if i < len(values) {
			value = values[i]
		}
		switch {
		case name == "" && value == "":
			continue
		case name == "":
			return nil, errs.Invalidf("headers", "a header with a value needs a name")
		}
		if seen[http.CanonicalHeaderKey(name)] {
			return nil, errs.Invalidf("headers."+name, "is given twice")
		}
		seen[http.CanonicalHeaderKey(name)] = true
		in.Headers[name] = value
	}
	in.RetrySchedule = json.RawMessage("null")
	if sched := strings.TrimSpace(f.Get("retry_schedule")); sched != "" {
		var steps []string
		for _, step := range strings.Split(sched, ",") {
			steps = append(steps, strings.TrimSpace(step))
		}
		in.RetrySchedule, _ = json.Marshal(steps)
	}
	in.APIVersion = json.RawMessage("null")
	if av := strings.TrimSpace(f.Get("api_version")); av != "" {
		in.APIVersion, _ = json.Marshal(av)
	}
	return in, nil
}

func (s *Server) webhookCreate(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "New webhook"
	formErr := func(err error) error {
		if ferr := s.formPage(r, v, &store.Subscription{}, false); ferr != nil {
			return ferr
		}
		return s.refused(w, r, v, "webhook_form.html", err)
	}
	in, err := subscriptionInput(r.PostForm)
	if err != nil {
		v.Form = r.PostForm
		return formErr(err)
	}
	mode := store.ModePush
	in.Mode = &mode
	created, err := s.Subscriptions.Create(r.Context(), v.principal, v.WS, in)
	if err != nil {
		v.Form = r.PostForm
		return formErr(err)
	}
	sub := created.Subscription
	if r.PostFormValue("active") == "" {
		if sub, err = s.Subscriptions.Disable(r.Context(), v.principal, v.WS, sub.ID); err != nil {
			return err
		}
	}
	return s.showOnce(w, r, v, v.Base+"/webhooks/"+sub.ID, "Webhook created. Copy its signing secret now: it is not shown again.",
		once{For: sub.ID, Values: map[string]string{"secret": created.Secret}})
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.Subscriptions.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.showWebhook(w, r, v, sub, &webhookPage{})
}

// showWebhook renders a webhook's page with its last requests.
func (s *Server) showWebhook(w http.ResponseWriter, r *http.Request, v *view, sub *store.Subscription, page *webhookPage) error {
	if sub.Mode != store.ModePush {
		if v.Portal { // the portal shows webhooks only
			return errs.NotFoundf("webhook")
		}
		http.Redirect(w, r, v.Base+"/mailboxes/"+sub.ID, http.StatusSeeOther)
		return nil
	}
	attempts, err := s.Subscriptions.ListAttempts(r.Context(), v.principal, v.WS, sub.ID, listQuery("", strconv.Itoa(recentAttempts)))
	if err != nil {
		return err
	}
	page.Sub, page.Attempts = sub, attempts.Data
	if page.Secret == "" {
		page.Secret = v.onceFor(sub.ID)["secret"]
	}
	if page.RecoverSince == "" {
		page.RecoverSince = s.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	}
	v.Title = sub.Name
	v.Data = page
	s.render(w, cmp.Or(v.status, http.StatusOK), "webhook.html", v)
	return nil
}

// pushSubscription is the webhook a page is about: a mailbox has pages of
// its own, and none in the portal.
func (s *Server) pushSubscription(r *http.Request, v *view) (*store.Subscription, error) {
	sub, err := s.Subscriptions.Get(r.Context(), v.principal, v.WS, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if sub.Mode != store.ModePush {
		return nil, errs.NotFoundf("webhook")
	}
	return sub, nil
}

func (s *Server) webhookEdit(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	v.Title = "Edit " + sub.Name
	if err := s.formPage(r, v, sub, true); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "webhook_form.html", v)
	return nil
}

func (s *Server) webhookUpdate(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	id := sub.ID
	v.Title = "Edit " + sub.Name
	v.Form = r.PostForm
	formErr := func(err error) error {
		if ferr := s.formPage(r, v, sub, true); ferr != nil {
			return ferr
		}
		return s.refused(w, r, v, "webhook_form.html", err)
	}
	in, err := subscriptionInput(r.PostForm)
	if err != nil {
		return formErr(err)
	}
	if sub, err = s.Subscriptions.Update(r.Context(), v.principal, v.WS, id, in); err != nil {
		return formErr(err)
	}
	// Active is a switch on the form; the service changes it through enable
	// and disable, as the API does.
	switch active := r.PostFormValue("active") != ""; {
	case active && sub.Status != store.SubscriptionActive:
		_, err = s.Subscriptions.Enable(r.Context(), v.principal, v.WS, id)
	case !active && sub.Status == store.SubscriptionActive:
		_, err = s.Subscriptions.Disable(r.Context(), v.principal, v.WS, id)
	}
	if err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/webhooks/"+id, "Webhook saved.")
}

// webhookTest sends the test event. A page that asked with fetch gets the
// result alone, shown inline; without script the whole page comes back
// with it.
func (s *Server) webhookTest(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	a, err := s.Subscriptions.Test(r.Context(), v.principal, v.WS, sub.ID)
	if err != nil {
		return err
	}
	if r.Header.Get("X-Postbode-Fetch") == "1" {
		v.Data = &webhookPage{Test: a}
		s.renderPart(w, "webhook.html", "test-result", v)
		return nil
	}
	if sub, err = s.Subscriptions.Get(r.Context(), v.principal, v.WS, sub.ID); err != nil {
		return err
	}
	return s.showWebhook(w, r, v, sub, &webhookPage{Test: a})
}

func (s *Server) webhookAction(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	id := sub.ID
	flash := "Webhook enabled: held deliveries are on their way."
	if strings.HasSuffix(r.URL.Path, "/disable") {
		_, err = s.Subscriptions.Disable(r.Context(), v.principal, v.WS, id)
		flash = "Webhook paused: new deliveries are held until it is enabled."
	} else {
		_, err = s.Subscriptions.Enable(r.Context(), v.principal, v.WS, id)
	}
	if err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/webhooks/"+id, flash)
}

func (s *Server) webhookRotate(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	c, err := s.Subscriptions.RotateSecret(r.Context(), v.principal, v.WS, sub.ID)
	if err != nil {
		return err
	}
	return s.showOnce(w, r, v, v.Base+"/webhooks/"+sub.ID,
		"New signing secret made. Copy it now: it is not shown again. The old one keeps signing for 24 hours.",
		once{For: sub.ID, Values: map[string]string{"secret": c.Secret}})
}

// webhookRecover re-queues failed and held deliveries since a time given
// in UTC, as the form's datetime field sends it (no zone).
func (s *Server) webhookRecover(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(r.PostFormValue("since"))
	since := raw
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, raw); err == nil {
			since = t.UTC().Format(time.RFC3339)
			break
		}
	}
	n, err := s.Subscriptions.Recover(r.Context(), v.principal, v.WS, sub.ID, since)
	var e *errs.Error
	if errors.As(err, &e) && e.Kind == errs.Invalid {
		v.Form = r.PostForm
		v.Errors = map[string]string{"since": "Must be a date and time (UTC), such as 2026-11-30 08:00."}
		v.Error = "Recover: please correct the time marked below."
		v.status = http.StatusUnprocessableEntity
		return s.showWebhook(w, r, v, sub, &webhookPage{RecoverSince: raw})
	}
	if err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/webhooks/"+sub.ID, "Recover queued "+countOf(n, "delivery")+".")
}

func (s *Server) attempt(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	a, err := s.Subscriptions.Attempt(r.Context(), v.principal, v.WS, sub.ID, r.PathValue("attempt"))
	if err != nil {
		return err
	}
	v.Title = "Request to " + sub.Name
	v.Data = map[string]any{"Sub": sub, "Attempt": a}
	s.render(w, http.StatusOK, "attempt.html", v)
	return nil
}

func (s *Server) webhookConfirmDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	v.Title = "Delete " + sub.Name
	v.Data = map[string]any{
		"What":   "webhook " + sub.Name,
		"Detail": "Its deliveries and their request log are deleted with it. Events already published stay.",
		"Action": v.Base + "/webhooks/" + sub.ID + "/delete", "Back": v.Base + "/webhooks/" + sub.ID,
	}
	s.render(w, http.StatusOK, "confirm.html", v)
	return nil
}

func (s *Server) webhookDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	sub, err := s.pushSubscription(r, v)
	if err != nil {
		return err
	}
	if err := s.Subscriptions.Delete(r.Context(), v.principal, v.WS, sub.ID); err != nil {
		return err
	}
	return s.redirect(w, r, v.Base+"/webhooks", "Webhook deleted.")
}

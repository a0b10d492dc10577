package web_test

// Browser tests: the UI's main flows driven through a real Chromium with
// chromedp, against a whole node from apptest. They skip when no Chromium is
// installed, unless POSTBODE_REQUIRE_BROWSER=1 (CI) makes that a failure.
// POSTBODE_SCREENSHOTS names a directory to keep the screenshots in.

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/postbode/postbode/internal/app/apptest"
)

const (
	skipNoChrome = "browser tests skipped: no Chromium found (install Debian's chromium, or set POSTBODE_CHROME)"
	uiPassword   = "correct horse battery"
	// tabTimeout bounds everything one subtest does in its browser.
	tabTimeout = 60 * time.Second
	// phoneWidth is the viewport of the phone-sized checks.
	phoneWidth = 390
)

// chromePath finds the browser: $POSTBODE_CHROME, or a Chromium in PATH.
func chromePath() string {
	if p := os.Getenv("POSTBODE_CHROME"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserEnv is what the flows share: the browser to start and where the
// screenshots go.
type browserEnv struct {
	chrome string
	shots  string
}

// TestBrowser runs each flow of the UI in its own browser against its own
// node.
func TestBrowser(t *testing.T) {
	chrome := chromePath()
	if chrome == "" {
		if os.Getenv("POSTBODE_REQUIRE_BROWSER") == "1" {
			t.Fatal("POSTBODE_REQUIRE_BROWSER=1 but no Chromium found (install Debian's chromium, or set POSTBODE_CHROME)")
		}
		t.Skip(skipNoChrome)
	}
	env := &browserEnv{chrome: chrome, shots: os.Getenv("POSTBODE_SCREENSHOTS")}
	if env.shots == "" {
		env.shots = t.TempDir()
	} else if err := os.MkdirAll(env.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("LoginDashboard", env.loginDashboard)
	t.Run("WebhookCreateTestPhone", env.webhookCreateTestPhone)
	t.Run("WebhookDisabledEnable", env.webhookDisabledEnable)
	t.Run("InboundWizardBasic", env.inboundWizardBasic)
	t.Run("UserDeleteMoveTokens", env.userDeleteMoveTokens)
	t.Run("Portal", env.portal)
	t.Logf("screenshots in %s", env.shots)
}

// tab is one browser tab, with what its pages wrote to the console.
type tab struct {
	t    *testing.T
	ctx  context.Context
	env  *browserEnv
	base string // the node's URL

	mu       sync.Mutex
	problems []string // console errors, exceptions, CSP violations
}

// browser starts a headless Chromium for one subtest and returns its first
// tab. It stops when the subtest ends.
func (env *browserEnv) browser(t *testing.T, srv *apptest.Server) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(env.chrome),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.WindowSize(1280, 800),
		chromedp.DisableGPU,
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := context.WithTimeout(allocCtx, tabTimeout)
	t.Cleanup(cancel)
	return env.newTab(t, srv, ctx)
}

// newTab opens a tab under parent: the allocator's context starts the
// browser, a tab's context opens another tab in the same browser.
func (env *browserEnv) newTab(t *testing.T, srv *apptest.Server, parent context.Context, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, env: env, base: srv.URL}
	err := chromedp.Listen(ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problem = "console.error: " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problem = "exception: " + d.Text
			if d.Exception != nil {
				problem += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			// CSP violations come here, as errors of the source "security".
			if ev.Entry.Level == log.EntryLevelError {
				problem = "log " + string(ev.Entry.Source) + ": " + ev.Entry.Text + " (" + ev.Entry.URL + ")"
			}
		}
		if problem != "" {
			tb.mu.Lock()
			tb.problems = append(tb.problems, problem)
			tb.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting the browser (%s): %v", env.chrome, err)
	}
	return tb
}

// do runs steps, failing the test with what was being done.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value.
func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to a path of the node and returns the HTTP status of the
// page it ends on.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	resp := run(tb, "opening "+path, chromedp.NavigateResponse(tb.base+path))
	return resp.Status
}

// submit clicks a button that submits a form and waits for the next page;
// it returns its HTTP status.
func (tb *tab) submit(what string, button chromedp.CSS) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(button, chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// path is the path of the page the tab shows, with its query.
func (tb *tab) path() string {
	tb.t.Helper()
	loc := run(tb, "reading the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		tb.t.Fatal(err)
	}
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}

// text is the visible text of the first element sel matches.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return run(tb, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// count is how many elements match sel now.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return run(tb, "counting "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

// display is the computed display of the first element sel matches.
func (tb *tab) display(sel string) string {
	tb.t.Helper()
	return run(tb, "styling of "+sel, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(`+jsString(sel)+`)).display`))
}

// screenshot saves the whole page as name.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png := run(tb, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(tb.env.shots, name), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// login logs in through the form and returns the page's path after it.
func (tb *tab) login(email, password string) string {
	tb.t.Helper()
	tb.open("/login")
	tb.do("filling the login form",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password))
	if st := tb.submit("logging in", "main form button[type=submit]"); st != http.StatusOK {
		tb.t.Fatalf("logging in: status %d, at %s: %s", st, tb.path(), tb.text("main"))
	}
	return tb.path()
}

// noProblems fails on a console error, an uncaught exception or a CSP
// violation, but for those containing one of allowed.
func (tb *tab) noProblems(allowed ...string) {
	tb.t.Helper()
	// A round trip, so that the events before it have been handled.
	run(tb, "round trip", chromedp.Evaluate[int](`1`))
	tb.mu.Lock()
	defer tb.mu.Unlock()
next:
	for _, p := range tb.problems {
		for _, a := range allowed {
			if strings.Contains(p, a) {
				continue next
			}
		}
		tb.t.Errorf("the page reported: %s", p)
	}
}

// problemsNow is what the pages reported so far.
func (tb *tab) problemsNow() []string {
	run(tb, "round trip", chromedp.Evaluate[int](`1`))
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.problems)
}

// noOverflow fails when the page is wider than the viewport.
func (tb *tab) noOverflow(page string, width int) {
	tb.t.Helper()
	sw := run(tb, "measuring "+page, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if sw > width+2 {
		// The elements whose content overflows them, innermost last.
		wide := run(tb, "finding what is too wide", chromedp.Evaluate[[]string](`(() => {
			const out = [];
			for (const el of document.querySelectorAll("body *")) {
				if (el.scrollWidth > el.clientWidth + 2 && getComputedStyle(el).overflowX === "visible") {
					out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).replace(/ /g, ".") : "") +
						" " + el.scrollWidth + ">" + el.clientWidth);
				}
			}
			return out.slice(-6);
		})()`))
		tb.t.Errorf("%s at %d px: the page is %d px wide (horizontal scrolling); too wide: %v", page, width, sw, wide)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// uiUser is an admin who logs in through the form.
type uiUser struct {
	ID, Email, Name string
}

func newUIUser(t *testing.T, srv *apptest.Server, email, name string) uiUser {
	t.Helper()
	var u struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": email, "name": name, "role": "admin", "password": uiPassword},
		http.StatusCreated, &u)
	if u.ID == "" {
		t.Fatal("created user has no id")
	}
	return uiUser{ID: u.ID, Email: email, Name: name}
}

// subscriptions lists a workspace's subscriptions through the API.
func subscriptions(t *testing.T, srv *apptest.Server, ws string) []apptest.Subscription {
	t.Helper()
	var list struct{ Data []apptest.Subscription }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/subscriptions", nil, http.StatusOK, &list)
	return list.Data
}

// 1. Logging in lands on the first workspace's dashboard, with the user's
// name in the header; the pages report no console error or CSP violation.
func (env *browserEnv) loginDashboard(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "user.new")
	ada := newUIUser(t, srv, "ada@example.com", "Ada Lovelace")
	tb := env.browser(t, srv)

	if st := tb.open("/ws/" + ws + "/"); st != http.StatusOK || tb.path() != "/login" {
		t.Fatalf("a workspace without logging in: status %d at %s, want the login page", st, tb.path())
	}
	tb.screenshot("login.png")
	// A wrong password: refused on the login page, the address kept.
	tb.do("filling the login form wrongly",
		chromedp.SendKeys(chromedp.ID("email"), ada.Email),
		chromedp.SendKeys(chromedp.ID("password"), "wrong horse"))
	if st := tb.submit("logging in wrongly", "main form button[type=submit]"); st != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d, want 401", st)
	}
	if msg := tb.text("main .error"); !strings.Contains(msg, "password is wrong") {
		t.Errorf("a wrong password shows %q", msg)
	}
	if email := run(tb, "reading #email", chromedp.Value(chromedp.ID("email"))); email != ada.Email {
		t.Errorf("after a refusal the form has the address %q", email)
	}
	path := tb.login(ada.Email, uiPassword)
	if path != "/ws/"+ws+"/" {
		t.Fatalf("after logging in at %s, want the dashboard /ws/%s/", path, ws)
	}
	if h := tb.text("main h1"); h != "Dashboard" {
		t.Errorf("dashboard heading %q", h)
	}
	if who := tb.text("header.top .who"); !strings.Contains(who, ada.Name) {
		t.Errorf("header %q does not show the user's name %q", who, ada.Name)
	}
	// app.js hides the switcher's Go button (the select submits itself):
	// the hidden attribute must win over the stylesheet's buttons.
	if d := tb.display("header.top .who form[action='/switch'] button"); d != "none" {
		t.Errorf("the workspace switcher's Go button shows (display %s) although app.js hid it", d)
	}
	tb.screenshot("dashboard.png")
	tb.open("/ws/" + ws + "/webhooks/new")
	// The browser logs the refused login's own status, which is no fault.
	tb.noProblems("status of 401 (Unauthorized) (" + srv.URL + "/login)")

	// The check above can fail: an inline style, which the CSP forbids, is
	// reported.
	tb.do("adding an inline style", chromedp.Evaluate[chromedp.Void](
		`(() => { const s = document.createElement("style"); s.textContent = "body{color:red}"; document.head.appendChild(s); })()`))
	found := false
	for _, p := range tb.problemsNow() {
		found = found || strings.Contains(p, "Content Security Policy")
	}
	if !found {
		t.Errorf("a CSP violation went unnoticed: %v", tb.problemsNow())
	}
}

// 2, 3 and 8. Creating a webhook with the form, the Test button's inline
// result, the request in the page's log, and the page at phone width.
func (env *browserEnv) webhookCreateTestPhone(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "user.new")
	ada := newUIUser(t, srv, "ada@example.com", "Ada Lovelace")
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"received":"yes"}`))
	})
	// A long URL, as real ones are: it must fit at phone width too.
	const crmPath = "/hooks/crm/receive-every-event-for-customer-account-0123456789abcdef"
	tb := env.browser(t, srv)
	tb.login(ada.Email, uiPassword)

	// 2. The form.
	tb.open("/ws/" + ws + "/webhooks/new")
	tb.do("filling the webhook form",
		chromedp.SendKeys(chromedp.ID("name"), "CRM"),
		chromedp.SendKeys(chromedp.ID("url"), rc.URL+crmPath),
		chromedp.Click(chromedp.CSS(`input[name=event_types][value="invoice.paid"]`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`input[name=event_types][value="user.new"]`), chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`input[name=header_name]`), "X-Customer-Id"),
		chromedp.SendKeys(chromedp.CSS(`input[name=header_value]`), "cust-42"),
	)
	tb.screenshot("webhook-form.png")
	if st := tb.submit("creating the webhook", "main form button[type=submit]"); st != http.StatusOK {
		t.Fatalf("creating the webhook: status %d: %s", st, tb.text("main"))
	}
	if secret := tb.text("#new-secret"); !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("the signing secret shown once is %q", secret)
	}
	subs := subscriptions(t, srv, ws)
	if len(subs) != 1 {
		t.Fatalf("the API lists %d subscriptions, want 1", len(subs))
	}
	sub := subs[0]
	types := slices.Sorted(slices.Values(sub.EventTypes))
	if sub.Name != "CRM" || sub.URL != rc.URL+crmPath || !slices.Equal(types, []string{"invoice.paid", "user.new"}) ||
		sub.Headers["X-Customer-Id"] != "cust-42" || len(sub.Headers) != 1 || sub.Status != "active" {
		t.Errorf("the API shows %+v", sub)
	}
	// The secret shows once: the webhook's own page no longer has it.
	page := "/ws/" + ws + "/webhooks/" + sub.ID
	tb.open(page)
	if n := tb.count("#new-secret"); n != 0 {
		t.Errorf("the signing secret is shown again on the webhook's page")
	}

	// 3. Test: the result inline, the page stays.
	if n := tb.count("details.attempt"); n != 0 {
		t.Fatalf("%d requests listed before any was sent", n)
	}
	tb.do("pressing Test", chromedp.Click(chromedp.ID("test-button"), chromedp.NodeVisible))
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](
		`document.querySelector("#test-result").textContent.includes("Delivered") || document.querySelector("#test-result").textContent.includes("Failed")`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("waiting for the test's result: %v (shows %q)", err, tb.text("#test-result"))
	}
	result := tb.text("#test-result")
	if !strings.Contains(result, "Delivered") || !strings.Contains(result, "HTTP 200") || !strings.Contains(result, "received") {
		t.Errorf("test result %q, want Delivered, HTTP 200 and the response body", result)
	}
	if p := tb.path(); p != page {
		t.Errorf("after Test the browser is at %s, want it to stay at %s", p, page)
	}
	// The list below shows the request without a reload.
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.querySelectorAll("details.attempt").length === 1`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the request list was not refreshed after Test: %v", err)
	}
	tb.screenshot("webhook-test.png")
	got := rc.Wait(t, 1, 5*time.Second)
	if got[0].Path != crmPath || got[0].Header.Get("X-Customer-Id") != "cust-42" || !strings.Contains(string(got[0].Body), "webhook.test") {
		t.Errorf("the receiver got %s %v %s", got[0].Path, got[0].Header, got[0].Body)
	}

	// Reload: the request is in the log, and opens to show request and response.
	tb.open(page)
	if n := tb.count("details.attempt"); n != 1 {
		t.Fatalf("%d requests listed after one test, want 1", n)
	}
	if closed := tb.text("details.attempt"); strings.Contains(closed, "X-Customer-Id") {
		t.Errorf("a request is open before it is clicked: %q", closed)
	}
	tb.do("opening the request", chromedp.Click(chromedp.CSS("details.attempt summary"), chromedp.NodeVisible))
	if open := run(tb, "is it open", chromedp.Evaluate[bool](`document.querySelector("details.attempt").open`)); !open {
		t.Fatal("clicking the request's summary did not open it")
	}
	detail := tb.text("details.attempt")
	for _, want := range []string{"webhook.test", "X-Customer-Id: cust-42", rc.URL + crmPath, "Response", "HTTP 200", "received"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the opened request does not show %q:\n%s", want, detail)
		}
	}
	tb.noProblems()

	// 8. At phone width the page, with a request open, fits.
	tb.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile))
	tb.open(page)
	tb.do("opening the request", chromedp.Click(chromedp.CSS("details.attempt summary"), chromedp.NodeVisible))
	tb.screenshot("webhook-phone.png")
	tb.noOverflow("the webhook's page", phoneWidth)
	whole := run(tb, "reading the request's link", chromedp.AttributeValue(chromedp.CSS(`details.attempt a[href*="/attempts/"]`), "href"))
	if !whole.Exists {
		t.Fatal("the request has no link to its page")
	}
	phonePages := []string{whole.Value, "/ws/" + ws + "/", "/ws/" + ws + "/webhooks", "/ws/" + ws + "/webhooks/new",
		"/ws/" + ws + "/webhooks/" + sub.ID + "/edit", "/ws/" + ws + "/events", "/ws/" + ws + "/event-types",
		"/ws/" + ws + "/inbound", "/ws/" + ws + "/inbound/new", "/workspaces", "/users", "/users/" + ada.ID}
	for _, p := range phonePages {
		tb.open(p)
		tb.noOverflow(p, phoneWidth)
	}
}

// 4. A webhook that keeps failing is disabled; its page says so, and Enable
// makes it active again.
func (env *browserEnv) webhookDisabledEnable(t *testing.T) {
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "user.new")
	ada := newUIUser(t, srv, "ada@example.com", "Ada Lovelace")
	var healthy atomic.Bool
	rc := apptest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if !healthy.Load() {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
		}
	})
	var sub apptest.Subscription
	srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
		"name": "Flaky ERP", "url": rc.URL, "event_types": []string{"invoice.paid"}, "failure_threshold": 2,
	}, http.StatusCreated, &sub)

	deadline := time.Now().Add(20 * time.Second)
	for sub.Status != "disabled" {
		if time.Now().After(deadline) {
			t.Fatalf("the subscription is still %s after 20 s of failing (%d failures)", sub.Status, sub.ConsecutiveFailures)
		}
		srv.Publish(t, ws, "invoice.paid", map[string]any{})
		for range 10 {
			time.Sleep(100 * time.Millisecond)
			if sub = srv.Subscription(t, ws, sub.ID); sub.Status == "disabled" {
				break
			}
		}
	}

	tb := env.browser(t, srv)
	tb.login(ada.Email, uiPassword)
	page := "/ws/" + ws + "/webhooks/" + sub.ID
	tb.open(page)
	if badge := tb.text("main h1 .badge"); badge != "disabled" {
		t.Errorf("the badge says %q, want disabled", badge)
	}
	if warn := tb.text("main .warning"); !strings.Contains(warn, "Disabled after") {
		t.Errorf("the warning says %q", warn)
	}
	tb.screenshot("webhook-disabled.png")

	healthy.Store(true) // so that enabling does not disable it again
	if st := tb.submit("pressing Enable", `main form[action$="/enable"] button[type=submit]`); st != http.StatusOK {
		t.Fatalf("enabling: status %d", st)
	}
	if p := tb.path(); p != page {
		t.Errorf("after Enable at %s, want %s", p, page)
	}
	if badge := tb.text("main h1 .badge"); badge != "active" {
		t.Errorf("after Enable the badge says %q", badge)
	}
	if n := tb.count("main .warning"); n != 0 {
		t.Errorf("the warning still shows after Enable")
	}
	if s := srv.Subscription(t, ws, sub.ID); s.Status != "active" {
		t.Errorf("after Enable the API says %s", s.Status)
	}
	tb.noProblems()
}

// 5. The inbound wizard with Basic authentication; the curl command it
// shows works.
func (env *browserEnv) inboundWizardBasic(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	srv := apptest.Start(t)
	ws := srv.Workspace(t, "invoice.paid", "user.new")
	ada := newUIUser(t, srv, "ada@example.com", "Ada Lovelace")
	tb := env.browser(t, srv)
	tb.login(ada.Email, uiPassword)

	tb.open("/ws/" + ws + "/inbound/new")
	tb.do("filling step 1",
		chromedp.SendKeys(chromedp.ID("name"), "Webshop orders"),
		chromedp.SetValue(chromedp.ID("event_type"), "user.new"))
	tb.submit("Next", "main form button[type=submit]")
	if p := tb.path(); !strings.Contains(p, "step=2") {
		t.Fatalf("after Next at %s, want step 2", p)
	}
	if cur := tb.text(`.steps li[aria-current=step]`); !strings.HasPrefix(cur, "2.") {
		t.Errorf("the current step is %q", cur)
	}
	tb.do("choosing Basic", chromedp.Click(chromedp.CSS(`input[name=auth][value=basic]`), chromedp.NodeVisible))
	tb.screenshot("inbound-wizard-step2.png")
	// Creating redirects to the last step, so that a reload makes nothing.
	if st := tb.submit("Create", `main form button[type=submit]`); st != http.StatusOK || !strings.HasSuffix(tb.path(), "/ready") {
		t.Fatalf("creating: status %d at %s: %s", st, tb.path(), tb.text("main"))
	}
	inURL, user, token := tb.text("#in-url"), tb.text("#in-user"), tb.text("#in-token")
	curl := run(tb, "reading the curl command", chromedp.TextContent(chromedp.ID("in-curl")))
	tb.screenshot("inbound-wizard-done.png")
	if d := tb.display("button[data-copy=in-token]"); d == "none" {
		t.Errorf("the token's Copy button is hidden although app.js showed it")
	}
	// The token is shown once: not after a reload.
	ready := tb.path()
	tb.open(ready)
	if n := tb.count("#in-token"); n != 0 || !strings.Contains(tb.text("main"), "was shown once") {
		t.Errorf("the token is shown again after a reload of the last step")
	}
	if !strings.HasPrefix(inURL, srv.URL+"/") || user == "" || token == "" {
		t.Fatalf("step 3 shows URL %q, user %q, token %q", inURL, user, token)
	}
	for _, want := range []string{inURL, user + ":" + token, "-u "} {
		if !strings.Contains(curl, want) {
			t.Errorf("the curl command does not have %q:\n%s", want, curl)
		}
	}

	// Run the command as shown, with the status printed after the body.
	out, err := exec.Command("sh", "-c", curl+` -w '\nHTTP %{http_code}\n'`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "HTTP 202") {
		t.Fatalf("running the shown curl command: %v\n%s\n%s", err, curl, out)
	}
	var events struct{ Data []apptest.Event }
	srv.JSON(t, "GET", "/api/v1/workspaces/"+ws+"/events", nil, http.StatusOK, &events)
	if len(events.Data) != 1 || events.Data[0].Type != "user.new" || !strings.Contains(string(events.Data[0].Data), `"hello"`) {
		t.Errorf("after the curl command the events are %+v", events.Data)
	}
	tb.noProblems()
}

// 6. Deleting a user who still has tokens: the seed's warning, moving the
// tokens, then the delete; the moved token keeps working.
func (env *browserEnv) userDeleteMoveTokens(t *testing.T) {
	srv := apptest.Start(t)
	srv.Workspace(t, "invoice.paid")
	ada := newUIUser(t, srv, "ada@example.com", "Ada Lovelace")
	var bob struct{ ID string }
	srv.JSON(t, "POST", "/api/v1/users", map[string]any{"email": "bob@example.com", "name": "Bob", "role": "member"},
		http.StatusCreated, &bob)
	var tok struct{ Token string }
	srv.JSON(t, "POST", "/api/v1/users/"+bob.ID+"/tokens", map[string]any{"name": "x"}, http.StatusCreated, &tok)
	if tok.Token == "" {
		t.Fatal("no token secret in the answer")
	}

	tb := env.browser(t, srv)
	tb.login(ada.Email, uiPassword)
	tb.open("/users/" + bob.ID + "/delete")
	if st := tb.submit("pressing Delete user", `main form[action$="/delete"] button[type=submit]`); st != http.StatusConflict {
		t.Errorf("deleting a user with tokens: status %d, want 409", st)
	}
	const seed = "The selected user still has tokens registered and cannot be deleted. Remove these tokens first or move them to another user."
	if warn := tb.text("#has-tokens"); warn != seed {
		t.Errorf("the warning is %q, want the seed's %q", warn, seed)
	}
	tb.screenshot("user-delete-warning.png")
	if st, _ := srv.Do(t, "GET", "/api/v1/users/"+bob.ID, nil); st != http.StatusOK {
		t.Fatalf("the user is gone although it has tokens: %d", st)
	}

	tb.do("choosing Ada", chromedp.SetValue(chromedp.ID("move-to"), ada.ID))
	if st := tb.submit("moving the tokens", `main form[action$="/move-tokens"] button[type=submit]`); st != http.StatusOK {
		t.Fatalf("moving the tokens: status %d", st)
	}
	if p := tb.path(); p != "/users/"+bob.ID+"/delete" {
		t.Errorf("after moving at %s", p)
	}
	if n := tb.count("#has-tokens, #move-to"); n != 0 {
		t.Errorf("after moving the tokens the page still warns or offers to move")
	}
	if st := tb.submit("pressing Delete user again", `main form[action$="/delete"] button[type=submit]`); st != http.StatusOK {
		t.Fatalf("deleting: status %d: %s", st, tb.text("main"))
	}
	if p := tb.path(); p != "/users" {
		t.Errorf("after deleting at %s, want /users", p)
	}
	if st, b := srv.Do(t, "GET", "/api/v1/users/"+bob.ID, nil); st != http.StatusNotFound {
		t.Errorf("the deleted user: status %d: %s", st, b)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the moved token: GET /api/v1/me status %d, want 200", resp.StatusCode)
	}
	tb.noProblems("status of 409")
}

// 7. A portal link opens its workspace's webhooks in a browser that never
// logged in, and nothing else.
func (env *browserEnv) portal(t *testing.T) {
	srv := apptest.Start(t)
	wsA := srv.Workspace(t, "invoice.paid")
	wsB := srv.Workspace(t, "invoice.paid")
	mk := func(ws, name string) apptest.Subscription {
		var s apptest.Subscription
		srv.JSON(t, "POST", "/api/v1/workspaces/"+ws+"/subscriptions", map[string]any{
			"name": name, "url": "http://127.0.0.1:9/" + name, "event_types": []string{"invoice.paid"},
		}, http.StatusCreated, &s)
		return s
	}
	subA := mk(wsA, "alpha-crm")
	subB := mk(wsB, "bravo-erp")
	var link struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	srv.JSON(t, "POST", "/api/v1/workspaces/"+wsA+"/portal-links", map[string]any{}, http.StatusCreated, &link)
	if !regexp.MustCompile(`^/portal/pbs_[\w-]+$`).MatchString(link.URL) || !link.ExpiresAt.After(time.Now()) {
		t.Fatalf("portal link %+v", link)
	}

	first := env.browser(t, srv)
	// A browser context of its own: no cookies of any other tab.
	tb := env.newTab(t, srv, first.ctx, chromedp.WithNewBrowserContext())
	if st := tb.open(link.URL); st != http.StatusOK {
		t.Fatalf("opening the portal link: status %d", st)
	}
	if p := tb.path(); p != "/portal/webhooks" {
		t.Errorf("the portal link lands on %s, want /portal/webhooks", p)
	}
	main := tb.text("main")
	if !strings.Contains(main, "alpha-crm") || strings.Contains(main, "bravo-erp") {
		t.Errorf("the portal lists:\n%s", main)
	}
	tb.screenshot("portal.png")
	if st := tb.open("/portal/webhooks/" + subA.ID); st != http.StatusOK || !strings.Contains(tb.text("main h1"), "alpha-crm") {
		t.Errorf("the portal's own webhook: status %d, %q", st, tb.text("main h1"))
	}
	if st := tb.open("/portal/webhooks/" + subB.ID); st != http.StatusNotFound || strings.Contains(tb.text("body"), "bravo-erp") {
		t.Errorf("another workspace's webhook through the portal: status %d:\n%s", st, tb.text("body"))
	} else if h := tb.text("main h1"); h != "Not Found" {
		t.Errorf("another workspace's webhook: heading %q", h)
	}
	for _, p := range []string{"/ws/" + wsB + "/", "/ws/" + wsA + "/", "/users"} {
		tb.open(p)
		if got := tb.path(); got != "/login" {
			t.Errorf("%s with a portal session: at %s, want /login", p, got)
		}
	}
	tb.noProblems("status of 404")
}

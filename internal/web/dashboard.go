// The dashboard: deliveries per minute and their success rate over the
// last hours as server-drawn SVG charts, the webhooks that fail or are
// disabled, the queue and the mailboxes' backlog.
package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// chartHours is how far back the dashboard looks.
const chartHours = 3

// chart is a bar chart drawn as SVG: one bar per minute.
type chart struct {
	Width, Height int
	Bars          []bar
	Line          string // polyline points, for a rate
	Max           string // the label of the top of the scale
	Start, End    string // the labels of the ends of the time axis
	Summary       string // the chart in words, for screen readers
}

type bar struct {
	X, Y, W, H float64
	Title      string
	Bad        bool
}

// dashboardPage is the dashboard's data.
type dashboardPage struct {
	Volume, Success chart
	Attempts        int
	SuccessRate     string
	Failing         []store.Subscription
	QueueDepth      *int64
	Backlog         []mailboxRow
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, v *view) error {
	now := s.Now().UTC().Truncate(time.Minute)
	since := now.Add(-chartHours * time.Hour)
	stats, err := s.Subscriptions.Stats(r.Context(), v.principal, v.WS, since)
	if err != nil {
		return err
	}
	page := &dashboardPage{}
	page.Volume, page.Success, page.Attempts, page.SuccessRate = charts(stats, since, now)
	subs, err := s.Subscriptions.List(r.Context(), v.principal, v.WS, listQuery("", "1000"))
	if err != nil {
		return err
	}
	for _, sub := range subs.Data {
		if sub.Mode == store.ModePush && (sub.Status != store.SubscriptionActive || sub.ConsecutiveFailures > 0) {
			page.Failing = append(page.Failing, sub)
		}
	}
	if v.Admin && s.QueueDepth != nil {
		if n, err := s.QueueDepth(r.Context()); err == nil {
			page.QueueDepth = &n
		}
	}
	if page.Backlog, err = s.pullSubscriptions(r, v); err != nil {
		return err
	}
	v.Title = "Dashboard"
	v.Data = page
	s.render(w, http.StatusOK, "dashboard.html", v)
	return nil
}

// charts draws the attempts per minute from since to now, and the share of
// them that succeeded.
func charts(stats []store.AttemptMinute, since, now time.Time) (volume, success chart, total int, rate string) {
	const width, height = 720, 160
	minutes := int(now.Sub(since)/time.Minute) + 1
	byMinute := make(map[int]store.AttemptMinute, len(stats))
	peak, ok := 0, 0
	for _, m := range stats {
		i := int(m.Minute.Sub(since) / time.Minute)
		if i < 0 || i >= minutes {
			continue
		}
		byMinute[i] = m
		peak = max(peak, m.Attempts)
		total += m.Attempts
		ok += m.Succeeded
	}
	step := float64(width) / float64(minutes)
	label := func(t time.Time) string { return t.Format("15:04") + " UTC" }
	volume = chart{Width: width, Height: height, Max: fmt.Sprint(peak), Start: label(since), End: label(now)}
	success = chart{Width: width, Height: height, Max: "100%", Start: label(since), End: label(now)}
	for i := 0; i < minutes; i++ {
		m, found := byMinute[i]
		if !found || m.Attempts == 0 {
			continue
		}
		t := since.Add(time.Duration(i) * time.Minute).Format("15:04")
		h := float64(m.Attempts) / float64(peak) * height
		failed := m.Attempts - m.Succeeded
		volume.Bars = append(volume.Bars, bar{X: float64(i) * step, Y: height - h, W: max(step-0.5, 0.5), H: h,
			Title: fmt.Sprintf("%s: %d attempts, %d failed", t, m.Attempts, failed), Bad: failed > 0})
		pct := float64(m.Succeeded) / float64(m.Attempts)
		success.Bars = append(success.Bars, bar{X: float64(i) * step, Y: height - pct*height, W: max(step-0.5, 0.5), H: pct * height,
			Title: fmt.Sprintf("%s: %.0f%% succeeded", t, pct*100), Bad: pct < 1})
	}
	volume.Summary = fmt.Sprintf("%d delivery attempts in the last %d hours, at most %d in one minute.", total, chartHours, peak)
	rate = "–"
	if total > 0 {
		rate = fmt.Sprintf("%.1f%%", float64(ok)/float64(total)*100)
	}
	success.Summary = "Success rate over the last hours: " + rate + "."
	return volume, success, total, rate
}

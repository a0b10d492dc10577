package web

import (
	"strings"
	"testing"
	"time"

	"github.com/postbode/postbode/internal/store"
)

// TestCharts: bars sit at their minute, scale to the busiest one, and a
// minute with failures is marked; the success rate counts every attempt.
func TestCharts(t *testing.T) {
	since := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	now := since.Add(3 * time.Hour)
	stats := []store.AttemptMinute{
		{Minute: since, Attempts: 10, Succeeded: 10},
		{Minute: since.Add(90 * time.Minute), Attempts: 20, Succeeded: 15},
		{Minute: since.Add(-time.Minute), Attempts: 99, Succeeded: 0}, // before the window: left out
	}
	volume, success, total, rate := charts(stats, since, now)
	if total != 30 || rate != "83.3%" {
		t.Errorf("total %d, rate %s; want 30, 83.3%%", total, rate)
	}
	if len(volume.Bars) != 2 || len(success.Bars) != 2 {
		t.Fatalf("bars: %d and %d, want 2 each", len(volume.Bars), len(success.Bars))
	}
	first, second := volume.Bars[0], volume.Bars[1]
	if first.X != 0 || first.H != float64(volume.Height)/2 || first.Bad {
		t.Errorf("the first bar: %+v", first)
	}
	if second.H != float64(volume.Height) || !second.Bad || second.X <= float64(volume.Width)/2-5 || second.X >= float64(volume.Width)/2+5 {
		t.Errorf("the second bar, at the middle and full height, failing: %+v", second)
	}
	if success.Bars[1].H != 0.75*float64(success.Height) || !strings.Contains(success.Bars[1].Title, "75%") {
		t.Errorf("the second minute's success: %+v", success.Bars[1])
	}
	if _, _, total, rate := charts(nil, since, now); total != 0 || rate != "–" {
		t.Errorf("no attempts: %d %s", total, rate)
	}
}

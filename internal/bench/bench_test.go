// Tests of the bench: its pure parts (percentiles, /proc parsing, report
// formatting, the join of publishes and arrivals) and one short end-to-end
// run of Main against an in-process node.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := Percent{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("percentiles = %+v, want %+v", got, want)
	}
	if got := percentiles(nil); got != (Percent{}) {
		t.Fatalf("percentiles(nil) = %+v", got)
	}
	one := percentiles([]time.Duration{1500 * time.Microsecond})
	if one.P50 != 1.5 || one.P99 != 1.5 || one.Max != 1.5 {
		t.Fatalf("one sample: %+v", one)
	}
	// Nearest rank: p99 of 10 samples is the largest, p50 the fifth.
	ten := percentiles([]time.Duration{10, 9, 8, 7, 6, 5, 4, 3, 2, 1})
	if ten.P50 != ms(5) || ten.P99 != ms(10) {
		t.Fatalf("ten samples: %+v", ten)
	}
}

func TestMemStatus(t *testing.T) {
	status := "Name:\tpostbode\nVmPeak:\t  900000 kB\nVmHWM:\t   153600 kB\nVmRSS:\t   102400 kB\nThreads:\t9\n"
	rss, hwm := memStatus(strings.NewReader(status))
	if rss != 100 || hwm != 150 {
		t.Fatalf("rss %v hwm %v, want 100 150", rss, hwm)
	}
	if rss, hwm := memStatus(strings.NewReader("garbage\n")); rss != 0 || hwm != 0 {
		t.Fatalf("garbage: %v %v", rss, hwm)
	}
}

func TestCPUUsage(t *testing.T) {
	busy, total := procStat([]byte("cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 50 0 25 400 20 2 3 0 0 0\n"))
	if busy != 1600*time.Millisecond || total != 10*time.Second {
		t.Fatalf("busy %v total %v", busy, total)
	}
	if b, tot := procStat([]byte("intr 1 2 3\n")); b != 0 || tot != 0 {
		t.Fatalf("garbage: %v %v", b, tot)
	}
	rep := &Report{Delivered: 1000}
	rep.cpuUsage(cpuSnap{}, cpuSnap{busy: 1500 * time.Millisecond, total: 2 * time.Second, self: time.Second})
	if rep.CPUSeconds != 1 || rep.CPUPerEventUS != 1000 || rep.MachineBusyPct != 75 || rep.OtherBusyPct != 25 {
		t.Fatalf("%+v", rep)
	}
}

func TestSummarise(t *testing.T) {
	ms := time.Millisecond
	pub := &publisher{records: []pubRecord{
		{id: "evt_a", start: 10 * ms, accepted: 12 * ms},
		{id: "evt_b", start: 20 * ms, accepted: 25 * ms},
		{start: 30 * ms}, // failed
		{},               // never sent
	}}
	pub.failed.Store(1)
	got := map[arrivalKey]time.Duration{
		{"evt_a", 0}:     15 * ms,
		{"evt_a", 1}:     18 * ms,
		{"evt_b", 0}:     40 * ms,
		{"evt_other", 0}: 41 * ms, // not this run's
		{"evt_b", 7}:     42 * ms, // no such subscription
	}
	rep := &Report{Baseline: &Baseline{RequestsPerSec: 1000}}
	summarise(rep, pub, got, 2, 0, false)
	if rep.Published != 3 || rep.Accepted != 2 || rep.PublishErrors != 1 {
		t.Fatalf("published %d accepted %d errors %d", rep.Published, rep.Accepted, rep.PublishErrors)
	}
	if rep.Expected != 4 || rep.Delivered != 3 || rep.Undelivered != 1 || !rep.TimedOut {
		t.Fatalf("expected %d delivered %d undelivered %d timed out %v", rep.Expected, rep.Delivered, rep.Undelivered, rep.TimedOut)
	}
	// Latencies 5, 8, 20 ms; the window runs from the first publish (10 ms) to the last arrival (40 ms).
	if rep.Latency.P50 != 8 || rep.Latency.Max != 20 || rep.DeliverSeconds != 0.03 || rep.DeliveredPerSec != 100 {
		t.Fatalf("latency %+v, %vs, %v/s", rep.Latency, rep.DeliverSeconds, rep.DeliveredPerSec)
	}
	if rep.PublishSeconds != 0.015 || rep.AcceptLatency.Max != 5 {
		t.Fatalf("publish %vs, accept %+v", rep.PublishSeconds, rep.AcceptLatency)
	}
	if f := rep.FanOut; f == nil || f.Complete != 1 || f.CompleteMaxMS != 8 || f.FirstMS != 5 {
		t.Fatalf("fan-out %+v", rep.FanOut)
	}
	if rep.Ratio != 0.1 {
		t.Fatalf("ratio %v, want 0.1", rep.Ratio)
	}

	// With hold, latency runs from the release.
	rep = &Report{}
	summarise(rep, pub, map[arrivalKey]time.Duration{{"evt_a", 0}: 110 * ms, {"evt_b", 0}: 130 * ms}, 1, 100*ms, true)
	if rep.LatencyFrom != "release" || rep.Latency.Max != 30 || rep.DeliverSeconds != 0.03 || rep.FanOut != nil {
		t.Fatalf("hold: %+v", rep)
	}
}

func TestWriteText(t *testing.T) {
	rep := &Report{
		Conditions: Conditions{Target: "in-process", Store: "sqlite", DataDir: "/tmp/x", Events: 1000, Subscriptions: 1,
			Concurrency: 64, Rate: 500, PayloadBytes: 256, SubscriptionConcurrency: 32, GOMAXPROCS: 2, NumCPU: 2,
			GoVersion: "go1.26", OS: "linux/amd64"},
		Published: 1000, Accepted: 1000, PublishSeconds: 2, AcceptedPerSec: 500,
		Expected: 1000, Delivered: 990, Undelivered: 10, DeliverSeconds: 2.1, DeliveredPerSec: 471.4,
		Latency: Percent{N: 990, P50: 3, P90: 5, P99: 9.5, Max: 12}, LatencyFrom: "publish",
		Baseline: &Baseline{RequestsPerSec: 20000, Requests: 100000, Seconds: 5, Concurrency: 32, BodyBytes: 570},
		Ratio:    0.024, PeakRSSMB: 80.5, MaxSampledRSSMB: 79, RSSScope: "whole process", TimedOut: true,
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"500 events/s offered",
		"delivered        990 of 1000 in 2.10s = 471/s",
		"undelivered      10",
		"publish→arrival  p50 3.00 ms  p90 5.00 ms  p99 9.50 ms  max 12.00 ms  (n=990)",
		"raw loopback     20000 req/s",
		"ratio            0.02",
		"peak RSS         80.5 MiB",
		"TIMED OUT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Delivered != 990 || back.Conditions.Rate != 500 {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{{"--events", "0"}, {"--url", "http://x"}, {"--rate", "-1"}, {"extra"}, {"--inbound", "--batch", "10"}, {"--mailbox", "--subscriptions", "2"}, {"--single-acks"}} {
		t.Setenv("POSTBODE_TOKEN", "")
		if _, err := parseFlags(args, &stderr); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	stderr.Reset()
	parseFlags([]string{"-h"}, &stderr)
	if strings.Contains(stderr.String(), "cpuprofile") || !strings.Contains(stderr.String(), "-hold") {
		t.Errorf("usage:\n%s", stderr.String())
	}
}

func TestMainEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Main(ctx, []string{"--events", "200", "--concurrency", "16", "--subscriptions", "2", "--json",
		"--timeout", "20s", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\nstderr: %s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	if rep.Accepted != 200 || rep.Delivered != 400 || rep.Undelivered != 0 || rep.TimedOut {
		t.Fatalf("accepted %d delivered %d undelivered %d: %s", rep.Accepted, rep.Delivered, rep.Undelivered, stdout.String())
	}
	if rep.Latency.N != 400 || rep.Latency.P50 <= 0 || rep.FanOut == nil || rep.FanOut.Complete != 200 {
		t.Fatalf("latency %+v fan-out %+v", rep.Latency, rep.FanOut)
	}
	if rep.PeakRSSMB <= 0 || rep.AvgBodyBytes < 256 {
		t.Fatalf("peak RSS %v, body %d", rep.PeakRSSMB, rep.AvgBodyBytes)
	}
}

func TestMainInbound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Main(ctx, []string{"--events", "200", "--concurrency", "16", "--inbound", "--json",
		"--timeout", "20s", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\nstderr: %s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Conditions.Inbound || rep.Accepted != 200 || rep.Delivered != 200 || rep.PublishErrors != 0 {
		t.Fatalf("inbound run: %s\nstderr: %s", stdout.String(), stderr.String())
	}
}

func TestMainHold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Main(ctx, []string{"--events", "100", "--hold", "--json", "--timeout", "20s", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\nstderr: %s", err, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Delivered != 100 || rep.Hold == nil || rep.Hold.HeldDeliveries != 100 || rep.LatencyFrom != "release" {
		t.Fatalf("hold run: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	if strings.Contains(stderr.String(), "arrived while") {
		t.Fatalf("deliveries escaped the pause: %s", stderr.String())
	}
}

func TestMainMailbox(t *testing.T) {
	for _, args := range [][]string{
		{"--events", "250", "--concurrency", "3"},        // claim and acknowledge as fast as possible
		{"--events", "50", "--rate", "200", "--mailbox"}, // one long-polling claimer
		{"--events", "150", "--concurrency", "2", "--single-acks"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"--mailbox", "--json", "--timeout", "20s", "--data-dir", t.TempDir()}, args...)
			if err := Main(ctx, args, &stdout, &stderr); err != nil {
				t.Fatalf("Main: %v\nstderr: %s", err, stderr.String())
			}
			var rep Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			mb := rep.Mailbox
			n := rep.Conditions.Events
			if mb == nil || !rep.Conditions.Mailbox || rep.Accepted != n || mb.Acknowledged != n || mb.Claimed != n ||
				mb.Errors != 0 || mb.AckRefused != 0 || mb.PerSec <= 0 || rep.TimedOut {
				t.Fatalf("mailbox run: %s\nstderr: %s", stdout.String(), stderr.String())
			}
			if rep.Conditions.Rate > 0 && (rep.Latency.N != n || rep.Latency.P50 <= 0) {
				t.Fatalf("latency %+v", rep.Latency)
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "claimed+acked") {
				t.Fatalf("text report: %v\n%s", err, text.String())
			}
		})
	}
}

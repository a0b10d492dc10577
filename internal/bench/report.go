// The bench report: the figures of one run with the conditions they were
// measured under, percentiles, the readable table and the JSON form, and
// the memory readings from /proc. Everything here is pure apart from the
// /proc reads, so it is unit-tested on its own.
package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Report is everything one run measured. Times are milliseconds, rates per
// second, memory in MiB.
type Report struct {
	Conditions Conditions `json:"conditions"`

	Published      int     `json:"published"` // publish requests sent
	Accepted       int     `json:"accepted"`  // answered 202
	PublishErrors  int     `json:"publish_errors"`
	FirstError     string  `json:"first_error,omitempty"`
	PublishSeconds float64 `json:"publish_seconds"` // first publish sent → last 202
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	AcceptLatency  Percent `json:"accept_latency_ms"` // publish sent → 202

	Expected        int     `json:"expected"` // accepted × subscriptions
	Delivered       int     `json:"delivered"`
	Undelivered     int     `json:"undelivered"`
	Duplicates      int     `json:"duplicates"`
	DeliverSeconds  float64 `json:"deliver_seconds"` // latency origin → last arrival
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	// Latency is publish→arrival, or release→arrival with --hold
	// (LatencyFrom says which).
	Latency     Percent `json:"latency_ms"`
	LatencyFrom string  `json:"latency_from"`
	// ScheduleLagMS is, with --rate, how far behind its schedule the latest
	// publish was sent: large values mean the offered load was not met.
	ScheduleLagMS float64     `json:"schedule_lag_ms,omitempty"`
	FanOut        *FanOut     `json:"fan_out,omitempty"`
	Baseline      *Baseline   `json:"baseline,omitempty"`
	Ratio         float64     `json:"ratio,omitempty"` // delivered/s ÷ raw loopback req/s
	Hold          *HoldReport `json:"hold,omitempty"`
	// Mailbox covers --mailbox: Delivered is then the messages claimed and
	// acknowledged, and Latency publish→claim answered (with --rate).
	Mailbox      *MailboxReport `json:"mailbox,omitempty"`
	AvgBodyBytes int            `json:"avg_body_bytes"` // of the webhook requests that arrived

	// CPU over the measured run: this process's user+system time, and how
	// busy the whole machine was, so that a run disturbed by other work shows.
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPerEventUS float64 `json:"cpu_per_event_us"` // CPUSeconds ÷ delivered (÷ accepted with nothing delivered)
	// DBCPUSeconds is, on PostgreSQL, the CPU of the server's processes:
	// the backends of the bench's database and the server's own workers
	// (WAL writer, checkpointer, autovacuum), read from /proc.
	DBCPUSeconds    float64 `json:"db_cpu_seconds,omitempty"`
	DBCPUPerEventUS float64 `json:"db_cpu_per_event_us,omitempty"`
	// DeliveriesSeqScans and DeliveriesSeqRows are, on PostgreSQL, the
	// sequential scans of the deliveries table during the run and the rows
	// they read (pg_stat_user_tables): the hot path should make none.
	DeliveriesSeqScans int64 `json:"deliveries_seq_scans,omitempty"`
	DeliveriesSeqRows  int64 `json:"deliveries_seq_rows,omitempty"`
	// CPURatio is the CPU per event (this process's and the database's)
	// as a multiple of the CPU of one raw loopback exchange measured by
	// --baseline at the same rate: about 2 is the floor (one exchange to
	// publish, one to deliver).
	CPURatio        float64 `json:"cpu_ratio,omitempty"`
	MachineBusyPct  float64 `json:"machine_busy_pct"`
	OtherBusyPct    float64 `json:"other_processes_busy_pct"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`        // VmHWM at the end of the run
	MaxSampledRSSMB float64 `json:"max_sampled_rss_mb"` // highest VmRSS sampled every 50 ms
	RSSScope        string  `json:"rss_scope"`

	TimedOut bool `json:"timed_out"`
}

// write prints the report as JSON or as the table.
func (r *Report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}

// writeDrift prints how each round compares with the first: CPU per event
// (the node's and the database's) and p99 publish→arrival.
func writeDrift(w io.Writer, rounds []*Report) {
	first := rounds[0]
	cpu := func(r *Report) float64 { return r.CPUPerEventUS + r.DBCPUPerEventUS }
	fmt.Fprintf(w, "\ndrift over %d rounds (against round 1)\n", len(rounds))
	fmt.Fprintf(w, "  %-6s %16s %10s %14s %10s\n", "round", "cpu µs/event", "× first", "p99 ms", "× first")
	for i, r := range rounds {
		fmt.Fprintf(w, "  %-6d %16.0f %10.2f %14.2f %10.2f\n", i+1, cpu(r), ratioOf(cpu(r), cpu(first)),
			r.Latency.P99, ratioOf(r.Latency.P99, first.Latency.P99))
	}
}

func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a/b, 2)
}

// Conditions are what the figures depend on.
type Conditions struct {
	// Round is which of --rounds this report is, from 1.
	Round                   int     `json:"round,omitempty"`
	Target                  string  `json:"target"` // "in-process" or the --url
	Store                   string  `json:"store"`
	Nodes                   int     `json:"nodes,omitempty"`
	DataDir                 string  `json:"data_dir,omitempty"`
	Events                  int     `json:"events"`
	Subscriptions           int     `json:"subscriptions"`
	Concurrency             int     `json:"concurrency"`
	Batch                   int     `json:"batch"`                 // events per publish request
	Inbound                 bool    `json:"inbound,omitempty"`     // published through POST /in/{id}
	Mailbox                 bool    `json:"mailbox,omitempty"`     // one pull subscription, claimed and acknowledged
	SingleAcks              bool    `json:"single_acks,omitempty"` // --mailbox: one request per acknowledgement
	Rate                    float64 `json:"rate"`                  // offered events/s; 0 is a closed loop
	PayloadBytes            int     `json:"payload_bytes"`
	SubscriptionConcurrency int     `json:"subscription_concurrency"`
	Hold                    bool    `json:"hold"`
	GOMAXPROCS              int     `json:"gomaxprocs"`
	NumCPU                  int     `json:"num_cpu"`
	GoVersion               string  `json:"go_version"`
	OS                      string  `json:"os"`
}

// Percent summarises a latency distribution in milliseconds.
type Percent struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// FanOut is, per event, the time until its last subscription had it.
type FanOut struct {
	CompleteP50MS float64 `json:"complete_p50_ms"`
	CompleteMaxMS float64 `json:"complete_max_ms"`
	FirstMS       float64 `json:"first_arrival_ms"` // earliest arrival of any event
	Complete      int     `json:"complete_events"`  // events that reached every subscription
}

// Baseline is the raw loopback rate of the receiver with a plain Go client.
type Baseline struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	Seconds        float64 `json:"seconds"`
	Concurrency    int     `json:"concurrency"`
	BodyBytes      int     `json:"body_bytes"`
	CPUPerReqUS    float64 `json:"cpu_per_request_us"` // this process's CPU per request
	OtherBusyPct   float64 `json:"other_processes_busy_pct"`
	// PacedPerSec is the rate the requests were sent at, as --rate offers
	// the run's events; 0 sent them as fast as they were answered.
	PacedPerSec float64 `json:"paced_per_sec,omitempty"`
}

// HoldReport covers --hold: memory with the backlog held, then its drain.
type HoldReport struct {
	HeldDeliveries int     `json:"held_deliveries"`
	HeldRSSMB      float64 `json:"held_rss_mb"`      // VmRSS once everything was held
	HeldPeakRSSMB  float64 `json:"held_peak_rss_mb"` // VmHWM at that moment
	ReleaseMS      float64 `json:"release_ms"`       // the enable calls
}

// percentiles summarises ds (in any order; it is sorted in place) with the
// nearest-rank method, so every figure is a latency that was observed.
func percentiles(ds []time.Duration) Percent {
	if len(ds) == 0 {
		return Percent{}
	}
	slices.Sort(ds)
	return Percent{N: len(ds), P50: ms(rank(ds, 50)), P90: ms(rank(ds, 90)), P99: ms(rank(ds, 99)), Max: ms(ds[len(ds)-1])}
}

// rank is the nearest-rank p-th percentile of sorted ds.
func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// rate is n per second over d, or 0.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1)
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a readable table.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	c := &r.Conditions
	row := func(k, format string, args ...any) {
		fmt.Fprintf(&b, "  %-16s "+format+"\n", append([]any{k}, args...)...)
	}

	b.WriteString("postbode bench")
	if c.Round > 0 {
		fmt.Fprintf(&b, ", round %d", c.Round)
	}
	b.WriteString("\n")
	target := c.Target
	if c.DataDir != "" {
		target += " (" + c.Store + ", " + c.DataDir + ")"
	} else if c.Store != "" {
		target += " (" + c.Store + ")"
	}
	row("target", "%s", target)
	load := fmt.Sprintf("closed loop, %d in flight", c.Concurrency)
	if c.Batch > 1 {
		load = fmt.Sprintf("closed loop, %d requests of %d events in flight", c.Concurrency, c.Batch)
	}
	if c.Rate > 0 {
		load = fmt.Sprintf("%g events/s offered, up to %d in flight", c.Rate, c.Concurrency)
	}
	if c.Inbound {
		load += ", through an inbound webhook (POST /in/{id})"
	}
	if c.Mailbox {
		load = fmt.Sprintf("published first in batches of %d, then %d claimers", mailboxPublishBatch, c.Concurrency)
		if c.Rate > 0 {
			load = fmt.Sprintf("%g events/s offered (up to %d in flight), one long-polling claimer", c.Rate, c.Concurrency)
		}
		if c.SingleAcks {
			load += fmt.Sprintf(" claiming %d at a time, acknowledged with a request each, all at once", mailboxCount)
		} else {
			load += fmt.Sprintf(" claiming %d at a time, acknowledged in one batch each", mailboxCount)
		}
		row("load", "%d events to one pull subscription, %s, %d B payload", c.Events, load, c.PayloadBytes)
	} else {
		row("load", "%d events × %d subscription(s), %s, %d B payload", c.Events, c.Subscriptions, load, c.PayloadBytes)
	}
	row("machine", "GOMAXPROCS %d (%d CPUs), %s, %s; %d sends in flight per subscription",
		c.GOMAXPROCS, c.NumCPU, c.GoVersion, c.OS, c.SubscriptionConcurrency)
	if c.Hold {
		row("mode", "hold: published to paused subscriptions, then enabled and drained")
	}
	b.WriteString("\n")

	row("accepted", "%d of %d in %.2fs = %.0f/s", r.Accepted, r.Published, r.PublishSeconds, r.AcceptedPerSec)
	if r.PublishErrors > 0 {
		row("publish errors", "%d (first: %s)", r.PublishErrors, r.FirstError)
	}
	row("publish→202", "%s", r.AcceptLatency)
	if r.ScheduleLagMS > 0 {
		row("schedule lag", "%.1f ms at worst behind the offered rate", r.ScheduleLagMS)
	}
	if mb := r.Mailbox; mb != nil {
		row("claimed+acked", "%d of %d in %.2fs = %.0f/s (%d claimed; %d claims, %d ack requests, %d refused, %d errors)",
			mb.Acknowledged, r.Expected, mb.Seconds, mb.PerSec, mb.Claimed, mb.ClaimRequests, mb.AckRequests, mb.AckRefused, mb.Errors)
		if mb.FirstError != "" {
			row("first error", "%s", mb.FirstError)
		}
		row("claim request", "%s (those that returned messages)", mb.ClaimLatency)
		row("ack request", "%s", mb.AckLatency)
		if r.LatencyFrom != "" {
			row("publish→claimed", "%s", r.Latency)
		}
	} else {
		dup := ""
		if r.Duplicates > 0 {
			dup = fmt.Sprintf(", %d duplicates", r.Duplicates)
		}
		row("delivered", "%d of %d in %.2fs = %.0f/s%s", r.Delivered, r.Expected, r.DeliverSeconds, r.DeliveredPerSec, dup)
		if r.Undelivered > 0 {
			row("undelivered", "%d", r.Undelivered)
		}
		row(r.LatencyFrom+"→arrival", "%s", r.Latency)
		if f := r.FanOut; f != nil {
			row("fan-out", "all %d subscriptions reached in p50 %.1f ms, max %.1f ms (%d of %d events complete; first arrival %.1f ms)",
				c.Subscriptions, f.CompleteP50MS, f.CompleteMaxMS, f.Complete, r.Accepted, f.FirstMS)
		}
		if bl := r.Baseline; bl != nil && bl.PacedPerSec > 0 {
			row("raw loopback", "%.0f req/s paced (plain Go client, %d B bodies, %.1fs, %d errors; %.0f µs CPU per request)",
				bl.RequestsPerSec, bl.BodyBytes, bl.Seconds, bl.Errors, bl.CPUPerReqUS)
		} else if bl != nil {
			row("raw loopback", "%.0f req/s (plain Go client, %d connections, %d B bodies, %.1fs, %d errors; %.0f µs CPU per request)",
				bl.RequestsPerSec, bl.Concurrency, bl.BodyBytes, bl.Seconds, bl.Errors, bl.CPUPerReqUS)
			row("ratio", "%.2f (delivered/s ÷ raw loopback req/s)", r.Ratio)
		}
		if h := r.Hold; h != nil {
			row("held", "%d deliveries: RSS %.1f MiB, peak so far %.1f MiB; enable took %.1f ms",
				h.HeldDeliveries, h.HeldRSSMB, h.HeldPeakRSSMB, h.ReleaseMS)
		}
		row("body size", "%d B average webhook request body", r.AvgBodyBytes)
	}
	if r.CPUSeconds > 0 {
		row("cpu", "%.2f core-seconds in this process, %.0f µs per event; machine %.0f%% busy, other processes %.0f%%",
			r.CPUSeconds, r.CPUPerEventUS, r.MachineBusyPct, r.OtherBusyPct)
	}
	if r.DBCPUSeconds > 0 {
		row("database cpu", "%.2f core-seconds in PostgreSQL's processes, %.0f µs per event", r.DBCPUSeconds, r.DBCPUPerEventUS)
		row("seq scans", "%d of the deliveries table, reading %d rows (pg_stat_user_tables)", r.DeliveriesSeqScans, r.DeliveriesSeqRows)
	}
	if r.CPURatio > 0 {
		row("cpu ratio", "%.2f× the CPU of one raw loopback exchange at the same rate (node%s per event ÷ exchange)",
			r.CPURatio, map[bool]string{true: " and database", false: ""}[r.DBCPUSeconds > 0])
	}
	row("peak RSS", "%.1f MiB (VmHWM); highest sample %.1f MiB; %s", r.PeakRSSMB, r.MaxSampledRSSMB, r.RSSScope)
	if bl := r.Baseline; bl != nil && bl.OtherBusyPct >= 10 {
		fmt.Fprintf(&b, "\n  WARNING: other processes used %.0f%% of the CPU during the baseline; the ratio is disturbed.\n", bl.OtherBusyPct)
	}
	if r.OtherBusyPct >= 10 {
		fmt.Fprintf(&b, "\n  WARNING: other processes used %.0f%% of the CPU during the run; the figures are disturbed.\n", r.OtherBusyPct)
	}
	if r.TimedOut {
		b.WriteString("\n  TIMED OUT: the figures above are partial.\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

func (p Percent) String() string {
	if p.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)", p.P50, p.P90, p.P99, p.Max, p.N)
}

// memStatus reads VmRSS and VmHWM (in MiB) from a /proc/<pid>/status text.
func memStatus(r io.Reader) (rss, hwm float64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) == 0 {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = round(kb/1024, 1)
		} else {
			hwm = round(kb/1024, 1)
		}
	}
	return rss, hwm
}

// readMem returns this process's current and peak resident set in MiB,
// zero where /proc is not available.
func readMem() (rss, hwm float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	return memStatus(f)
}

// cpuSnap is a reading of CPU time: the whole machine's busy and total
// time from /proc/stat, and this process's user+system time.
type cpuSnap struct {
	busy, total time.Duration // all CPUs together
	self        time.Duration
}

// userHZ is the unit of /proc/stat: Linux reports clock ticks of 1/100 s.
const userHZ = 100

func readCPU() cpuSnap {
	var s cpuSnap
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		s.busy, s.total = procStat(b)
	}
	return s
}

// procStat sums the aggregate "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq, steal (guest time is already in user).
func procStat(b []byte) (busy, total time.Duration) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i := 1; i <= 8; i++ {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, 0
		}
		d := time.Duration(v) * time.Second / userHZ
		total += d
		if i != 4 && i != 5 { // idle, iowait
			busy += d
		}
	}
	return busy, total
}

// cpuUsage fills in the CPU figures of r between two readings.
func (r *Report) cpuUsage(from, to cpuSnap) {
	self := to.self - from.self
	r.CPUSeconds = round(self.Seconds(), 2)
	if n := max(r.Delivered, r.Accepted); n > 0 {
		r.CPUPerEventUS = round(float64(self.Microseconds())/float64(n), 1)
	}
	busy, total := to.busy-from.busy, to.total-from.total
	if total <= 0 {
		return
	}
	r.MachineBusyPct = round(100*float64(busy)/float64(total), 1)
	r.OtherBusyPct = round(max(0, 100*float64(busy-self)/float64(total)), 1)
}

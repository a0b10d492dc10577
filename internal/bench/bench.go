// Package bench implements `postbode bench`: it measures what one Postbode
// delivers on the machine at hand. It starts a node in-process on a
// temporary data directory (or targets a running one with --url), runs a
// local receiver, creates the subscriptions, publishes events through the
// management API and matches every arrival to its publish through the
// webhook-id header. It reports accepted/s, delivered/s, publish→arrival
// percentiles, fan-out completion and peak RSS, and with --baseline the raw
// loopback rate of the same receiver code with a plain Go client, so the
// figures are read against what the machine can do at all.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// options are the command-line flags.
type options struct {
	events         int
	concurrency    int
	batch          int
	inbound        bool
	mailbox        bool
	singleAcks     bool
	inboundPath    string // set up by Main: /in/{id} of the bench's inbound webhook
	rate           float64
	subscriptions  int
	payload        int
	schema         bool
	subConcurrency int
	baseline       bool
	baselineFor    time.Duration
	hold           bool
	timeout        time.Duration
	json           bool
	rounds         int
	// nodeDB is the URL the in-process nodes use: --database with the
	// fresh schema as its search_path.
	nodeDB         string
	url            string
	token          string
	receiverListen string
	receiverURL    string
	dataDir        string
	database       string
	nodes          int
	cpuProfile     string
	memProfile     string
	trace          string
}

// hiddenFlags are for profiling Postbode itself and stay out of -h.
var hiddenFlags = map[string]bool{"cpuprofile": true, "memprofile": true, "trace": true}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.events, "events", 10000, "events to publish")
	fs.IntVar(&o.rounds, "rounds", 1, "measure this many times in a row on the same node and database (a soak: with --database, whether\n"+
		"PostgreSQL stays as fast as its tables grow), printing each round and then the drift from the first")
	fs.IntVar(&o.concurrency, "concurrency", 64, "publish requests in flight (closed loop: always this many)")
	fs.IntVar(&o.batch, "batch", 1, "events per publish request: above 1, the closed loop publishes through\n"+
		"POST …/events/batch (up to 1000 per request)")
	fs.BoolVar(&o.inbound, "inbound", false, "publish through an inbound webhook (POST /in/{id} with its bearer app token)\n"+
		"instead of the events API")
	fs.BoolVar(&o.mailbox, "mailbox", false, "bench a pull subscription's mailbox instead of webhooks: publish --events, then\n"+
		"--concurrency claimers (default 8 here) each claim 100 and acknowledge them in one batch, until all are\n"+
		"done (claimed and acknowledged/s); with --rate, one claimer long-polls while the events are published\n"+
		"at that rate (publish→claim latency)")
	fs.BoolVar(&o.singleAcks, "single-acks", false, "with --mailbox: acknowledge each message with its own POST …/mailbox/{id}/success\n"+
		"(the claimer's 100 at once) instead of one batch")
	fs.Float64Var(&o.rate, "rate", 0, "offered load in events/s on a fixed schedule (open loop); 0 publishes as fast as --concurrency allows")
	fs.IntVar(&o.subscriptions, "subscriptions", 1, "subscriptions every event fans out to (one receiver path each)")
	fs.IntVar(&o.payload, "payload-size", 256, "bytes of padding in each event's data")
	fs.BoolVar(&o.schema, "schema", false, "give the bench event type a JSON Schema, so that every event's data is checked against it")
	fs.IntVar(&o.subConcurrency, "subscription-concurrency", 32,
		"sends in flight per subscription: the in-process node's setting, and the baseline's connection count")
	fs.BoolVar(&o.baseline, "baseline", false,
		"first measure the raw loopback rate of the receiver with a plain Go client (keep-alive,\n"+
			"--subscription-concurrency connections, envelope-sized bodies) and report delivered/s ÷ raw")
	fs.DurationVar(&o.baselineFor, "baseline-duration", 5*time.Second, "how long the --baseline measurement runs")
	fs.BoolVar(&o.hold, "hold", false,
		"memory under a backlog: pause the subscriptions (POST …/disable), publish --events so that every\n"+
			"delivery is held in the store, read RSS, then enable them and time the drain of the whole backlog;\n"+
			"latency is then release→arrival. E.g. --hold --events 100000 for 100k pending deliveries")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up on deliveries that have not arrived this long after publishing began")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.StringVar(&o.url, "url", "", "bench a running Postbode at this base URL instead of an in-process one\n"+
		"(it must reach the receiver, see --receiver-url, and allow private targets if that is on loopback)")
	fs.StringVar(&o.token, "token", "", "integration token for --url (default $POSTBODE_TOKEN)")
	fs.StringVar(&o.receiverListen, "receiver-listen", "127.0.0.1:0", "listen address of the local receiver")
	fs.StringVar(&o.receiverURL, "receiver-url", "", "base URL the server uses to reach the receiver (default http://<receiver-listen>)")
	fs.StringVar(&o.database, "database", "", "run the in-process node(s) on this PostgreSQL database (postgres://…) instead of SQLite;\n"+
		"the bench works in a fresh schema of it, dropped afterwards")
	fs.IntVar(&o.nodes, "nodes", 1, "in-process nodes sharing --database; publishes go to them in turn")
	fs.StringVar(&o.dataDir, "data-dir", "", "parent of the in-process node's temporary data directory (default the system temp dir);\n"+
		"the directory is removed afterwards")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured run to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile at the end of the measured run to this file")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the measured run to this file (go tool trace)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: postbode bench [flags]\n\n"+
			"Measures Postbode end to end on this machine: publishes events, receives the webhooks on a\n"+
			"local receiver and reports accepted/s, delivered/s, publish→arrival latency and peak RSS.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if hiddenFlags[f.Name] {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			if name != "" {
				name = " " + name
			}
			fmt.Fprintf(stderr, "  -%s%s\n    \t%s", f.Name, name, strings.ReplaceAll(usage, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				fmt.Fprintf(stderr, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if o.token == "" {
		o.token = os.Getenv("POSTBODE_TOKEN")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.mailbox && o.rate == 0 && !set["concurrency"] {
		o.concurrency = 8 // claimers
	}
	switch {
	case o.rounds < 1 || o.rounds > 100:
		return nil, errors.New("--rounds must be from 1 to 100")
	case o.rounds > 1 && (o.mailbox || o.hold):
		return nil, errors.New("--rounds measures deliveries; --mailbox and --hold run once")
	case o.events < 1:
		return nil, errors.New("--events must be at least 1")
	case o.concurrency < 1 || o.concurrency > 10000:
		return nil, errors.New("--concurrency must be from 1 to 10000")
	case o.rate < 0:
		return nil, errors.New("--rate must not be negative")
	case o.batch < 1 || o.batch > 1000:
		return nil, errors.New("--batch must be from 1 to 1000")
	case o.batch > 1 && o.inbound:
		return nil, errors.New("--batch publishes through the events API; --inbound posts one event per request")
	case o.batch > 1 && o.rate > 0:
		return nil, errors.New("--batch is for the closed loop; --rate publishes one event per request")
	case o.mailbox && (o.inbound || o.hold || o.baseline || o.batch > 1 || o.subscriptions > 1):
		return nil, errors.New("--mailbox benches one pull subscription; --inbound, --hold, --baseline, --batch and --subscriptions do not apply")
	case o.singleAcks && !o.mailbox:
		return nil, errors.New("--single-acks is for --mailbox")
	case o.subscriptions < 1 || o.subscriptions > 10000:
		return nil, errors.New("--subscriptions must be from 1 to 10000")
	case o.payload < 0 || o.payload > 900<<10:
		return nil, errors.New("--payload-size must be from 0 to 921600")
	case o.subConcurrency < 1 || o.subConcurrency > 1024:
		return nil, errors.New("--subscription-concurrency must be from 1 to 1024")
	case o.timeout <= 0 || o.baselineFor <= 0:
		return nil, errors.New("--timeout and --baseline-duration must be positive")
	case o.nodes < 1 || o.nodes > 16:
		return nil, errors.New("--nodes must be from 1 to 16")
	case o.nodes > 1 && o.database == "":
		return nil, errors.New("--nodes above 1 needs --database: nodes share one PostgreSQL database")
	case o.url != "" && (o.database != "" || o.nodes > 1):
		return nil, errors.New("--url benches a running server; --database and --nodes start in-process ones")
	case o.url != "" && o.token == "":
		return nil, errors.New("--url needs --token (or $POSTBODE_TOKEN): an integration token")
	}
	o.url = strings.TrimSuffix(o.url, "/")
	return o, nil
}

// Main runs the benchmark with args (the flags after `bench`), prints the
// report on stdout and the progress bar and warnings on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	epoch := time.Now()
	rep := &Report{Conditions: Conditions{
		Target: "in-process", Store: "sqlite", Events: o.events, Subscriptions: o.subscriptions,
		Concurrency: o.concurrency, Batch: o.batch, Inbound: o.inbound, Mailbox: o.mailbox, SingleAcks: o.singleAcks, Rate: o.rate, PayloadBytes: o.payload, Hold: o.hold,
		SubscriptionConcurrency: o.subConcurrency, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
	}}

	// The target: an in-process node, or --url.
	bases, token := []string{o.url}, o.token
	if o.url == "" {
		nodes, cleanup, err := startNodes(ctx, o, stderr)
		if err != nil {
			return fmt.Errorf("starting postbode: %w", err)
		}
		defer func() {
			if serr := cleanup(); err == nil && serr != nil {
				err = fmt.Errorf("stopping postbode: %w", serr)
			}
		}()
		bases, token = nil, nodes[0].Token
		for _, nd := range nodes {
			bases = append(bases, nd.URL)
		}
		rep.Conditions.DataDir = nodes[0].DataDir
		o.nodeDB = nodes[0].Config.Database
		rep.Conditions.SubscriptionConcurrency = nodes[0].Config.SubscriptionConcurrency
		rep.Conditions.Nodes = len(nodes)
		if o.database != "" {
			rep.Conditions.Store = "postgres"
		}
		rep.RSSScope = "whole process: Postbode node(s), receiver and load generator"
	} else {
		rep.Conditions.Target, rep.Conditions.Store = o.url, "remote"
		rep.RSSScope = "bench process only (receiver and load generator); the server's memory is not included"
	}
	c := newClient(bases[0], token, o.concurrency)
	var publishTo []*client
	for _, b := range bases {
		publishTo = append(publishTo, newClient(b, token, o.concurrency))
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	rc, err := newReceiver(o.receiverListen, o.receiverURL, epoch)
	if err != nil {
		return fmt.Errorf("starting the receiver: %w", err)
	}
	defer rc.close()

	nsubs := o.subscriptions
	if o.mailbox {
		nsubs = 0 // one pull subscription instead, below
	}
	ws, subs, err := c.setup(ctx, rc.URL, nsubs, o.schema)
	if err == nil && o.mailbox {
		var pull string
		pull, err = c.createPull(ctx, ws)
		subs = append(subs, pull)
	}
	if o.url != "" && len(subs) > 0 {
		defer func() {
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if derr := c.deleteSubscriptions(bg, ws, subs); derr != nil {
				fmt.Fprintln(stderr, "bench: removing the bench subscriptions:", derr)
			}
		}()
	}
	if err != nil {
		return err
	}
	if o.inbound {
		hookID, appToken, err := c.createInbound(ctx, ws)
		if err != nil {
			return fmt.Errorf("creating the inbound webhook: %w", err)
		}
		if o.url != "" {
			defer func() {
				bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if derr := c.call(bg, "DELETE", "/api/v1/workspaces/"+ws+"/inbound/"+hookID, nil, 204, nil); derr != nil {
					fmt.Fprintln(stderr, "bench: removing the bench inbound webhook:", derr)
				}
			}()
		}
		o.inboundPath = "/in/" + hookID
		publishTo = nil
		for _, b := range bases {
			publishTo = append(publishTo, newClient(b, appToken, o.concurrency))
		}
	}
	if o.hold {
		if err := c.setStatus(ctx, ws, subs, "disable"); err != nil {
			return fmt.Errorf("pausing the subscriptions: %w", err)
		}
	}

	if o.baseline {
		if err := runBaseline(ctx, o, rep, epoch, stderr); err != nil {
			return err
		}
	}
	runtime.GC()

	if o.mailbox {
		err = measureMailbox(ctx, o, c, publishTo, ws, subs[0], rep, epoch, stderr)
		if err == nil {
			err = rep.write(stdout, o.json)
		}
		if err != nil {
			return err
		}
	} else {
		var rounds []*Report
		for i := range o.rounds {
			if i > 0 {
				if rep.TimedOut {
					break
				}
				rc.reset()
				runtime.GC()
				rep = &Report{Conditions: rep.Conditions, Baseline: rep.Baseline, RSSScope: rep.RSSScope}
			}
			rep.Conditions.Round = i + 1
			if err := measure(ctx, o, c, publishTo, ws, subs, rc, rep, epoch, stderr); err != nil {
				return err
			}
			if err := rep.write(stdout, o.json); err != nil {
				return err
			}
			rounds = append(rounds, rep)
		}
		if len(rounds) > 1 && !o.json {
			writeDrift(stdout, rounds)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rep.TimedOut && o.mailbox {
		return fmt.Errorf("timed out after %s: %d of %d messages were not acknowledged", o.timeout, rep.Undelivered, rep.Expected)
	}
	if rep.TimedOut {
		return fmt.Errorf("timed out after %s: %d of %d deliveries did not arrive", o.timeout, rep.Undelivered, rep.Expected)
	}
	return nil
}

// runBaseline measures the raw loopback rate on a receiver of its own, so
// its bookkeeping never mixes with the real run's.
func runBaseline(ctx context.Context, o *options, rep *Report, epoch time.Time, stderr io.Writer) error {
	raw, err := newReceiver("127.0.0.1:0", "", epoch)
	if err != nil {
		return fmt.Errorf("starting the baseline receiver: %w", err)
	}
	defer raw.close()
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "\r\033[Kbaseline: raw loopback for %s…", o.baselineFor)
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	rep.Baseline = baseline(ctx, raw.URL+"/raw", rep.Conditions.SubscriptionConcurrency, o.baselineFor,
		sampleBody(o.payload), o.rate)
	if rep.Baseline.Requests == 0 {
		return fmt.Errorf("baseline: no request succeeded (%d errors)", rep.Baseline.Errors)
	}
	return nil
}

// measure publishes, waits for the deliveries and fills in rep.
func measure(ctx context.Context, o *options, c *client, publishTo []*client, ws string, subs []string, rc *receiver,
	rep *Report, epoch time.Time, stderr io.Writer) error {
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	stopProfiles, err := startProfiles(o)
	if err != nil {
		return err
	}
	defer stopProfiles()
	mem := startSampler()
	var db *dbCPU
	var db0 map[int]time.Duration
	var scans0, rows0 int64
	if o.nodeDB != "" {
		if db, err = newDBCPU(ctx, o.nodeDB); err != nil {
			mem.stop()
			return err
		}
		defer db.close()
		if db0, err = db.snapshot(ctx); err != nil {
			mem.stop()
			return fmt.Errorf("sampling the database's CPU: %w", err)
		}
		if scans0, rows0, err = db.seqScans(ctx); err != nil {
			mem.stop()
			return fmt.Errorf("reading the deliveries table's statistics: %w", err)
		}
	}
	cpu0 := readCPU()
	pub := newPublisher(publishTo, ws, o.events, o.payload, o.batch, epoch)
	if o.inboundPath != "" {
		pub.path, pub.inbound = o.inboundPath, true
	}
	bar := startProgress(stderr, o.events, o.subscriptions, pub, rc)

	if o.rate > 0 {
		pub.openLoop(runCtx, o.concurrency, o.rate)
	} else {
		pub.closedLoop(runCtx, o.concurrency)
	}
	accepted := int(pub.accepted.Load())
	expected := accepted * len(subs)
	if accepted == 0 {
		bar.stop()
		mem.stop()
		return fmt.Errorf("no event was accepted: %s", pub.firstErr)
	}

	var release time.Duration
	if o.hold {
		rss, hwm := readMem()
		h := &HoldReport{HeldDeliveries: expected, HeldRSSMB: rss, HeldPeakRSSMB: hwm}
		if early := rc.unique.Load(); early > 0 {
			fmt.Fprintf(stderr, "bench: %d deliveries arrived while the subscriptions were paused\n", early)
		}
		release = time.Since(epoch)
		// Not runCtx: a publish phase that used up the timeout still releases.
		if err := c.setStatus(ctx, ws, subs, "enable"); err != nil {
			bar.stop()
			mem.stop()
			return fmt.Errorf("enabling the subscriptions: %w", err)
		}
		h.ReleaseMS = ms(time.Since(epoch) - release)
		rep.Hold = h
	}

	// Wait for every delivery, or the timeout.
	tick := time.NewTicker(5 * time.Millisecond)
	for rc.unique.Load() < int64(expected) && runCtx.Err() == nil {
		select {
		case <-tick.C:
		case <-runCtx.Done():
		}
	}
	tick.Stop()
	cpu1 := readCPU()
	if db != nil {
		db1, err := db.snapshot(ctx)
		if err != nil {
			mem.stop()
			return fmt.Errorf("sampling the database's CPU: %w", err)
		}
		rep.DBCPUSeconds = round(dbDelta(db0, db1).Seconds(), 2)
		// The counters reach the statistics view within a second or so of
		// the statements; a scan in the run's last moment may be missed.
		if scans1, rows1, err := db.seqScans(ctx); err == nil {
			rep.DeliveriesSeqScans, rep.DeliveriesSeqRows = scans1-scans0, rows1-rows0
		}
	}
	bar.stop()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			fmt.Fprintln(stderr, "bench: writing the heap profile:", err)
		}
	}
	rep.MaxSampledRSSMB = mem.stop()
	_, rep.PeakRSSMB = readMem()
	summarise(rep, pub, rc.arrivals(), len(subs), release, o.hold)
	rep.cpuUsage(cpu0, cpu1)
	if n := max(rep.Delivered, rep.Accepted); n > 0 && rep.DBCPUSeconds > 0 {
		rep.DBCPUPerEventUS = round(rep.DBCPUSeconds*1e6/float64(n), 1)
	}
	rep.cpuRatio()
	rep.Duplicates = int(rc.duplicates.Load())
	if n := rc.requests.Load(); n > 0 {
		rep.AvgBodyBytes = int(rc.bodyBytes.Load() / n)
	}
	if lag := time.Duration(pub.lagNS.Load()); lag > 0 {
		rep.ScheduleLagMS = round(float64(lag)/float64(time.Millisecond), 1)
	}
	return nil
}

// summarise joins publishes and arrivals into the report's figures. With
// hold, latency is measured from release instead of from each publish.
func summarise(rep *Report, pub *publisher, got map[arrivalKey]time.Duration, nsubs int, release time.Duration, hold bool) {
	index := make(map[string]int, len(pub.records))
	var accept []time.Duration
	first, lastAccept := time.Duration(-1), time.Duration(0)
	for i := range pub.records {
		r := &pub.records[i]
		if r.start == 0 && r.id == "" {
			continue // never sent
		}
		rep.Published++
		if first < 0 || r.start < first {
			first = r.start
		}
		if r.id == "" {
			continue
		}
		index[r.id] = i
		accept = append(accept, r.accepted-r.start)
		lastAccept = max(lastAccept, r.accepted)
	}
	rep.Accepted = len(index)
	rep.PublishErrors = int(pub.failed.Load())
	rep.FirstError = pub.firstErr
	rep.PublishSeconds = round((lastAccept - first).Seconds(), 3)
	rep.AcceptedPerSec = rate(rep.Accepted, lastAccept-first)
	rep.AcceptLatency = percentiles(accept)

	origin := first
	rep.LatencyFrom = "publish"
	if hold {
		origin = release
		rep.LatencyFrom = "release"
	}
	lat := make([]time.Duration, 0, len(got))
	type perEvent struct {
		n    int
		last time.Duration
	}
	var events map[int]*perEvent
	if nsubs > 1 {
		events = make(map[int]*perEvent, rep.Accepted)
	}
	var lastArrival, firstArrival time.Duration = 0, -1
	for k, at := range got {
		i, ok := index[k.id]
		if !ok || k.sub < 0 || int(k.sub) >= nsubs {
			continue // not one of this run's deliveries
		}
		from := pub.records[i].start
		if hold {
			from = release
		}
		lat = append(lat, at-from)
		lastArrival = max(lastArrival, at)
		if firstArrival < 0 || at-from < firstArrival {
			firstArrival = at - from
		}
		if events != nil {
			e := events[i]
			if e == nil {
				e = &perEvent{}
				events[i] = e
			}
			e.n++
			e.last = max(e.last, at)
		}
	}
	rep.Expected = rep.Accepted * nsubs
	rep.Delivered = len(lat)
	rep.Undelivered = rep.Expected - rep.Delivered
	rep.TimedOut = rep.Undelivered > 0
	rep.Latency = percentiles(lat)
	if rep.Delivered > 0 {
		rep.DeliverSeconds = round((lastArrival - origin).Seconds(), 3)
		rep.DeliveredPerSec = rate(rep.Delivered, lastArrival-origin)
	}
	if events != nil {
		var done []time.Duration
		for i, e := range events {
			if e.n == nsubs {
				from := pub.records[i].start
				if hold {
					from = release
				}
				done = append(done, e.last-from)
			}
		}
		p := percentiles(done)
		rep.FanOut = &FanOut{CompleteP50MS: p.P50, CompleteMaxMS: p.Max, Complete: len(done), FirstMS: ms(max(firstArrival, 0))}
	}
	if rep.Baseline != nil && rep.Baseline.RequestsPerSec > 0 {
		rep.Ratio = round(rep.DeliveredPerSec/rep.Baseline.RequestsPerSec, 3)
	}
}

// cpuRatio fills in the CPU per event as a multiple of one raw exchange.
func (r *Report) cpuRatio() {
	if r.Baseline == nil || r.Baseline.CPUPerReqUS <= 0 || r.CPUPerEventUS <= 0 {
		return
	}
	r.CPURatio = round((r.CPUPerEventUS+r.DBCPUPerEventUS)/r.Baseline.CPUPerReqUS, 2)
}

// sampler records the highest VmRSS seen, every 50 ms.
type sampler struct {
	stopc chan struct{}
	done  chan float64
}

func startSampler() *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan float64, 1)}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		peak := 0.0
		for {
			rss, _ := readMem()
			peak = max(peak, rss)
			select {
			case <-s.stopc:
				s.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() float64 {
	close(s.stopc)
	return <-s.done
}

// progress draws a one-line bar on stderr while a terminal shows it.
type progress struct {
	stopc chan struct{}
	wg    sync.WaitGroup
}

func startProgress(stderr io.Writer, events, subs int, pub *publisher, rc *receiver) *progress {
	p := &progress{stopc: make(chan struct{})}
	if !isTerminal(stderr) {
		return p
	}
	total := int64(events * subs)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		prev, prevAt := int64(0), time.Now()
		for {
			select {
			case <-p.stopc:
				fmt.Fprint(stderr, "\r\033[K")
				return
			case <-t.C:
			}
			n, now := rc.unique.Load(), time.Now()
			perSec := float64(n-prev) / now.Sub(prevAt).Seconds()
			prev, prevAt = n, now
			const width = 30
			fill := int(min(n*width/max(total, 1), width))
			fmt.Fprintf(stderr, "\r\033[K[%s%s] delivered %d/%d  %.0f/s  accepted %d/%d",
				strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, total, perSec,
				pub.accepted.Load(), events)
		}
	}()
	return p
}

func (p *progress) stop() {
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	p.wg.Wait()
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/leader"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
	"github.com/xstatusbot/xstatusbot/bot/monitor"
	"github.com/xstatusbot/xstatusbot/bot/store"
	"github.com/xstatusbot/xstatusbot/bot/web"
	"github.com/xstatusbot/xstatusbot/probe"
)

// run is main without the process: tests call it with their own environment,
// streams and context. It returns the exit code.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return demo(ctx, stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprintln(stdout, "usage: xstatusbot [demo]\nSettings come from the environment and ./.env; see README.md.")
			return 0
		default:
			fmt.Fprintf(stderr, "xstatusbot: unknown command %q (want no argument, or demo)\n", args[0])
			return 2
		}
	}
	cfg, err := loadConfig(lookup, ".env")
	if err != nil {
		fmt.Fprintf(stderr, "xstatusbot: bad configuration, not starting:\n%s\n", indent(err))
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level}))
	if err := serve(ctx, cfg, stdout, log); err != nil {
		log.Error("xstatusbot stopped", "err", err)
		return 1
	}
	return 0
}

// indent lists the lines of a joined error as bullet points.
func indent(err error) string {
	return "  - " + strings.ReplaceAll(err.Error(), "\n", "\n  - ")
}

// serve runs the bot until ctx ends: it is the one place that builds the
// adapters and wires the service together.
//
// Every replica probes, serves /healthz, /metrics and the status page; the
// one holding the leader lease also decides X's state, holds the chat
// platforms' connections and delivers (lead). Alone on SQLite it always leads.
func serve(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	started := time.Now()
	interval := monitor.Interval(cfg.Schedule, time.Now())
	store, lease, err := openStore(ctx, cfg, interval)
	if err != nil {
		return err
	}
	defer store.Close()

	set := metrics.NewSet() // the process's one set; /metrics adds the Go runtime's and the process's
	counters := metrics.New(set)
	terms := newTermMetrics(set)

	checker := &probe.Checker{
		Client:     &http.Client{Transport: probe.Transport()},
		Timeout:    cfg.ProbeTimeout,
		RetryDelay: cfg.ProbeRetryDelay,
		Interval:   interval, // every request and retry fits in 90% of it: no tick is skipped
		Slow:       cfg.ProbeSlow,
	}
	leader := &leader.Leader{Lease: lease, Clock: clock.System{}, TTL: cfg.LeaderLeaseTTL, Log: log, Metrics: counters}
	if f, ok := lease.(interface{ OnDeposed(func(error)) }); ok {
		f.OnDeposed(leader.Depose) // a write refused by the fence ends the term at once
	}
	// /healthz reports the backlog read every 5 s, never a query per request.
	backlog := &web.CachedBacklog{Store: store}
	backlog.Refresh(ctx)
	view := &deliveryView{Backlogger: backlog}
	var pub *history.Publisher
	var vantage bot.VantageStore
	if cfg.DatabaseURL != "" {
		// Alone (SQLite) there is nothing to vote over: the round decides alone,
		// without a write and a read of region rounds every round.
		vantage = store
	}
	// One tally for the process: /report adds to it at once, every round
	// reads back what the other replicas stored.
	people := crowd.NewTally(crowd.Rule{Reports: cfg.CrowdReports, Window: cfg.CrowdWindow})
	mon := monitor.New(monitor.Config{
		Probe:       func(ctx context.Context) probe.Round { return checker.Round(ctx, cfg.Targets, cfg.Controls) },
		Tracker:     probe.Tracker{DownAfter: cfg.ProbeDownAfter, UpAfter: cfg.ProbeUpAfter},
		Store:       store,
		Log:         log,
		Metrics:     counters,
		Changed:     view.Wake,
		AfterRound:  func() { pub.Poke() }, // the public board follows every round, without blocking it
		FlapChanges: cfg.FlapChanges,
		FlapWindow:  cfg.FlapWindow,
		Region:      cfg.ProbeRegion,
		Vantage:     vantage,
		Fresh:       2 * interval, // the vote hears the regions whose last round is at most two intervals old
		Leading:     leader.Epoch, // only the leader decides; a follower follows the saved state
		Crowd:       people,
		Reports:     store,
		Alone:       cfg.DatabaseURL == "", // every /report passes through this process's tally
	})
	if err := mon.Load(ctx); err != nil {
		return err
	}
	pub = history.NewPublisher(store, pageSource(cfg, mon), clock.System{})
	pub.Every = interval // the page and /status say how often X is checked
	svc := command.NewService(store, store, time.Now, log, command.WithBoard(pub.Board), command.WithRegions(mon.Regions),
		command.WithLiveState(mon), command.WithSubscriptionCap(cfg.MaxSubscriptionsPerUser), command.WithReports(store, people))
	deps := adapterkit.Deps{
		Handler:  svc,
		Clock:    clock.System{},
		Delivery: adapterkit.DeliverySettings{MaxAge: cfg.DeliveryMaxAge, MaxAttempts: cfg.DeliveryAttempts, Workers: cfg.DeliveryWorkers},
		Stdout:   stdout,
		// One limiter for the process: a person's budget outlives a change of leader.
		Commands: command.NewLimiter(command.DefaultLimits(), clock.System{}),
	}

	grace := 2*cfg.ProbeTimeout + cfg.ProbeRetryDelay + time.Second
	runners := []func(context.Context) error{
		func(ctx context.Context) error { pub.Run(ctx, log); return nil },
		func(ctx context.Context) error { backlog.Run(ctx); return nil },
		func(ctx context.Context) error {
			return leader.Run(ctx, func(ctx context.Context) error {
				return lead(ctx, cfg, store, deps, terms, view, leader.Fence, counters, log)
			})
		},
	}
	if cfg.HTTPAddr != "off" {
		ops := web.Handler(mon, view, leader, 3*interval, set)
		runners = append(runners, func(ctx context.Context) error { return web.Serve(ctx, cfg.HTTPAddr, ops, pub, log) })
	}
	if cfg.StatusAddr != "off" {
		// The public page alone: /healthz and /metrics stay on HTTP_ADDR.
		runners = append(runners, func(ctx context.Context) error { return web.ServePage(ctx, cfg.StatusAddr, pub, log) })
	}

	// Any runner failing (a rejected token, a port in use) stops the whole bot.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wg := runAll(ctx, cancel, runners)

	db := cfg.DBPath
	if cfg.DatabaseURL != "" {
		db = "postgres"
	}
	log.Info("xstatusbot started", "targets", len(cfg.Targets), "controls", len(cfg.Controls), "schedule", cfg.ProbeSchedule,
		"db", db, "startup", time.Since(started).Round(time.Microsecond))
	first := true
	pace := monitor.Pace{Schedule: cfg.Schedule, ConfirmDelay: cfg.ProbeConfirmDelay, Clock: clock.System{}, Log: log,
		// Room for two rounds that say nothing (the own network check failing) on top of the hysteresis.
		MaxConfirm: max(cfg.ProbeDownAfter, cfg.ProbeUpAfter) + 1}
	monitor.RunSchedule(ctx, pace, func() bool {
		// A round runs to its end even during shutdown (bounded by grace), so
		// a stop never records timeouts that were only our own cancellation.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer rcancel()
		if first {
			first = false
			log.Info("first probe round starting", "after_start", time.Since(started).Round(time.Microsecond))
		}
		if err := mon.RunRound(rctx); err != nil {
			log.Error("probe round", "err", err)
		}
		return mon.Undecided()
	}, grace)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("xstatusbot stopped cleanly")
	return nil
}

// lead is the leader's work for one term: the chat platforms' connections
// (only one replica may poll Telegram or hold the Discord gateway) and
// delivery. It ends when the term does, or when a platform fails for good.
func lead(ctx context.Context, cfg Config, store storage, deps adapterkit.Deps, terms *termMetrics, view *deliveryView, fence func(time.Time) error, counters *metrics.Metrics, log *slog.Logger) error {
	// Adapters are built again for each term; their metrics go with the term.
	deps.Metrics = terms.begin()
	defer terms.end(deps.Metrics)
	deps.Fence = fence // command answers too: a replica woken after its term sends nothing
	adapters, err := buildAdapters(ctx, cfg, store, deps, log)
	if err != nil {
		return err
	}
	channels, runners := adapters.channels, adapters.runners
	disp := delivery.NewDispatcher(store, channels, clock.System{}, log, counters)
	disp.ShutdownGrace = cfg.DeliveryShutdownGrace
	disp.Working = budget
	disp.Fence = fence
	disp.BacklogSource = view.Backlogger // the reading /healthz shows, not a second count
	if backlog, err := store.Backlog(ctx); err == nil {
		for p, b := range backlog {
			if !slices.ContainsFunc(channels, func(c delivery.Channel) bool { return c.Platform == p }) {
				log.Warn("alerts are waiting for a platform that is not configured; they are sent once it is",
					"platform", p, "pending", b.Pending)
			}
		}
	}
	view.set(disp, adapters.shards)
	defer view.set(nil, nil)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runners = append(runners, func(ctx context.Context) error { disp.Run(ctx); return nil })
	runAll(ctx, cancel, runners).Wait()
	return context.Cause(ctx)
}

// runAll starts each runner; the first to fail cancels ctx with its error.
func runAll(ctx context.Context, cancel context.CancelCauseFunc, runners []func(context.Context) error) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	return &wg
}

// deliveryView is /healthz's and the monitor's view of the current term's
// dispatcher: none on a follower. The backlog is the database's on all,
// read every few seconds.
type deliveryView struct {
	Backlogger interface {
		Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error)
	}
	mu     sync.Mutex
	disp   *delivery.Dispatcher
	shards map[bot.Platform]func() []bot.ShardHealth
}

func (d *deliveryView) set(disp *delivery.Dispatcher, shards map[bot.Platform]func() []bot.ShardHealth) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.disp, d.shards = disp, shards
}

func (d *deliveryView) current() *delivery.Dispatcher {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.disp
}

// Wake tells the dispatcher, if this replica leads, that rows were queued,
// and has /healthz's backlog read again.
func (d *deliveryView) Wake() {
	if p, ok := d.Backlogger.(interface{ Poke() }); ok {
		p.Poke()
	}
	if disp := d.current(); disp != nil {
		disp.Wake()
	}
}

// Platforms is delivery's view of each platform, with the gateway shards
// of the adapters that report them.
func (d *deliveryView) Platforms() map[bot.Platform]bot.PlatformHealth {
	d.mu.Lock()
	disp, shards := d.disp, d.shards
	d.mu.Unlock()
	if disp == nil {
		return nil
	}
	ps := disp.Platforms()
	for p, h := range ps {
		if report := shards[p]; report != nil {
			h.Shards = report()
			ps[p] = h
		}
	}
	return ps
}

func (d *deliveryView) Backlog(ctx context.Context) (map[bot.Platform]bot.Backlog, error) {
	return d.Backlogger.Backlog(ctx)
}

// openStore opens the database the settings name, and the leader lease
// that goes with it: PostgreSQL's, shared by the replicas on it, or a
// lease always held when the bot runs alone on SQLite.
func openStore(ctx context.Context, cfg Config, interval time.Duration) (storage, bot.Lease, error) {
	gap := 3 * interval // rounds further apart than that: the bot was not running
	if cfg.DatabaseURL != "" {
		return openPostgres(ctx, cfg, gap)
	}
	db, err := store.OpenSQLite(ctx, cfg.DBPath, store.WithRetention(cfg.DBRoundRetention),
		store.WithOutboxRetention(cfg.DBOutboxRetention), store.WithSpanGap(gap))
	if err != nil {
		return nil, nil, err
	}
	return db, leader.SoloLease{}, nil
}

// storage is what serve needs of a database.
type storage interface {
	bot.Store
	command.FixedStore
	Close() error
}

// termMetrics holds the metrics of one leadership term's adapters in a set
// of the term's own, shown after the process's set while the term lasts:
// the next term's adapters start a fresh set.
type termMetrics struct {
	mu  sync.Mutex
	set *vm.Set // nil between terms
}

// newTermMetrics adds the current term's metrics to what process writes.
func newTermMetrics(process *vm.Set) *termMetrics {
	t := &termMetrics{}
	process.RegisterMetricsWriter(t.write)
	return t
}

// begin starts a term: its adapters make their metrics in the set returned.
func (t *termMetrics) begin() *vm.Set {
	set := vm.NewSet()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set = set
	return set
}

// end removes the metrics of the term whose set is set.
func (t *termMetrics) end(set *vm.Set) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set == set {
		t.set = nil
	}
}

func (t *termMetrics) write(w io.Writer) {
	t.mu.Lock()
	set := t.set
	t.mu.Unlock()
	if set != nil {
		set.WritePrometheus(w)
	}
}

// boardSource is what the status page's board is built from.
type boardSource interface {
	Health(maxAge time.Duration) bot.Health
	LastRound() *probe.Round
}

// unnamedRegions is the monitor without its Regions: the page then has no
// "down from …" line, which would show host names to the public. The rest
// of what the board reads is the monitor's.
type unnamedRegions struct{ mon *monitor.Monitor }

func (u unnamedRegions) Health(maxAge time.Duration) bot.Health { return u.mon.Health(maxAge) }
func (u unnamedRegions) LastRound() *probe.Round                { return u.mon.LastRound() }
func (u unnamedRegions) Began() time.Time                       { return u.mon.Began() }
func (u unnamedRegions) Crowd() bot.Crowd                       { return u.mon.Crowd() }

// pageSource is mon for the public page, hiding the regions' names unless
// PROBE_REGION was set (the default region is the host name).
func pageSource(cfg Config, mon *monitor.Monitor) boardSource {
	if cfg.RegionNamed {
		return mon
	}
	return unnamedRegions{mon}
}

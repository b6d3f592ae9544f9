package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

// play saves rounds the way the monitor does (an incident opened by the
// first change away from up, closed by the recovery) and delivers every row
// after each round, recording what each chat got.
type play struct {
	t     *testing.T
	s     Store
	at    time.Time
	state probe.State
	since time.Time
	inc   *bot.Incident
	got   map[bot.ChatRef][]string // "kind:state" of each row delivered, in order
	sent  map[bot.ChatRef][]bot.Delivery
}

func newPlay(t *testing.T, s Store) *play {
	return &play{t: t, s: s, at: t0, state: probe.StateUp, since: t0, got: map[bot.ChatRef][]string{}, sent: map[bot.ChatRef][]bot.Delivery{}}
}

// to saves a round 30 s on that changes the state to st, announced.
func (p *play) to(st probe.State) {
	p.t.Helper()
	p.round(st, &bot.Change{}, nil)
}

// tick saves a round d on without a change.
func (p *play) tick(d time.Duration) {
	p.t.Helper()
	p.at = p.at.Add(d - 30*time.Second)
	p.round(p.state, nil, nil)
}

// round saves a round 30 s on leaving the state at st. A change gets its
// transition filled in (From, and To unless set); flap is saved if not nil.
func (p *play) round(st probe.State, change *bot.Change, flap *bot.Flap) {
	p.t.Helper()
	p.at = p.at.Add(30 * time.Second)
	from := p.state
	if st != from {
		p.state, p.since = st, p.at
	}
	snap := &bot.Snapshot{Round: probe.Round{Start: p.at, Verdict: probe.Verdict(st)}, Status: probe.Status{State: st, Since: p.since}, Flap: flap}
	switch {
	case st != from && from == probe.StateUp:
		p.inc = &bot.Incident{Start: p.at, Worst: st}
		snap.Incident = p.inc
	case st != from && st == probe.StateUp && p.inc != nil:
		p.inc.End = p.at
		snap.Incident = p.inc
	case st != from && p.inc != nil:
		if st.Severity() > p.inc.Worst.Severity() {
			p.inc.Worst = st
		}
		snap.Incident = p.inc
	}
	if change != nil {
		change.Transition.From, change.Transition.At, change.Transition.Began = from, p.at, p.at
		if change.Transition.To == "" {
			change.Transition.To = st
		}
		snap.Change = change
	}
	if err := p.s.SaveRound(p.t.Context(), snap); err != nil {
		p.t.Fatal(err)
	}
	if snap.Incident != nil && !snap.Incident.Open() {
		p.inc = nil
	}
	p.deliver()
}

// deliver sends every due row, recording it and finishing it as sent.
func (p *play) deliver() {
	p.t.Helper()
	for _, pl := range []bot.Platform{tgPlatform, dcPlatform} {
		for {
			rows := due(p.t, p.s, pl, p.at)
			if len(rows) == 0 {
				break
			}
			for _, d := range rows {
				kind := string(d.Change.Kind)
				if kind == "" {
					kind = "change"
				}
				p.got[d.Chat] = append(p.got[d.Chat], kind+":"+string(d.Change.Transition.To))
				p.sent[d.Chat] = append(p.sent[d.Chat], d)
				finish(p.t, p.s, d.ID, bot.StatusSent, fmt.Sprintf("m-%d", d.ID), p.at)
			}
		}
	}
}

// want checks what each chat got, in order.
func (p *play) want(want map[bot.ChatRef][]string) {
	p.t.Helper()
	for c, w := range want {
		if got := p.got[c]; !slices.Equal(got, w) {
			p.t.Errorf("chat %s got %q, want %q", c.ID, got, w)
		}
	}
}

func setSettings(t *testing.T, s Store, c bot.ChatRef, change func(*bot.ChatSettings)) {
	t.Helper()
	if _, ok, err := s.UpdateSettings(t.Context(), c, change); err != nil || !ok {
		t.Fatalf("settings of %s: %v, %v", c, ok, err)
	}
}

func outagesOnly(cs *bot.ChatSettings) { cs.Level = bot.AlertsOutages }

func mutedUntil(at time.Time) func(*bot.ChatSettings) {
	return func(cs *bot.ChatSettings) { cs.MutedUntil = at }
}

func remindEvery(d time.Duration) func(*bot.ChatSettings) {
	return func(cs *bot.ChatSettings) { cs.RemindEvery = d }
}

const (
	up       = probe.StateUp
	down     = probe.StateDown
	degraded = probe.StateDegraded
)

// The rules of who gets which alert (README: who gets what), as the store's
// fan-out applies them.
var fanOutTests = []test{
	{"OutagesLevelSkipsDegradedAndItsRecovery", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		all, out := chat(tgPlatform, "all"), chat(dcPlatform, "outages")
		subscribe(t, s, all, out)
		setSettings(t, s, out, outagesOnly)
		p := newPlay(t, s)
		p.to(degraded)
		p.to(up)
		p.want(map[bot.ChatRef][]string{all: {"change:degraded", "change:up"}, out: nil})
		// down → degraded → down → up: the outages chat hears down once, then the recovery.
		p.to(down)
		p.to(degraded)
		p.to(down)
		p.to(up)
		p.want(map[bot.ChatRef][]string{
			all: {"change:degraded", "change:up", "change:down", "change:degraded", "change:down", "change:up"},
			out: {"change:down", "change:up"},
		})
	}},
	{"RecoveryFollowsTheAlertNotTheSettings", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		heard, muted, switched := chat(tgPlatform, "heard"), chat(tgPlatform, "muted"), chat(tgPlatform, "switched")
		subscribe(t, s, heard, muted, switched)
		p := newPlay(t, s)
		setSettings(t, s, muted, mutedUntil(p.at.Add(time.Hour)))
		p.to(degraded)
		// Settings change after the alert went out: the recovery still comes.
		setSettings(t, s, heard, mutedUntil(p.at.Add(time.Hour)))
		setSettings(t, s, switched, outagesOnly)
		p.to(up)
		// Muted during the whole incident: no alert, so no recovery.
		p.want(map[bot.ChatRef][]string{heard: {"change:degraded", "change:up"}, switched: {"change:degraded", "change:up"}, muted: nil})
		if h := p.sent[heard]; h[1].ReplyTo != fmt.Sprintf("m-%d", h[0].ID) {
			t.Errorf("recovery replies to %q, want the alert m-%d", h[1].ReplyTo, h[0].ID)
		}
		// The mutes run out with X up as the chats last heard: nothing more.
		p.tick(time.Hour)
		p.tick(time.Minute)
		p.want(map[bot.ChatRef][]string{heard: {"change:degraded", "change:up"}, switched: {"change:degraded", "change:up"}, muted: nil})
		if cs, _, err := s.Settings(t.Context(), muted); err != nil || !cs.MutedUntil.IsZero() {
			t.Errorf("a mute that ran out is still set: %+v, %v", cs, err)
		}
	}},
	{"MuteEndTellsWhatChangedOnce", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		c, same := chat(tgPlatform, "1"), chat(tgPlatform, "2")
		subscribe(t, s, c, same)
		p := newPlay(t, s)
		setSettings(t, s, c, mutedUntil(p.at.Add(30*time.Minute)))
		p.to(down)
		p.want(map[bot.ChatRef][]string{c: nil, same: {"change:down"}})
		setSettings(t, s, same, mutedUntil(p.at.Add(10*time.Minute)))
		p.tick(31 * time.Minute)
		p.tick(time.Minute)
		// c missed the outage: one catch-up. same heard of it: nothing.
		p.want(map[bot.ChatRef][]string{c: {"unmuted:down"}, same: {"change:down"}})
		if d := p.sent[c][0]; d.Change.Transition.From != up || !d.Change.Transition.Began.Equal(p.since) {
			t.Errorf("catch-up %+v, want from up, began when X went down", d.Change.Transition)
		}
		// Having heard of the outage, the chat gets its recovery.
		p.to(up)
		p.want(map[bot.ChatRef][]string{c: {"unmuted:down", "change:up"}, same: {"change:down", "change:up"}})
	}},
	{"SubscribedDuringAnOutageGetsTheRecovery", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		early := chat(tgPlatform, "early")
		subscribe(t, s, early)
		p := newPlay(t, s)
		p.to(down)
		late, lateOut := chat(tgPlatform, "late"), chat(tgPlatform, "late-outages")
		for _, c := range []bot.ChatRef{late, lateOut} {
			if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", CreatedAt: p.at.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		setSettings(t, s, lateOut, outagesOnly)
		p.to(up)
		p.want(map[bot.ChatRef][]string{early: {"change:down", "change:up"}, late: {"change:up"}, lateOut: {"change:up"}})
		// A degraded spell: a chat on outages that subscribed during it would
		// not have heard of it, so gets no recovery.
		p.to(degraded)
		late2, late2Out := chat(tgPlatform, "late2"), chat(tgPlatform, "late2-outages")
		for _, c := range []bot.ChatRef{late2, late2Out} {
			if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", CreatedAt: p.at.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		setSettings(t, s, late2Out, outagesOnly)
		p.to(up)
		p.want(map[bot.ChatRef][]string{late2: {"change:up"}, late2Out: nil, lateOut: {"change:up"}})
	}},
	{"RemindersAtTheirCadenceStopAtRecovery", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		quarter, hourly, none, muted := chat(tgPlatform, "quarter"), chat(tgPlatform, "hourly"), chat(tgPlatform, "none"), chat(tgPlatform, "muted")
		subscribe(t, s, quarter, hourly, none, muted)
		setSettings(t, s, quarter, remindEvery(15*time.Minute))
		setSettings(t, s, hourly, remindEvery(time.Hour))
		setSettings(t, s, muted, remindEvery(15*time.Minute))
		p := newPlay(t, s)
		p.to(down)
		setSettings(t, s, muted, mutedUntil(p.at.Add(40*time.Minute)))
		for range 12 { // an hour, a round every 5 minutes
			p.tick(5 * time.Minute)
		}
		r := []string{"change:down", "reminder:down", "reminder:down", "reminder:down", "reminder:down"}
		p.want(map[bot.ChatRef][]string{quarter: r, hourly: r[:2], none: r[:1],
			muted: {"change:down", "reminder:down", "reminder:down"}}) // at 40 and 55 min
		if d := p.sent[hourly][1]; d.ReplyTo != fmt.Sprintf("m-%d", p.sent[hourly][0].ID) || !d.Change.Transition.Began.Equal(p.since) {
			t.Errorf("reminder %+v replying to %q: want a reply to the alert, began when X went down", d.Change.Transition, d.ReplyTo)
		}
		p.to(up)
		for range 8 {
			p.tick(15 * time.Minute)
		}
		p.want(map[bot.ChatRef][]string{quarter: append(r, "change:up"), hourly: {"change:down", "reminder:down", "change:up"}, none: {"change:down", "change:up"}})
	}},
	{"RemindersDoNotPileUpAcrossARestart", func(t *testing.T, b Backend) {
		s, db := fresh(t, b, Defaults())
		c := chat(tgPlatform, "1")
		subscribe(t, s, c)
		setSettings(t, s, c, remindEvery(15*time.Minute))
		p := newPlay(t, s)
		p.to(down)
		for range 4 {
			p.tick(5 * time.Minute)
		}
		p.want(map[bot.ChatRef][]string{c: {"change:down", "reminder:down"}})
		// Stopped for 5 hours while X stays down.
		p.s = reopen(t, b, s, db, Defaults())
		p.tick(5 * time.Hour)
		p.tick(5 * time.Minute)
		p.tick(5 * time.Minute)
		p.want(map[bot.ChatRef][]string{c: {"change:down", "reminder:down", "reminder:down"}})
		p.tick(5 * time.Minute)
		p.want(map[bot.ChatRef][]string{c: {"change:down", "reminder:down", "reminder:down", "reminder:down"}})
	}},
	{"UnstableAndSettled", func(t *testing.T, b Backend) {
		s, _ := fresh(t, b, Defaults())
		ctx := t.Context()
		all, out, mutedLater, remind := chat(tgPlatform, "all"), chat(tgPlatform, "outages"), chat(tgPlatform, "muted-later"), chat(dcPlatform, "remind")
		subscribe(t, s, all, out, mutedLater, remind)
		setSettings(t, s, out, outagesOnly)
		setSettings(t, s, remind, remindEvery(15*time.Minute))
		p := newPlay(t, s)
		p.to(down)
		p.to(up)
		p.to(down)
		flapSince := p.at.Add(-time.Minute)
		// Back up, but that makes too many changes: one unstable message, with the worst state.
		p.round(up, &bot.Change{Kind: bot.ChangeUnstable, Flaps: 4, FlapSince: flapSince, Transition: probe.Transition{To: down}},
			&bot.Flap{Since: flapSince, Changes: 4, Worst: down})
		p.round(down, nil, nil) // counted by the monitor, not announced
		wave := []string{"change:down", "change:up", "change:down", "unstable:down"}
		p.want(map[bot.ChatRef][]string{all: wave, out: wave, mutedLater: wave, remind: wave})
		if f := load(t, s).Flap; !f.Unstable() || f.ChangeID == 0 {
			t.Fatalf("flap state %+v", f)
		}
		setSettings(t, s, mutedLater, mutedUntil(p.at.Add(2*time.Hour)))
		// While X flaps, no reminders: the unstable message stands for them.
		for range 6 {
			p.tick(5 * time.Minute)
		}
		p.want(map[bot.ChatRef][]string{remind: wave})
		newcomer, mutedNewcomer := chat(tgPlatform, "new"), chat(tgPlatform, "new-muted")
		for _, c := range []bot.ChatRef{newcomer, mutedNewcomer} {
			if _, err := s.Subscribe(ctx, bot.Subscription{Chat: c, Kind: "private", CreatedAt: p.at}); err != nil {
				t.Fatal(err)
			}
		}
		setSettings(t, s, mutedNewcomer, mutedUntil(p.at.Add(2*time.Hour)))
		// Settled down: the chats that got the unstable message, muted since
		// or not, and those not muted whose level covers down.
		p.round(down, &bot.Change{Kind: bot.ChangeSettled, Flaps: 5, FlapSince: flapSince}, &bot.Flap{})
		settled := append(slices.Clone(wave), "settled:down")
		p.want(map[bot.ChatRef][]string{all: settled, out: settled, mutedLater: settled, remind: settled,
			newcomer: {"settled:down"}, mutedNewcomer: nil})
		if d := p.sent[all][4]; d.Change.Flaps != 5 || !d.Change.FlapSince.Equal(flapSince) {
			t.Errorf("settled row %+v", d.Change)
		}
		if f := load(t, s).Flap; f.Unstable() {
			t.Fatalf("flap state after settling %+v", f)
		}
		// Stable again, reminders resume from the settled message.
		p.tick(15 * time.Minute)
		p.want(map[bot.ChatRef][]string{remind: append(settled, "reminder:down"), all: settled})
	}},
}

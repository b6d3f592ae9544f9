package command

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
	"golang.org/x/time/rate"
)

// Limits is how fast one person may send commands, across every chat
// of every platform: Burst at once, then one every Every. Beyond that their
// commands are dropped, with at most one "slow down" note per NoteEvery.
type Limits struct {
	Burst     int
	Every     time.Duration
	NoteEvery time.Duration
}

// DefaultLimits: three commands at once, then one every 2 s; one
// note a minute.
func DefaultLimits() Limits {
	return Limits{Burst: 3, Every: 2 * time.Second, NoteEvery: time.Minute}
}

// Admission is what the command limiter decides for one command.
type Admission int

const (
	// Admitted: answer the command.
	Admitted Admission = iota
	// SlowDown: drop the command and answer with the slow-down note.
	SlowDown
	// Dropped: drop the command silently (the note was given lately).
	Dropped
)

// Limiter holds each person's command budget and the answers pending
// per chat and command. It is shared by every adapter; a nil limiter admits
// everything.
type Limiter struct {
	limits Limits
	clock  clock.Clock

	mu      sync.Mutex
	people  map[string]*person
	sweepAt time.Time
	pending map[pendingKey]struct{}
}

type person struct {
	budget *rate.Limiter
	seen   time.Time // last command
	noted  time.Time // last slow-down note
}

type pendingKey struct {
	chat bot.ChatRef
	name string
}

// NewLimiter builds a limiter; zero fields of l take the defaults.
func NewLimiter(l Limits, clk clock.Clock) *Limiter {
	d := DefaultLimits()
	if l.Burst <= 0 {
		l.Burst = d.Burst
	}
	if l.Every <= 0 {
		l.Every = d.Every
	}
	if l.NoteEvery <= 0 {
		l.NoteEvery = d.NoteEvery
	}
	clk = clock.Or(clk)
	return &Limiter{limits: l, clock: clk, people: map[string]*person{}, pending: map[pendingKey]struct{}{}}
}

// idle is how long a person stays remembered after their last command: by
// then their budget is full again and their note may be given again, so
// forgetting them changes nothing.
func (l *Limiter) idle() time.Duration {
	return max(time.Duration(l.limits.Burst)*l.limits.Every, l.limits.NoteEvery)
}

// Admit charges one command to its sender (Command.User, on the chat's
// platform; the chat itself when the sender is unknown).
func (l *Limiter) Admit(cmd Command) Admission {
	if l == nil || ignored(cmd) {
		return Admitted // the service stays silent: nothing to charge
	}
	key := string(cmd.Chat.Platform) + "\x00"
	if cmd.User != "" {
		key += "user:" + cmd.User
	} else {
		key += "chat:" + cmd.Chat.ID
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	p := l.people[key]
	if p == nil {
		p = &person{budget: rate.NewLimiter(rate.Every(l.limits.Every), l.limits.Burst)}
		l.people[key] = p
	}
	p.seen = now
	if p.budget.AllowN(now, 1) {
		return Admitted
	}
	if p.noted.IsZero() || now.Sub(p.noted) >= l.limits.NoteEvery {
		p.noted = now
		return SlowDown
	}
	return Dropped
}

// ignored reports whether the service ignores cmd: an unknown command in a
// shared chat is likely another bot's.
func ignored(cmd Command) bool {
	name := strings.ToLower(strings.TrimPrefix(cmd.Name, "/"))
	return !cmd.Private && name != "start" && !slices.Contains(Names, name)
}

// sweep forgets the people idle for long, at most once per idle period, so
// the map holds only the people heard from lately. The caller holds mu.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.sweepAt) {
		return
	}
	idle := l.idle()
	for k, p := range l.people {
		if now.Sub(p.seen) >= idle {
			delete(l.people, k)
		}
	}
	l.sweepAt = now.Add(idle)
}

// People is how many people the limiter remembers.
func (l *Limiter) People() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.people)
}

// Claim marks an answer to command name in chat as pending. ok is false
// when one is pending already: the new request folds into it, and since a
// pending answer is rendered when it is sent, the asker still gets the
// freshest one. Call release once the answer is rendered.
func (l *Limiter) Claim(chat bot.ChatRef, name string) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	k := pendingKey{chat: chat, name: name}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.pending[k]; busy {
		return nil, false
	}
	l.pending[k] = struct{}{}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.pending, k)
			l.mu.Unlock()
		})
	}, true
}

// Coalesced reports whether answers to a command fold together while one is
// pending in a chat: the commands that only read, whose answer is the same
// for everyone asking.
func Coalesced(name string) bool {
	return name == "status" || name == "history" || name == "help" || name == "start"
}

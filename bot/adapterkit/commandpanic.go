package adapterkit

import (
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/metrics"
)

// Panics counts the panics an adapter recovered while handling one update,
// interaction or command answer: each is logged and skipped, and the
// process goes on. A nil *Panics counts nothing.
type Panics struct {
	n       atomic.Int64
	counter *vm.Counter // nil without a set
}

// NewPanics builds the counter of platform p as
// xstatusbot_handler_panics_total{platform=p} in set (which may be nil).
// Built twice in one set, both share the one counter.
func NewPanics(set *vm.Set, p bot.Platform) *Panics {
	var c *vm.Counter
	if set != nil {
		c = set.GetOrCreateCounter(metrics.Name("xstatusbot_handler_panics_total", "platform", string(p)))
	}
	return &Panics{counter: c}
}

// Inc counts one recovered panic.
func (p *Panics) Inc() {
	if p == nil {
		return
	}
	p.n.Add(1)
	if p.counter != nil {
		p.counter.Inc()
	}
}

// Count is how many panics were recovered.
func (p *Panics) Count() int64 {
	if p == nil {
		return 0
	}
	return p.n.Load()
}

package adapterkit

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xstatusbot/xstatusbot/bot"
)

// Panics counts the panics an adapter recovered while handling one update,
// interaction or command answer: each is logged and skipped, and the
// process goes on. A nil *Panics counts nothing.
type Panics struct {
	n       atomic.Int64
	counter prometheus.Counter
}

// NewPanics builds the counter of platform p and registers it as
// xstatusbot_handler_panics_total{platform=p} (reg may be nil).
func NewPanics(reg prometheus.Registerer, p bot.Platform) *Panics {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "xstatusbot_handler_panics_total",
		Help:        "Panics recovered while handling one update, interaction or command answer; each was skipped.",
		ConstLabels: prometheus.Labels{"platform": string(p)},
	})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				c = already.ExistingCollector.(prometheus.Counter)
			}
		}
	}
	return &Panics{counter: c}
}

// Inc counts one recovered panic.
func (p *Panics) Inc() {
	if p == nil {
		return
	}
	p.n.Add(1)
	p.counter.Inc()
}

// Count is how many panics were recovered.
func (p *Panics) Count() int64 {
	if p == nil {
		return 0
	}
	return p.n.Load()
}

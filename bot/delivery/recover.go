package delivery

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/xstatusbot/xstatusbot/bot"
)

// survive, deferred by deliver, turns a panic while one chat's rows were
// rendered or sent into an outcome: the rows still pending are expired
// with the panic as reason (a row that panics once would panic again after
// every restart), the panic is counted and logged with its stack, and the
// worker, the loop and the process go on.
func (d *Dispatcher) survive(ctx context.Context, c *lane, rows []bot.Delivery) {
	r := recover()
	if r == nil {
		return
	}
	chat := rows[0].Chat.ID
	reason := bot.Truncate(fmt.Sprintf("panic while rendering or sending: %v", r), 500)
	d.metrics.RecoveredPanic("delivery")
	d.metrics.Send(c.Platform, "panic", 0)
	d.log.Error("panic while delivering to one chat: its rows are failed, delivery goes on",
		"platform", c.Platform, "chat", chat, "err", reason, "stack", string(debug.Stack()))
	defer func() {
		if r := recover(); r != nil { // the store itself panicked: the row stays pending
			d.log.Error("panic while recording a panicked row", "platform", c.Platform, "chat", chat, "err", fmt.Sprint(r))
		}
	}()
	d.record(ctx, c, chat, bot.Outcome{IDs: idsOf(rows), Status: bot.StatusExpired, Reason: reason, At: d.now()})
}

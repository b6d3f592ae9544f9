package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"golang.org/x/time/rate"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/clock"
)

// Telegram's broadcast limits (https://core.telegram.org/bots/api#paid-broadcasts).
const (
	// FreeRate is about the most messages per second a bot may send across
	// chats without paid broadcast. TELEGRAM_RATE_LIMIT may not exceed it
	// while TELEGRAM_PAID_BROADCAST is off.
	FreeRate = 30
	// PaidRate is the most with paid broadcast: the bound of
	// TELEGRAM_RATE_LIMIT while TELEGRAM_PAID_BROADCAST is on.
	PaidRate = 1000
)

// paidPause is how long alerts go out unpaid after Telegram refused a paid
// broadcast (a Stars balance too low, paid broadcasts not enabled): long
// enough not to ask again with every alert of a fan-out, short enough that
// a topped-up balance is used within minutes.
const paidPause = 10 * time.Minute

// unpaidAlertRate paces alerts while paid broadcast is paused. The gate may
// let up to PaidRate through, Telegram takes about FreeRate without paying,
// and command answers need room beside the alerts: without pacing, every
// alert above the free rate would be a 429.
const unpaidAlertRate = 25

// paidBroadcast is TELEGRAM_PAID_BROADCAST=on: alerts ask for paid
// broadcast, except during a pause after Telegram refused it.
type paidBroadcast struct {
	pause time.Duration
	// pace spaces unpaid alerts during a pause, at unpaidAlertRate.
	pace *rate.Limiter

	mu     sync.Mutex
	until  time.Time // paused until then; zero: not paused
	pauses int64     // pauses begun since start: refusals acted on
}

func newPaidBroadcast() *paidBroadcast {
	return &paidBroadcast{pause: paidPause, pace: rate.NewLimiter(unpaidAlertRate, 1)}
}

// sendAlert sends an alert, with allow_paid_broadcast when paid broadcast is
// on and not paused.
//
// A paid send refused with a 4xx that may be about paying (any 4xx but 429
// that no other rule explains: Telegram does not document the text it
// answers when the bot's Stars run out) delivered nothing, so the alert is
// sent again at once without the flag: no alert waits or is lost for want
// of Stars. Paid broadcast is then paused for paidPause, with one error
// logged, when Telegram's answer speaks of Stars, a balance or paid
// broadcast, or when the unpaid send went through (the flag was the
// difference). An unpaid send failing too is this message's own failure
// and is returned as such.
func (a *Bot) sendAlert(ctx context.Context, chatID string, m bot.Message) (string, error) {
	p := a.paid
	if p == nil {
		return a.send(ctx, chatID, m, 0, false)
	}
	if p.paused(a.clock.Now(), a.log) {
		return a.sendUnpaid(ctx, chatID, m)
	}
	id, err := a.send(ctx, chatID, m, 0, true)
	if err == nil || !mayBePaidRefusal(err) {
		return id, err
	}
	id, uerr := a.sendUnpaid(ctx, chatID, m)
	if paidRefusal(err) || uerr == nil {
		a.pausePaid(err, chatID)
	}
	return id, uerr
}

// sendUnpaid sends an alert without the flag, paced at unpaidAlertRate.
func (a *Bot) sendUnpaid(ctx context.Context, chatID string, m bot.Message) (string, error) {
	now := a.clock.Now()
	r := a.paid.pace.ReserveN(now, 1)
	if !clock.Sleep(ctx, a.clock, r.DelayFrom(now)) {
		r.CancelAt(a.clock.Now())
		return "", &bot.SendError{Class: bot.Unavailable, Err: fmt.Errorf("send to chat %s: %w", chatID, ctx.Err())}
	}
	return a.send(ctx, chatID, m, 0, false)
}

// paused reports whether alerts go out unpaid now. The first call after a
// pause ends logs that paid broadcast is tried again.
func (p *paidBroadcast) paused(now time.Time, log *slog.Logger) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until.IsZero() {
		return false
	}
	if now.Before(p.until) {
		return true
	}
	p.until = time.Time{}
	log.Info("telegram: trying paid broadcast again")
	return false
}

// pausePaid pauses paid broadcast after Telegram refused it (err), once:
// refusals racing in from other sends of the fan-out add nothing.
func (a *Bot) pausePaid(err error, chatID string) {
	p := a.paid
	now := a.clock.Now()
	p.mu.Lock()
	if now.Before(p.until) {
		p.mu.Unlock()
		return
	}
	p.until = now.Add(p.pause)
	p.pauses++
	until := p.until
	p.mu.Unlock()
	a.log.Error("telegram: paid broadcast refused; alerts go out unpaid (at most 25 a second) until the pause ends. "+
		"Top up the bot's Stars balance, or check Paid Broadcasts in @BotFather, or set TELEGRAM_PAID_BROADCAST=off",
		"err", err, "chat", chatID, "pause", p.pause, "until", until.UTC().Format(time.RFC3339))
}

// state reports whether alerts go out unpaid at now because Telegram
// refused a paid broadcast, and how many such pauses began since start.
// Unlike paused, it does not end a pause that is over.
func (p *paidBroadcast) state(now time.Time) (paused bool, pauses int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Before(p.until), p.pauses
}

// WritePaidMetrics writes, when paid broadcast is on,
// xstatusbot_telegram_paid_broadcast_paused (1 while alerts go out unpaid
// after Telegram refused to bill them: Stars ran out) and
// xstatusbot_telegram_paid_broadcast_pauses_total (pauses begun since start),
// read at every scrape; nothing when it is off.
func WritePaidMetrics(w io.Writer, a *Bot) {
	if a.paid == nil {
		return
	}
	const paused, pauses = "xstatusbot_telegram_paid_broadcast_paused", "xstatusbot_telegram_paid_broadcast_pauses_total"
	on, n := a.paid.state(a.clock.Now())
	v := 0
	if on {
		v = 1
	}
	vm.WriteMetadataIfNeeded(w, paused, "gauge")
	fmt.Fprintf(w, "%s %d\n", paused, v)
	vm.WriteMetadataIfNeeded(w, pauses, "counter")
	fmt.Fprintf(w, "%s %d\n", pauses, n)
}

// mayBePaidRefusal reports whether a paid send's failure could be Telegram
// refusing to bill it: a Bot API 4xx, not a 429, that classify left as this
// message's retryable fault (no chat gone, migrated or without rights).
func mayBePaidRefusal(err error) bool {
	var ce *callError
	if bot.ClassOf(err).Class != bot.Retryable || !errors.As(err, &ce) || !ce.api {
		return false
	}
	return ce.Code >= 400 && ce.Code < 500 && ce.Code != http.StatusTooManyRequests
}

// paidRefusal recognises a refusal that names what paid broadcast needs:
// Stars, a balance (MTProto's BALANCE_TOO_LOW), or paid broadcast itself.
func paidRefusal(err error) bool {
	var ce *callError
	if !errors.As(err, &ce) {
		return false
	}
	desc := strings.ToLower(ce.Description)
	for _, s := range []string{"balance", "stars", "paid broadcast", "paid_broadcast"} {
		if strings.Contains(desc, s) {
			return true
		}
	}
	return false
}

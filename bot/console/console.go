// Package console is the tokenless notifier: it writes each alert to a stream
// (stdout by default), one readable block per change.
package console

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
)

// ChatID is the one "chat" the console has.
const ChatID = "stdout"

var _ bot.Notifier = (*Notifier)(nil)

// Notifier writes alerts to w.
type Notifier struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	n   int
}

// New returns a console notifier writing to w.
func New(w io.Writer, now func() time.Time) *Notifier {
	if now == nil {
		now = time.Now
	}
	return &Notifier{w: w, now: now}
}

// Send prints m as "time [state] title" followed by its lines and fields, indented.
func (n *Notifier) Send(_ context.Context, _ string, m bot.Message) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.n++
	text := strings.ReplaceAll(m.PlainText(), "\n", "\n    ")
	if _, err := fmt.Fprintf(n.w, "%s [%s] %s\n", n.now().UTC().Format(time.RFC3339), label(m.Severity), text); err != nil {
		return "", fmt.Errorf("write alert to console: %w", err)
	}
	return strconv.Itoa(n.n), nil
}

func label(s bot.Severity) string {
	switch s {
	case bot.SeverityDown:
		return "DOWN"
	case bot.SeverityDegraded:
		return "DEGRADED"
	case bot.SeverityUp:
		return "UP"
	default:
		return "INFO"
	}
}

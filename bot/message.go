package bot

import (
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/probe"
)

// Severity tells adapters how to style a message (colour, icon, sound).
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityUp
	SeverityDegraded
	SeverityDown
)

// Field is a labelled value, e.g. a failing component and its cause.
type Field struct {
	Name, Value string
}

// Message is platform-neutral content. The bot writes every word of it (see
// text.go); adapters only format it for their platform and escape it.
type Message struct {
	Severity Severity
	Title    string
	// Lines are paragraphs of plain text.
	Lines  []string
	Fields []Field
	// Time is when the event happened; adapters may render it natively.
	Time time.Time
	// Silent asks for a notification without sound (Telegram disable_notification).
	Silent bool
	// ReplyTo is the platform id of an earlier message this one answers.
	ReplyTo string
	// Private asks that only the person who ran the command sees the answer
	// (Discord ephemeral); adapters without the notion ignore it.
	Private bool
	// Buttons are rows of choices under the message (Telegram inline
	// keyboard); pressing one runs Data as a command line in that chat, and
	// the answer replaces the message. Adapters without buttons ignore them.
	Buttons [][]Button
	// Event is the alert as data, for adapters that send data rather than
	// text (JSON webhooks); nil for command answers.
	Event *Event
}

// Button is one choice under a message.
type Button struct {
	Label string
	// Data is the command line the button runs ("/alerts outages"), at most
	// 64 bytes (Telegram's callback_data limit).
	Data string
}

// Event is the machine-readable side of an alert.
type Event struct {
	State    probe.State
	Previous probe.State
	// At is when the change was confirmed; Began when the failing (or the
	// healthy) rounds that led to it began.
	At       time.Time
	Began    time.Time
	Incident *Incident
}

// PlainText renders m as plain text: the console's format and a fallback.
func (m Message) PlainText() string {
	var b strings.Builder
	b.WriteString(m.Title)
	for _, l := range m.Lines {
		b.WriteString("\n")
		b.WriteString(l)
	}
	for _, f := range m.Fields {
		b.WriteString("\n• ")
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
	}
	return b.String()
}

// Truncate shortens s to at most n runes, marking the cut with an ellipsis.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n { // bytes ≥ runes, so this is a cheap exact check
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

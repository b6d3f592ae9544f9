package telegram

import (
	"html"
	"strings"
	"unicode/utf8"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// Render formats m as Telegram HTML: a bold title, one paragraph per line,
// then "• <b>name</b>: value" per field. Every dynamic text is escaped with
// html.EscapeString. The result, markup and entities included, is at most
// adapterkit.TelegramMaxText UTF-16 code units, which keeps it within the
// limit whether Telegram counts runes or UTF-16 units, before or after
// parsing; a cut is marked "…" and never splits a rune, an entity or a tag.
func Render(m bot.Message) string {
	w := htmlWriter{left: adapterkit.TelegramMaxText}
	if m.Title != "" {
		w.bold(m.Title)
	}
	for _, l := range m.Lines {
		if w.n > 0 {
			w.raw("\n")
		}
		w.text(l)
	}
	for i, f := range m.Fields {
		switch {
		case w.n == 0:
		case i == 0:
			w.raw("\n\n")
		default:
			w.raw("\n")
		}
		w.raw("• ")
		w.bold(f.Name)
		w.raw(": ")
		w.text(f.Value)
	}
	if w.n == 0 {
		return "…" // Telegram refuses an empty text
	}
	return w.b.String()
}

// htmlWriter appends markup and escaped text within a budget of UTF-16 code
// units. Once something does not fit, it writes "…" and ignores the rest.
type htmlWriter struct {
	b    strings.Builder
	n    int // units written
	left int
	full bool
}

const ellipsis = "…" // one UTF-16 unit

func units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func (w *htmlWriter) put(s string, u int) {
	w.b.WriteString(s)
	w.n += u
	w.left -= u
}

// raw writes markup. It is all or nothing, keeping one unit for the ellipsis.
func (w *htmlWriter) raw(s string) {
	if w.full {
		return
	}
	u := units(s)
	if u+1 > w.left {
		w.stop()
		return
	}
	w.put(s, u)
}

// bold writes <b>escaped s</b>, closing the tag even when s is cut.
func (w *htmlWriter) bold(s string) {
	const open, closing = "<b>", "</b>"
	if w.full || s == "" {
		return
	}
	if len(open)+len(closing)+2 > w.left { // room for at least one rune and "…"
		w.stop()
		return
	}
	w.put(open, len(open))
	w.left -= len(closing)
	w.text(s)
	w.left += len(closing)
	w.put(closing, len(closing))
}

// text writes s escaped, cutting it at a rune boundary when it does not fit.
func (w *htmlWriter) text(s string) {
	if w.full {
		return
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if e := html.EscapeString(s); units(e)+1 <= w.left {
		w.put(e, units(e))
		return
	}
	for len(s) > 0 {
		_, size := utf8.DecodeRuneInString(s)
		e := html.EscapeString(s[:size])
		u := units(e)
		if u+1 > w.left {
			break
		}
		w.put(e, u)
		s = s[size:]
	}
	w.stop()
}

func (w *htmlWriter) stop() {
	if !w.full && w.left >= 1 {
		w.put(ellipsis, 1)
	}
	w.full = true
}

package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// allowedTags are the tags Telegram's HTML parse mode accepts.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true, "strike": true,
	"del": true, "a": true, "code": true, "pre": true, "span": true, "tg-spoiler": true, "tg-emoji": true,
	"blockquote": true,
}

// parseHTML checks text the way Telegram's HTML parse mode does, strictly:
// only known tags, properly nested; every <, > and & outside a tag is an
// entity (&lt; &gt; &amp; &quot; or numeric). It returns the visible text.
func parseHTML(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("text must be encoded in UTF-8")
	}
	var plain strings.Builder
	var stack []string
	for i := 0; i < len(text); {
		c := text[i]
		switch c {
		case '<':
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := text[i+1 : i+end]
			if strings.HasPrefix(tag, "/") {
				name := strings.ToLower(strings.TrimSpace(tag[1:]))
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Errorf("can't find end tag corresponding to start tag at byte offset %d", i)
				}
				stack = stack[:len(stack)-1]
			} else {
				name := strings.ToLower(strings.Fields(tag + " ")[0])
				if !allowedTags[name] {
					return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
				}
				stack = append(stack, name)
			}
			i += end + 1
		case '>':
			return "", fmt.Errorf("unescaped '>' at byte offset %d", i)
		case '&':
			end := strings.IndexByte(text[i:], ';')
			if end < 0 || end > 10 {
				return "", fmt.Errorf("unescaped '&' at byte offset %d", i)
			}
			ent := text[i+1 : i+end]
			r, ok := entity(ent)
			if !ok {
				return "", fmt.Errorf("unsupported entity &%s; at byte offset %d", ent, i)
			}
			plain.WriteRune(r)
			i += end + 1
		default:
			plain.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("can't find end tag for %q", stack[len(stack)-1])
	}
	return plain.String(), nil
}

func entity(name string) (rune, bool) {
	switch name {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if h, ok := strings.CutPrefix(num, "x"); ok {
			num, base = h, 16
		}
		n, err := strconv.ParseInt(num, base, 32)
		if err == nil && n > 0 && utf8.ValidRune(rune(n)) {
			return rune(n), true
		}
	}
	return 0, false
}

// rateLimiter enforces Limits in fixed windows. One mutex, one map entry per
// chat: cheap enough for benchmarks fanning out to tens of thousands of chats.
type rateLimiter struct {
	mu  sync.Mutex
	sec int64
	// free counts this second's messages sent without allow_paid_broadcast,
	// all counts every message of this second, paid or not.
	free, all int
	chats     map[int64]*chatWindow
}

type chatWindow struct {
	sec      int64
	secCount int
	min      int64
	minCount int
}

// allow counts one message to chat at now, or returns the seconds to wait.
// paid is the message's allow_paid_broadcast; charged reports that it was
// accepted beyond the free amount of its second (Telegram bills those).
func (l *rateLimiter) allow(lim Limits, chat int64, paid bool, now time.Time) (wait int, charged bool) {
	if lim == (Limits{}) {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sec, minute := now.Unix(), now.Unix()/60
	if l.sec != sec {
		l.sec, l.free, l.all = sec, 0, 0
	}
	paid = paid && lim.PaidPerSecond > 0 // a fake without a paid limit sells none
	switch {
	case paid && l.all >= lim.PaidPerSecond:
		return 1, false
	case !paid && lim.PerSecond > 0 && l.free >= lim.PerSecond:
		return 1, false
	case !paid && lim.PaidPerSecond > 0 && l.all >= lim.PaidPerSecond:
		return 1, false
	}
	w := l.chats[chat]
	if w == nil {
		w = &chatWindow{}
		l.chats[chat] = w
	}
	if w.sec != sec {
		w.sec, w.secCount = sec, 0
	}
	if w.min != minute {
		w.min, w.minCount = minute, 0
	}
	if lim.PerChatPerSecond > 0 && w.secCount >= lim.PerChatPerSecond {
		return 1, false
	}
	if lim.PerGroupPerMinute > 0 && chat < 0 && w.minCount >= lim.PerGroupPerMinute {
		return int((minute+1)*60 - sec), false
	}
	charged = paid && lim.PerSecond > 0 && l.all >= lim.PerSecond
	if !paid {
		l.free++
	}
	l.all++
	w.secCount++
	w.minCount++
	return 0, charged
}

package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Button is one inline-keyboard button with callback_data.
type Button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// Press is a button press to push as a callback_query update.
type Press struct {
	From User
	// ChatID and MessageID name the message the button is on; the fake
	// fills in the message as it last sent or edited it.
	ChatID    int64
	MessageID int
	Data      string
	// Old makes the message inaccessible (date 0, no text), as Telegram
	// sends it for messages too old to show.
	Old bool
	// Forwarded makes the message a forwarded copy (from the user, with
	// forward_origin) instead of the bot's own message.
	Forwarded bool
	// Inline makes it a press on a message sent in inline mode: no message,
	// only inline_message_id.
	Inline bool
}

// CallbackAnswer is one answerCallbackQuery call the fake accepted.
type CallbackAnswer struct {
	QueryID   string
	Text      string
	ShowAlert bool
	At        time.Time
}

// EditedMessage is one editMessageText call the fake accepted.
type EditedMessage struct {
	ChatID    int64
	MessageID int
	Text      string // as sent (HTML)
	Plain     string
	Buttons   [][]Button
	At        time.Time
}

type msgKey struct {
	chat int64
	id   int
}

// shown is a message's current content, for edits and presses.
type shown struct {
	plain   string
	buttons [][]Button
}

type callbackState struct {
	next     int
	pending  map[string]bool // query id → not answered yet
	answers  []CallbackAnswer
	edits    []EditedMessage
	messages map[msgKey]*shown
}

func newCallbackState() callbackState {
	return callbackState{next: 7000, pending: map[string]bool{}, messages: map[msgKey]*shown{}}
}

// MaxCallbackData is Telegram's limit on callback_data, in bytes.
const MaxCallbackData = 64

// parseKeyboard reads a reply_markup with an inline keyboard, as Telegram
// checks it: every button needs a text and callback_data of 1–64 bytes.
func parseKeyboard(raw string) ([][]Button, error) {
	if raw == "" {
		return nil, nil
	}
	var m struct {
		Keyboard *[][]struct {
			Text string  `json:"text"`
			Data *string `json:"callback_data"`
			URL  *string `json:"url"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	if m.Keyboard == nil {
		return nil, fmt.Errorf("this fake supports only inline_keyboard markup")
	}
	var out [][]Button
	for _, row := range *m.Keyboard {
		var r []Button
		for _, b := range row {
			if strings.TrimSpace(b.Text) == "" {
				return nil, fmt.Errorf("BUTTON_TEXT_EMPTY")
			}
			if b.Data == nil || *b.Data == "" || len(*b.Data) > MaxCallbackData {
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
			r = append(r, Button{Text: b.Text, Data: *b.Data})
		}
		out = append(out, r)
	}
	return out, nil
}

// PushCallback queues a callback_query update for a press and returns the
// update id and the query id answerCallbackQuery must name.
func (s *Server) PushCallback(p Press) (updateID int, queryID string) {
	if p.From.FirstName == "" {
		p.From.FirstName = "User"
	}
	s.mu.Lock()
	s.callbacks.next++
	queryID = strconv.Itoa(s.callbacks.next)
	s.callbacks.pending[queryID] = true
	typ := s.chatTypes[p.ChatID]
	if typ == "" {
		typ = "private"
		if p.ChatID < 0 {
			typ = "supergroup"
		}
	}
	chat := Chat{ID: p.ChatID, Type: typ}
	var msg map[string]any
	cur := s.callbacks.messages[msgKey{p.ChatID, p.MessageID}]
	switch {
	case p.Inline:
	case p.Old || cur == nil:
		msg = map[string]any{"message_id": p.MessageID, "chat": chat, "date": 0}
	default:
		msg = map[string]any{"message_id": p.MessageID, "chat": chat, "date": s.now().Unix(), "text": cur.plain}
		if typ == "channel" {
			msg["sender_chat"] = chat
		} else {
			msg["from"] = s.Bot
		}
		if p.Forwarded {
			from := p.From
			msg["from"] = from
			msg["forward_origin"] = map[string]any{"type": "user", "sender_user": s.Bot, "date": s.now().Unix()}
		}
		if len(cur.buttons) > 0 {
			msg["reply_markup"] = map[string]any{"inline_keyboard": cur.buttons}
		}
	}
	s.mu.Unlock()
	q := map[string]any{
		"id":            queryID,
		"from":          p.From,
		"chat_instance": strconv.FormatInt(p.ChatID*7919, 10),
		"data":          p.Data,
	}
	if msg != nil {
		q["message"] = msg
	}
	if p.Inline {
		q["inline_message_id"] = "AAAA" + queryID
	}
	return s.PushUpdate(map[string]any{"callback_query": q}), queryID
}

// CallbackAnswers returns every accepted answerCallbackQuery, in order.
func (s *Server) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CallbackAnswer(nil), s.callbacks.answers...)
}

// WaitCallbackAnswer waits until the query is answered and returns the answer.
func (s *Server) WaitCallbackAnswer(ctx context.Context, queryID string) (CallbackAnswer, error) {
	var got CallbackAnswer
	err := s.Wait(ctx, func() bool {
		for _, a := range s.CallbackAnswers() {
			if a.QueryID == queryID {
				got = a
				return true
			}
		}
		return false
	})
	if err != nil {
		return got, fmt.Errorf("callback query %s not answered: %w", queryID, err)
	}
	return got, nil
}

// Edits returns the edits of messages in a chat, in order.
func (s *Server) Edits(chatID int64) []EditedMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EditedMessage
	for _, e := range s.callbacks.edits {
		if e.ChatID == chatID {
			out = append(out, e)
		}
	}
	return out
}

// rememberLocked records a message's content, for later edits and presses.
// s.mu must be held.
func (s *Server) rememberLocked(chatID int64, msgID int, plain string, buttons [][]Button) {
	s.callbacks.messages[msgKey{chatID, msgID}] = &shown{plain: plain, buttons: buttons}
}

func (s *Server) answerCallbackQuery(w http.ResponseWriter, p map[string]string) {
	id, text := p["callback_query_id"], p["text"]
	if utf16Len(text) > 200 {
		writeFailure(w, BadRequest("MESSAGE_TOO_LONG"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.callbacks.pending[id] {
		writeFailure(w, BadRequest("query is too old and response timeout expired or query ID is invalid"))
		return
	}
	delete(s.callbacks.pending, id)
	s.callbacks.answers = append(s.callbacks.answers, CallbackAnswer{QueryID: id, Text: text, ShowAlert: p["show_alert"] == "true", At: s.now()})
	s.notifyLocked()
	writeOK(w, true)
}

func (s *Server) editMessageText(w http.ResponseWriter, p map[string]string) {
	if p["inline_message_id"] != "" {
		writeFailure(w, BadRequest("inline messages are not supported by this fake"))
		return
	}
	chatID, err1 := strconv.ParseInt(p["chat_id"], 10, 64)
	msgID, err2 := strconv.Atoi(p["message_id"])
	if err1 != nil || err2 != nil {
		writeFailure(w, BadRequest("chat not found"))
		return
	}
	text := p["text"]
	plain := text
	if strings.EqualFold(p["parse_mode"], "HTML") {
		var err error
		if plain, err = parseHTML(text); err != nil {
			writeFailure(w, BadRequest("can't parse entities: "+err.Error()))
			return
		}
	} else if p["parse_mode"] != "" {
		writeFailure(w, BadRequest("unsupported parse_mode in this fake: "+p["parse_mode"]))
		return
	}
	if strings.TrimSpace(plain) == "" {
		writeFailure(w, BadRequest("message text is empty"))
		return
	}
	if utf16Len(plain) > 4096 {
		writeFailure(w, BadRequest("MESSAGE_TOO_LONG"))
		return
	}
	buttons, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		writeFailure(w, BadRequest(err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.callbacks.messages[msgKey{chatID, msgID}]
	if cur == nil {
		writeFailure(w, BadRequest("message to edit not found"))
		return
	}
	if cur.plain == plain && reflect.DeepEqual(cur.buttons, buttons) {
		writeFailure(w, BadRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"))
		return
	}
	// Like Telegram, an edit without reply_markup removes the keyboard.
	cur.plain, cur.buttons = plain, buttons
	e := EditedMessage{ChatID: chatID, MessageID: msgID, Text: text, Plain: plain, Buttons: buttons, At: s.now()}
	s.callbacks.edits = append(s.callbacks.edits, e)
	s.notifyLocked()
	out := map[string]any{"message_id": msgID, "date": e.At.Unix(), "chat": Chat{ID: chatID, Type: s.chatTypeLocked(chatID)}, "text": plain, "edit_date": e.At.Unix()}
	if len(buttons) > 0 {
		out["reply_markup"] = map[string]any{"inline_keyboard": buttons}
	}
	writeOK(w, out)
}

// chatTypeLocked is the type a chat was seen with, else a guess from its id.
func (s *Server) chatTypeLocked(chatID int64) string {
	if t := s.chatTypes[chatID]; t != "" {
		return t
	}
	if chatID < 0 {
		return "supergroup"
	}
	return "private"
}

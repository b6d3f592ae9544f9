package discordtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Callback is an interaction response (POST …/callback).
type Callback struct {
	Type    int
	Flags   int
	Content string
	Embeds  []Embed
	Choices []json.RawMessage
	At      time.Time
}

// Edit is an edit of the original interaction response (PATCH …/@original).
type Edit struct {
	Content *string
	Embeds  []Embed
	At      time.Time
}

// Interaction is a dispatched interaction and how the client answered it.
type Interaction struct {
	ID, Token, Name, GuildID, ChannelID string
	Dispatched                          time.Time
	Callbacks                           []Callback
	Edits                               []Edit
}

// Interaction response types and flags.
const (
	ResponseMessage  = 4
	ResponseDeferred = 5
	FlagEphemeral    = 1 << 6
)

// Answered reports whether the interaction got a final answer: a message
// callback, or a deferral followed by an edit.
func (i Interaction) Answered() bool {
	if len(i.Callbacks) == 0 {
		return false
	}
	return i.Callbacks[0].Type != ResponseDeferred || len(i.Edits) > 0
}

// Ephemeral reports whether the first answer was flagged ephemeral.
func (i Interaction) Ephemeral() bool {
	return len(i.Callbacks) > 0 && i.Callbacks[0].Flags&FlagEphemeral != 0
}

// Deferred reports whether the first answer was a deferral (type 5).
func (i Interaction) Deferred() bool {
	return len(i.Callbacks) > 0 && i.Callbacks[0].Type == ResponseDeferred
}

// AckDelay is the time from dispatch to the first callback (-1 if none).
func (i Interaction) AckDelay() time.Duration {
	if len(i.Callbacks) == 0 {
		return -1
	}
	return i.Callbacks[0].At.Sub(i.Dispatched)
}

// Final returns the content and embeds users finally see.
func (i Interaction) Final() (content string, embeds []Embed) {
	if len(i.Callbacks) == 0 {
		return "", nil
	}
	if n := len(i.Edits); n > 0 {
		e := i.Edits[n-1]
		if e.Content != nil {
			content = *e.Content
		}
		return content, e.Embeds
	}
	return i.Callbacks[0].Content, i.Callbacks[0].Embeds
}

// Text is the final content plus every embed's title, description and fields, for assertions.
func (i Interaction) Text() string {
	content, embeds := i.Final()
	b := []string{content}
	for _, e := range embeds {
		b = append(b, e.Title, e.Description)
		for _, f := range e.Fields {
			b = append(b, f.Name, f.Value)
		}
	}
	return strings.Join(b, "\n")
}

func (i *Interaction) clone() Interaction {
	c := *i
	c.Callbacks = append([]Callback(nil), i.Callbacks...)
	c.Edits = append([]Edit(nil), i.Edits...)
	return c
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Type int `json:"type"`
		Data *struct {
			Flags   int               `json:"flags"`
			Content string            `json:"content"`
			Embeds  []Embed           `json:"embeds"`
			Choices []json.RawMessage `json:"choices"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	cb := Callback{Type: body.Type, At: now}
	if body.Data != nil {
		cb.Flags, cb.Content, cb.Embeds, cb.Choices = body.Data.Flags, body.Data.Content, body.Data.Embeds, body.Data.Choices
	}
	if v := s.checkMessage(cb.Content, cb.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.interactions[r.PathValue("id")]
	if i == nil || i.Token != r.PathValue("token") || now.Sub(i.Dispatched) > InteractionWindow {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 10062, Message: "Unknown interaction"})
		return
	}
	if len(i.Callbacks) > 0 {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 40060, Message: "Interaction has already been acknowledged."})
		return
	}
	i.Callbacks = append(i.Callbacks, cb)
	s.notify()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) editOriginal(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Content *string `json:"content"`
		Embeds  []Embed `json:"embeds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	content := ""
	if body.Content != nil {
		content = *body.Content
	}
	if v := s.checkMessage(content, body.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byToken[r.PathValue("token")]
	i := s.interactions[id]
	if !ok || r.PathValue("app") != s.AppID || i == nil || len(i.Callbacks) == 0 {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 10008, Message: "Unknown Message"})
		return
	}
	i.Edits = append(i.Edits, Edit{Content: body.Content, Embeds: body.Embeds, At: now})
	s.notify()
	writeJSON(w, http.StatusOK, s.messageJSON(Message{ID: i.ID, ChannelID: i.ChannelID, Content: content, Embeds: body.Embeds, At: now}))
}

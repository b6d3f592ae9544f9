package discordtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Embed is an embed as a client sent it.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
	Footer      *struct {
		Text string `json:"text"`
	} `json:"footer,omitempty"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author,omitempty"`
}

// EmbedField is one field of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// MessageReference makes a message a reply.
type MessageReference struct {
	MessageID       string `json:"message_id"`
	ChannelID       string `json:"channel_id,omitempty"`
	GuildID         string `json:"guild_id,omitempty"`
	FailIfNotExists *bool  `json:"fail_if_not_exists,omitempty"`
}

// AllowedMentions is the allowed_mentions object.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// Message is a channel message the fake accepted.
type Message struct {
	ID              string            `json:"id"`
	ChannelID       string            `json:"channel_id"`
	Content         string            `json:"content,omitempty"`
	Embeds          []Embed           `json:"embeds,omitempty"`
	Reference       *MessageReference `json:"message_reference,omitempty"`
	AllowedMentions *AllowedMentions  `json:"allowed_mentions,omitempty"`
	Flags           int               `json:"flags,omitempty"`
	At              time.Time         `json:"-"`
}

// Command is one application command of a bulk overwrite.
type Command struct {
	Name                     string            `json:"name"`
	Type                     int               `json:"type,omitempty"`
	Description              string            `json:"description"`
	DescriptionLocalizations map[string]string `json:"description_localizations,omitempty"`
	DefaultMemberPermissions *string           `json:"default_member_permissions,omitempty"`
	DMPermission             *bool             `json:"dm_permission,omitempty"`
	Contexts                 []int             `json:"contexts,omitempty"`
	IntegrationTypes         []int             `json:"integration_types,omitempty"`
	NameLocalizations        map[string]string `json:"name_localizations,omitempty"`
	Options                  []OptionSpec      `json:"options"`
}

// OptionSpec is one option of a registered command.
type OptionSpec struct {
	Type                     int               `json:"type"`
	Name                     string            `json:"name"`
	NameLocalizations        map[string]string `json:"name_localizations,omitempty"`
	Description              string            `json:"description"`
	DescriptionLocalizations map[string]string `json:"description_localizations,omitempty"`
	Required                 bool              `json:"required,omitempty"`
	Choices                  []Choice          `json:"choices,omitempty"`
	MaxLength                int               `json:"max_length,omitempty"`
}

// Choice is one of an option's offered values.
type Choice struct {
	Name              string            `json:"name"`
	NameLocalizations map[string]string `json:"name_localizations,omitempty"`
	Value             any               `json:"value"`
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	channelID := r.PathValue("id")
	var m Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50109, Message: "The request body contains invalid JSON."})
		return
	}
	s.mu.Lock()
	c := s.channel(channelID)
	c.attempts++
	var fail *Failure
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail = &f
	} else if c.fail != nil {
		fail = c.fail
		if c.failTimes > 0 {
			if c.failTimes--; c.failTimes == 0 {
				c.fail = nil
			}
		}
	}
	if fail != nil {
		if fail.Status == http.StatusTooManyRequests {
			s.rateLimited.Add(1)
		}
		s.notify()
		s.mu.Unlock()
		writeError(w, *fail)
		return
	}
	s.mu.Unlock()

	if v := s.checkMessage(m.Content, m.Embeds); v != "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body: " + v})
		return
	}
	if len(m.Embeds) == 0 && strings.TrimSpace(m.Content) == "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 50006, Message: "Cannot send an empty message"})
		return
	}
	m.ID, m.ChannelID, m.At = s.id(), channelID, time.Now()
	s.mu.Lock()
	c.messages = append(c.messages, m)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.messageJSON(m))
}

func (s *Server) messageJSON(m Message) map[string]any {
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "content": m.Content, "embeds": m.Embeds, "type": 0,
		"timestamp": m.At.UTC().Format(time.RFC3339Nano), "author": s.botUser(), "flags": m.Flags,
	}
	if m.Embeds == nil {
		out["embeds"] = []Embed{}
	}
	if m.Reference != nil {
		out["type"] = 19
		out["message_reference"] = m.Reference
	}
	return out
}

// checkMessage enforces Discord's limits and records violations.
func (s *Server) checkMessage(content string, embeds []Embed) string {
	v := violation(content, embeds)
	if v != "" {
		s.mu.Lock()
		s.violations = append(s.violations, v)
		s.mu.Unlock()
	}
	return v
}

func violation(content string, embeds []Embed) string {
	n := utf8.RuneCountInString
	if n(content) > 2000 {
		return "content longer than 2000"
	}
	if len(embeds) > 10 {
		return "more than 10 embeds"
	}
	total := 0
	for _, e := range embeds {
		if n(e.Title) > 256 {
			return "embed title longer than 256"
		}
		if n(e.Description) > 4096 {
			return "embed description longer than 4096"
		}
		if len(e.Fields) > 25 {
			return "more than 25 embed fields"
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				return "embed timestamp not ISO8601"
			}
		}
		total += n(e.Title) + n(e.Description)
		for _, f := range e.Fields {
			if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Value) == "" {
				return "empty embed field name or value"
			}
			if n(f.Name) > 256 || n(f.Value) > 1024 {
				return "embed field name longer than 256 or value longer than 1024"
			}
			total += n(f.Name) + n(f.Value)
		}
		if e.Footer != nil {
			total += n(e.Footer.Text)
		}
		if e.Author != nil {
			total += n(e.Author.Name)
		}
	}
	if total > 6000 {
		return "embeds longer than 6000 in total"
	}
	return ""
}

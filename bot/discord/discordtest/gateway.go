package discordtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// gwConn is one gateway client.
type gwConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	seq int64
}

type payload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d,omitempty"`
	S  *int64          `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

func (c *gwConn) send(op int, t string, d any) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := payload{Op: op, D: raw, T: t}
	if op == 0 {
		c.seq++
		seq := c.seq
		p.S = &seq
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(p)
}

func (c *gwConn) closeWith(code int, text string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gwConn{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = false
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.notify()
		s.mu.Unlock()
		_ = ws.Close()
	}()

	if err := c.send(10, "", map[string]any{"heartbeat_interval": s.heartbeat.Milliseconds()}); err != nil {
		return
	}
	for {
		var p payload
		if err := ws.ReadJSON(&p); err != nil {
			return
		}
		switch p.Op {
		case 1: // heartbeat
			s.mu.Lock()
			s.heartbeats++
			s.mu.Unlock()
			if c.send(11, "", nil) != nil {
				return
			}
		case 2: // identify
			var id struct {
				Token string `json:"token"`
			}
			_ = json.Unmarshal(p.D, &id)
			if !s.tokenOK(id.Token) {
				c.closeWith(4004, "Authentication failed.")
				return
			}
			guilds := make([]map[string]any, 0, len(s.guilds))
			for _, g := range s.guilds {
				guilds = append(guilds, map[string]any{"id": g, "unavailable": true})
			}
			err := c.send(0, "READY", map[string]any{
				"v":                  9,
				"session_id":         "session-" + s.id(),
				"resume_gateway_url": s.GatewayURL(),
				"user":               s.botUser(),
				"application":        map[string]any{"id": s.AppID, "flags": 0},
				"guilds":             guilds,
				"private_channels":   []any{},
			})
			if err != nil {
				return
			}
			s.mu.Lock()
			s.identifies++
			s.sessionLocked(c)
			s.notify()
			s.mu.Unlock()
		case 6: // resume
			var rs struct {
				Token string `json:"token"`
			}
			_ = json.Unmarshal(p.D, &rs)
			if !s.tokenOK(rs.Token) {
				c.closeWith(4004, "Authentication failed.")
				return
			}
			if c.send(0, "RESUMED", map[string]any{}) != nil {
				return
			}
			s.mu.Lock()
			s.resumes++
			s.sessionLocked(c)
			s.notify()
			s.mu.Unlock()
		}
	}
}

// tokenOK reports whether IDENTIFY or RESUME carries the token the gateway accepts.
func (s *Server) tokenOK(token string) bool {
	return !s.revoked.Load() && strings.TrimPrefix(token, "Bot ") == s.wantGatewayToken()
}

func (s *Server) wantGatewayToken() string {
	if s.gatewayToken != "" {
		return s.gatewayToken
	}
	return s.Token
}

// Dispatch sends a gateway event (op 0) to every identified client.
func (s *Server) Dispatch(event string, data any) error {
	s.mu.Lock()
	var conns []*gwConn
	for c, ok := range s.conns {
		if ok {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	if len(conns) == 0 {
		return errorf("dispatch %s: no identified gateway client", event)
	}
	for _, c := range conns {
		if err := c.send(0, event, data); err != nil {
			return errorf("dispatch %s: %w", event, err)
		}
	}
	return nil
}

// DropConnections closes every gateway connection abruptly, as a network cut would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	var conns []*gwConn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
}

// Option types of interaction options: OptionString, OptionInteger.

// Interaction types.
const (
	TypePing         = 1
	TypeCommand      = 2
	TypeComponent    = 3
	TypeAutocomplete = 4
)

// CommandOption is a slash command option as sent in an interaction.
type CommandOption struct {
	Name  string `json:"name"`
	Type  int    `json:"type"`
	Value any    `json:"value"`
}

// InteractionSpec describes an interaction to dispatch.
type InteractionSpec struct {
	// Type defaults to TypeCommand.
	Type int
	// Name is the command name.
	Name string
	// GuildID empty means a DM with the bot: the user is sent instead of a member.
	GuildID, ChannelID string
	// Locale is the user's locale ("fr", "en-US").
	Locale string
	// Permissions are the member's permissions in the channel (sent as a JSON string).
	Permissions int64
	// AppPermissions are the bot's permissions in the channel; 0 omits the field.
	AppPermissions int64
	UserID         string
	Options        []CommandOption
	// NoData omits the data object altogether.
	NoData bool
}

// Interact dispatches INTERACTION_CREATE and returns the interaction id.
func (s *Server) Interact(spec InteractionSpec) (string, error) {
	if spec.Type == 0 {
		spec.Type = TypeCommand
	}
	if spec.UserID == "" {
		spec.UserID = "700000000000000001"
	}
	id, token := s.id(), "interaction-token-"+s.id()
	user := map[string]any{"id": spec.UserID, "username": "someone", "discriminator": "0"}
	d := map[string]any{
		"id": id, "application_id": s.AppID, "type": spec.Type, "token": token, "version": 1,
		"channel_id": spec.ChannelID, "locale": spec.Locale,
	}
	if spec.ChannelID == "" {
		delete(d, "channel_id")
	}
	if spec.Locale == "" {
		delete(d, "locale")
	}
	if spec.AppPermissions != 0 {
		d["app_permissions"] = strconv.FormatInt(spec.AppPermissions, 10)
	}
	if spec.GuildID != "" {
		d["guild_id"] = spec.GuildID
		d["guild_locale"] = "en-US"
		d["context"] = 0
		d["member"] = map[string]any{
			"user": user, "roles": []string{}, "joined_at": "2024-01-01T00:00:00Z",
			"permissions": strconv.FormatInt(spec.Permissions, 10),
		}
	} else {
		d["context"] = 1
		d["user"] = user
	}
	if !spec.NoData {
		data := map[string]any{"id": "800000000000000001", "name": spec.Name, "type": 1}
		if spec.Type == TypeComponent {
			data = map[string]any{"custom_id": spec.Name, "component_type": 2}
		}
		if len(spec.Options) > 0 {
			data["options"] = spec.Options
		}
		d["data"] = data
	}
	s.mu.Lock()
	s.interactions[id] = &Interaction{ID: id, Token: token, Name: spec.Name, GuildID: spec.GuildID, ChannelID: spec.ChannelID, Dispatched: time.Now()}
	s.byToken[token] = id
	s.mu.Unlock()
	if err := s.Dispatch("INTERACTION_CREATE", d); err != nil {
		return "", err
	}
	return id, nil
}

// GuildDelete dispatches GUILD_DELETE; unavailable false means the bot was removed.
func (s *Server) GuildDelete(guildID string, unavailable bool) error {
	d := map[string]any{"id": guildID}
	if unavailable {
		d["unavailable"] = true
	}
	return s.Dispatch("GUILD_DELETE", d)
}

// ChannelDelete dispatches CHANNEL_DELETE for a text channel.
func (s *Server) ChannelDelete(channelID, guildID string) error {
	return s.Dispatch("CHANNEL_DELETE", map[string]any{"id": channelID, "guild_id": guildID, "type": 0, "name": "alerts"})
}

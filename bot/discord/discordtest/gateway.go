package discordtest

import (
	"encoding/json"
	"fmt"
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
	// shard is the one the session identified (or resumed) as, 0 of 1 when
	// unsharded; set under Server.mu.
	shard ShardPair
}

// ShardPair is a gateway session's shard: ID of Count. An unsharded session
// is shard 0 of 1.
type ShardPair struct{ ID, Count int }

// Identify is one IDENTIFY the gateway received.
type Identify struct {
	// Shard is what the IDENTIFY asked for; Sharded is false when it sent no
	// shard field (Shard is then 0 of 1).
	Shard   ShardPair
	Sharded bool
	// Refused is the close code the fake answered with, 0 when it sent READY.
	Refused int
	At      time.Time
}

// ShardOf is the shard Discord sends a server's events on:
// (guild_id >> 22) % count; DMs (guildID "") go to shard 0.
func ShardOf(guildID string, count int) int {
	id, err := strconv.ParseUint(guildID, 10, 64)
	if err != nil || count < 2 {
		return 0
	}
	return int((id >> 22) % uint64(count))
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
				Token string  `json:"token"`
				Shard *[2]int `json:"shard"`
			}
			_ = json.Unmarshal(p.D, &id)
			if !s.tokenOK(id.Token) {
				c.closeWith(4004, "Authentication failed.")
				return
			}
			rec := Identify{Shard: ShardPair{0, 1}, Sharded: id.Shard != nil, At: time.Now()}
			if id.Shard != nil {
				rec.Shard = ShardPair{id.Shard[0], id.Shard[1]}
			}
			if s.isCut(rec.Shard.ID) {
				return // the deferred close drops the connection
			}
			s.mu.Lock()
			required := s.requiredShards // Outgrow changes it
			s.mu.Unlock()
			switch sh := rec.Shard; {
			case sh.Count < 1 || sh.ID < 0 || sh.ID >= sh.Count:
				rec.Refused = 4010
			case sh.Count < required:
				rec.Refused = 4011
			}
			if rec.Refused != 0 {
				s.mu.Lock()
				s.identified = append(s.identified, rec)
				s.notify()
				s.mu.Unlock()
				c.closeWith(rec.Refused, map[int]string{4010: "Invalid shard.", 4011: "Sharding required."}[rec.Refused])
				return
			}
			session := "session-" + s.id()
			ready := map[string]any{
				"v":                  9,
				"session_id":         session,
				"resume_gateway_url": s.GatewayURL(),
				"user":               s.botUser(),
				"application":        map[string]any{"id": s.AppID, "flags": 0},
				"guilds":             s.readyGuilds(rec.Shard),
				"private_channels":   []any{},
			}
			if rec.Sharded {
				ready["shard"] = []int{rec.Shard.ID, rec.Shard.Count}
			}
			s.mu.Lock()
			s.sessions[session] = rec.Shard
			c.shard = rec.Shard
			s.mu.Unlock()
			if c.send(0, "READY", ready) != nil {
				return
			}
			s.mu.Lock()
			s.identifies++
			s.startsLeft--
			s.identified = append(s.identified, rec)
			s.sessionLocked(c)
			s.notify()
			s.mu.Unlock()
		case 6: // resume
			var rs struct {
				Token     string `json:"token"`
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal(p.D, &rs)
			if !s.tokenOK(rs.Token) {
				c.closeWith(4004, "Authentication failed.")
				return
			}
			s.mu.Lock()
			sh, ok := s.sessions[rs.SessionID]
			if !ok {
				sh = ShardPair{0, 1} // a session this fake never started
			}
			c.shard = sh
			cut, outgrown := s.cut[sh.ID], sh.Count < s.requiredShards
			s.mu.Unlock()
			if cut {
				return
			}
			if outgrown {
				c.closeWith(4011, "Sharding required.")
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

// readyGuilds are the servers READY lists for a shard: those of WithGuilds
// that Discord would send on it, as unavailable (GUILD_CREATE follows on
// Discord; here a test sends it with GuildCreate).
func (s *Server) readyGuilds(sh ShardPair) []map[string]any {
	guilds := make([]map[string]any, 0, len(s.guilds))
	for _, g := range s.guilds {
		if ShardOf(g, sh.Count) == sh.ID {
			guilds = append(guilds, map[string]any{"id": g, "unavailable": true})
		}
	}
	return guilds
}

// Dispatch sends a gateway event (op 0) to every identified client, whatever
// its shard; DispatchOn sends it on one shard.
func (s *Server) Dispatch(event string, data any) error {
	return s.dispatch(func(ShardPair) bool { return true }, "", event, data)
}

// DispatchOn sends a gateway event (op 0) to the clients identified (or
// resumed) as shard id, whatever their shard count.
func (s *Server) DispatchOn(shard int, event string, data any) error {
	return s.dispatch(func(sh ShardPair) bool { return sh.ID == shard }, fmt.Sprintf(" on shard %d", shard), event, data)
}

// dispatchGuild sends a server's event (guildID "" for a DM) where Discord
// would: to each client whose shard is ShardOf(guildID, its count).
func (s *Server) dispatchGuild(guildID, event string, data any) error {
	return s.dispatch(func(sh ShardPair) bool { return ShardOf(guildID, sh.Count) == sh.ID }, " for server "+guildID, event, data)
}

func (s *Server) dispatch(to func(ShardPair) bool, where, event string, data any) error {
	s.mu.Lock()
	var conns []*gwConn
	for c, ok := range s.conns {
		if ok && to(c.shard) {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	if len(conns) == 0 {
		return errorf("dispatch %s: no identified gateway client%s", event, where)
	}
	for _, c := range conns {
		if err := c.send(0, event, data); err != nil {
			return errorf("dispatch %s: %w", event, err)
		}
	}
	return nil
}

// DropConnections closes every gateway connection abruptly, as a network cut would.
func (s *Server) DropConnections() { s.drop(func(*gwConn, bool) bool { return true }) }

// DropShard closes the identified gateway connections of one shard
// abruptly, as a network cut would; the other shards stay up.
func (s *Server) DropShard(shard int) {
	s.drop(func(c *gwConn, identified bool) bool { return identified && c.shard.ID == shard })
}

func (s *Server) drop(which func(c *gwConn, identified bool) bool) {
	s.mu.Lock()
	var conns []*gwConn
	for c, ok := range s.conns {
		if which(c, ok) {
			conns = append(conns, c)
		}
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

// Interact dispatches INTERACTION_CREATE on the shard Discord would pick
// (the server's, shard 0 for a DM) and returns the interaction id.
func (s *Server) Interact(spec InteractionSpec) (string, error) {
	return s.interact(spec, func(d any) error { return s.dispatchGuild(spec.GuildID, "INTERACTION_CREATE", d) })
}

func (s *Server) interact(spec InteractionSpec, dispatch func(d any) error) (string, error) {
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
	if err := dispatch(d); err != nil {
		return "", err
	}
	return id, nil
}

// GuildCreate dispatches GUILD_CREATE (the bot joined a server, or one
// became available) on the server's shard.
func (s *Server) GuildCreate(guildID string) error {
	return s.dispatchGuild(guildID, "GUILD_CREATE", guildCreate(guildID))
}

func guildCreate(guildID string) map[string]any {
	return map[string]any{"id": guildID, "name": "server " + guildID, "unavailable": false, "member_count": 2,
		"channels": []any{}, "threads": []any{}, "roles": []any{}, "members": []any{}}
}

// GuildDelete dispatches GUILD_DELETE on the server's shard; unavailable
// false means the bot was removed.
func (s *Server) GuildDelete(guildID string, unavailable bool) error {
	return s.dispatchGuild(guildID, "GUILD_DELETE", guildDelete(guildID, unavailable))
}

func guildDelete(guildID string, unavailable bool) map[string]any {
	d := map[string]any{"id": guildID}
	if unavailable {
		d["unavailable"] = true
	}
	return d
}

// ChannelDelete dispatches CHANNEL_DELETE for a text channel, on its server's shard.
func (s *Server) ChannelDelete(channelID, guildID string) error {
	return s.dispatchGuild(guildID, "CHANNEL_DELETE", map[string]any{"id": channelID, "guild_id": guildID, "type": 0, "name": "alerts"})
}

// Shard is the fake seen from one gateway shard: its events go to the
// clients identified as that shard, whatever server they name, as a test
// of a bot's routing wants (fake.Shard(1).Interact(spec)).
type Shard struct {
	s  *Server
	id int
}

// Shard returns the view of shard id.
func (s *Server) Shard(id int) Shard { return Shard{s, id} }

// Interact dispatches INTERACTION_CREATE on this shard and returns the interaction id.
func (sh Shard) Interact(spec InteractionSpec) (string, error) {
	return sh.s.interact(spec, func(d any) error { return sh.s.DispatchOn(sh.id, "INTERACTION_CREATE", d) })
}

// GuildCreate dispatches GUILD_CREATE on this shard.
func (sh Shard) GuildCreate(guildID string) error {
	return sh.s.DispatchOn(sh.id, "GUILD_CREATE", guildCreate(guildID))
}

// GuildDelete dispatches GUILD_DELETE on this shard.
func (sh Shard) GuildDelete(guildID string, unavailable bool) error {
	return sh.s.DispatchOn(sh.id, "GUILD_DELETE", guildDelete(guildID, unavailable))
}

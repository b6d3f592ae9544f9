package telegramtest

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		writeFailure(w, Failure{Code: 404, Description: "Not Found"})
		return
	}
	s.requests.Add(1)
	token, method := rest[:i], strings.ToLower(rest[i+1:])
	s.mu.Lock()
	revoked := s.revoked
	always, failAlways := s.always[method]
	if !failAlways {
		always, failAlways = s.always[""]
	}
	s.mu.Unlock()
	if token != s.Token || revoked {
		writeFailure(w, Unauthorized())
		return
	}
	if failAlways {
		if method == "sendmessage" {
			s.sendCalls.Add(1)
			s.countFailure(always)
		}
		writeFailure(w, always)
		return
	}
	p, err := params(r)
	if err != nil {
		writeFailure(w, BadRequest("can't parse request: "+err.Error()))
		return
	}
	if method != "sendmessage" && p["allow_paid_broadcast"] != "" {
		s.paidElsewhere.Add(1)
	}
	s.mu.Lock()
	if q := s.failNext[method]; len(q) > 0 {
		f := q[0]
		s.failNext[method] = q[1:]
		s.mu.Unlock()
		if method == "sendmessage" {
			s.sendCalls.Add(1)
			s.countFailure(f)
		}
		writeFailure(w, f)
		return
	}
	s.mu.Unlock()
	switch method {
	case "getme":
		writeOK(w, map[string]any{
			"id": s.Bot.ID, "is_bot": true, "first_name": s.Bot.FirstName, "username": s.Bot.UserName,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		})
	case "getupdates":
		s.getUpdates(w, r, p)
	case "sendmessage":
		s.sendMessage(w, p)
	case "getchatmember":
		s.getChatMember(w, p)
	case "setmycommands":
		s.setMyCommands(w, p)
	case "answercallbackquery":
		s.answerCallbackQuery(w, p)
	case "editmessagetext":
		s.editMessageText(w, p)
	case "deletewebhook":
		writeOK(w, true)
	case "getwebhookinfo":
		writeOK(w, map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": 0})
	default:
		writeFailure(w, Failure{Code: 404, Description: "Not Found: method not found"})
	}
}

// params reads a request's parameters from a form, multipart or JSON body.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, err
		}
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				out[k] = str
			} else {
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
		for k, v := range r.URL.Query() {
			out[k] = v[0]
		}
		return out, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
	}
	for k, v := range r.Form {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, nil
}

func writeOK(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func (s *Server) getChatMember(w http.ResponseWriter, p map[string]string) {
	s.memberCalls.Add(1)
	chatID, err1 := strconv.ParseInt(p["chat_id"], 10, 64)
	userID, err2 := strconv.ParseInt(p["user_id"], 10, 64)
	if err1 != nil || err2 != nil {
		writeFailure(w, BadRequest("invalid user_id specified"))
		return
	}
	s.mu.Lock()
	status, ok := s.members[memberKey{chatID, userID}]
	s.mu.Unlock()
	if !ok {
		status = "member"
		if userID == s.Bot.ID {
			status = "administrator"
		}
	}
	writeOK(w, map[string]any{"status": status, "user": User{ID: userID, FirstName: "User"}})
}

func (s *Server) setMyCommands(w http.ResponseWriter, p map[string]string) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		writeFailure(w, BadRequest("can't parse commands JSON object"))
		return
	}
	for _, c := range cmds {
		if c.Command == "" || len(c.Command) > 32 || strings.ToLower(c.Command) != c.Command ||
			utf16Len(c.Description) < 1 || utf16Len(c.Description) > 256 {
			writeFailure(w, BadRequest("BOT_COMMAND_INVALID"))
			return
		}
	}
	s.mu.Lock()
	s.commands[p["language_code"]] = cmds
	s.notifyLocked()
	s.mu.Unlock()
	writeOK(w, true)
}

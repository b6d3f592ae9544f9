package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Failure is an error answer. Code is both the HTTP status and error_code.
// A non-empty Body is sent as is, as text/html, instead of Telegram's JSON.
type Failure struct {
	Code        int
	Description string
	RetryAfter  int
	MigrateTo   int64
	Body        string
	// Location, if set, is sent as the Location header (with a 3xx Code: a redirect).
	Location string
}

// Failures shaped like Telegram's.
func TooManyRequests(retryAfter int) Failure {
	return Failure{Code: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}
func Blocked() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot was blocked by the user"}
}
func Kicked() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot was kicked from the supergroup chat"}
}
func NotMember() Failure {
	return Failure{Code: 403, Description: "Forbidden: bot is not a member of the channel chat"}
}
func ChatNotFound() Failure { return Failure{Code: 400, Description: "Bad Request: chat not found"} }
func MigratedTo(newID int64) Failure {
	return Failure{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: newID}
}
func BadRequest(desc string) Failure { return Failure{Code: 400, Description: "Bad Request: " + desc} }
func ServerError(code int) Failure {
	return Failure{Code: code, Description: strings.TrimSpace(http.StatusText(code))}
}
func NonJSON(code int) Failure {
	return Failure{Code: code, Body: fmt.Sprintf("<html><body><h1>%d %s</h1>nginx</body></html>", code, http.StatusText(code))}
}
func Unauthorized() Failure { return Failure{Code: 401, Description: "Unauthorized"} }

// NotEnoughStars is the refusal of a paid broadcast message when the bot's
// Stars balance is too low. Telegram does not document the Bot API's text
// for it; this one is a plausible guess: BALANCE_TOO_LOW is the MTProto error
// for a Stars balance too low, and the Bot API passes such errors on as
// "Bad Request: <ERROR>".
func NotEnoughStars() Failure { return BadRequest("BALANCE_TOO_LOW") }
func Conflict() Failure {
	return Failure{Code: 409, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
}

// FailNext makes the next calls of a method (any case) answer fs, in order.
func (s *Server) FailNext(method string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := strings.ToLower(method)
	s.failNext[m] = append(s.failNext[m], fs...)
}

// FailChat makes the next sendMessage calls to a chat answer fs, in order.
func (s *Server) FailChat(chatID int64, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failChat[chatID] = append(s.failChat[chatID], fs...)
}

// FailChatAlways makes every sendMessage to a chat answer f until ClearChat.
func (s *Server) FailChatAlways(chatID int64, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatAlways[chatID] = f
}

// FailAlways makes every call of a method (any case; "" for every method)
// answer f until ClearAlways, e.g. NonJSON(502) for a proxy in front of a
// Bot API that is down. A per-method failure wins over the "" one.
func (s *Server) FailAlways(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[strings.ToLower(method)] = f
	s.notifyLocked() // pending long polls answer it at once
}

// ClearAlways removes every failure set with FailAlways.
func (s *Server) ClearAlways() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.always)
}

// RevokeToken makes every later call answer 401 Unauthorized, as Telegram
// does once BotFather revoked the token; pending long polls answer it too.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
	s.notifyLocked()
}

// Down makes the server unreachable: the listening socket is closed (new
// connections are refused) and open connections, long polls included, are
// cut. Up brings it back on the same address.
func (s *Server) Down() {
	s.ln.down()
	s.srv.CloseClientConnections()
}

// Up reopens the listening socket Down closed, on the same address.
func (s *Server) Up() error { return s.ln.up() }

// RefusePaid makes every sendMessage with allow_paid_broadcast answer f
// (NotEnoughStars(), say) until AcceptPaid; messages without the flag are
// unaffected. Nothing refused is recorded or rate-counted.
func (s *Server) RefusePaid(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusePaid = &f
}

// RefusePaidAfter is RefusePaid once n more paid messages have been
// accepted: a Stars balance running out in the middle of a fan-out. Paid
// messages already past the check when the n-th is accepted still go
// through, as they would race a real balance.
func (s *Server) RefusePaidAfter(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusePaid, s.paidLeft, s.refuseLater = nil, n, &f
}

// AcceptPaid ends RefusePaid and RefusePaidAfter: the balance was topped up.
func (s *Server) AcceptPaid() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusePaid, s.refuseLater = nil, nil
}

// ClearChat removes the failures set for a chat.
func (s *Server) ClearChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.chatAlways, chatID)
	delete(s.failChat, chatID)
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.Location != "" {
		w.Header().Set("Location", f.Location)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Code)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	body := map[string]any{"ok": false, "error_code": f.Code, "description": f.Description}
	params := map[string]any{}
	if f.RetryAfter > 0 {
		params["retry_after"] = f.RetryAfter
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if f.MigrateTo != 0 {
		params["migrate_to_chat_id"] = f.MigrateTo
	}
	if len(params) > 0 {
		body["parameters"] = params
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Code)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) countFailure(f Failure) {
	if f.Code == 429 {
		s.rateLimited.Add(1)
	} else {
		s.failed.Add(1)
	}
}

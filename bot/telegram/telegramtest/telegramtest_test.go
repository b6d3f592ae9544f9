package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int   `json:"retry_after"`
		MigrateTo  int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func post(t *testing.T, s *Server, method string, form url.Values) (int, answer) {
	t.Helper()
	resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, method), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: body is not JSON: %v", method, err)
	}
	return resp.StatusCode, a
}

func TestBindsLoopbackOnly(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL)
	}
}

func TestParseHTML(t *testing.T) {
	tests := []struct {
		in, plain string
		ok        bool
	}{
		{"<b>a</b> &lt;&gt;&amp;&quot;&#39;&#x41;", `a <>&"'A`, true},
		{"<b>a<i>b</i></b>", "ab", true},
		{`<a href="https://x.com">x</a>`, "x", true},
		{"a < b", "", false},
		{"a > b", "", false},
		{"a & b", "", false},
		{"&nbsp;", "", false},
		{"<b>a</i>", "", false},
		{"<b>a", "", false},
		{"<script>x</script>", "", false},
		{"a\xffb", "", false},
	}
	for _, tc := range tests {
		plain, err := parseHTML(tc.in)
		if (err == nil) != tc.ok || plain != tc.plain {
			t.Errorf("parseHTML(%q) = %q, %v; want %q ok=%v", tc.in, plain, err, tc.plain, tc.ok)
		}
	}
}

func TestSendMessageValidatesAndRecords(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	tests := []struct {
		name string
		form url.Values
		code int
		desc string
	}{
		{"ok", url.Values{"chat_id": {"5"}, "text": {"<b>hi</b>"}, "parse_mode": {"HTML"}, "disable_notification": {"true"}}, 200, ""},
		{"bad html", url.Values{"chat_id": {"5"}, "text": {"a<b"}, "parse_mode": {"HTML"}}, 400, "can't parse entities"},
		{"empty", url.Values{"chat_id": {"5"}, "text": {""}}, 400, "message text is empty"},
		{"too long", url.Values{"chat_id": {"5"}, "text": {strings.Repeat("😀", 2049)}}, 400, "message is too long"},
		{"missing reply", url.Values{"chat_id": {"5"}, "text": {"x"}, "reply_to_message_id": {"99"}}, 400, "replied not found"},
		{"missing reply allowed", url.Values{"chat_id": {"5"}, "text": {"x"}, "reply_to_message_id": {"99"}, "allow_sending_without_reply": {"true"}}, 200, ""},
		{"bad chat", url.Values{"chat_id": {"@nope"}, "text": {"x"}}, 400, "chat not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, a := post(t, s, "sendMessage", tc.form)
			if code != tc.code || !strings.Contains(a.Description, tc.desc) || a.OK != (tc.code == 200) {
				t.Errorf("got %d %+v, want %d %q", code, a, tc.code, tc.desc)
			}
		})
	}
	got := s.SentTo(5)
	if len(got) != 2 || got[0].Plain != "hi" || !got[0].Silent || got[0].MessageID != 1 || got[1].MessageID != 2 {
		t.Errorf("recorded %+v", got)
	}
}

func TestMultipartAndJSONBodies(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("chat_id", "7")
	_ = mw.WriteField("text", "multi")
	mw.Close()
	resp, err := http.Post(fmt.Sprintf(s.Endpoint(), s.Token, "sendMessage"), mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post(fmt.Sprintf(s.Endpoint(), s.Token, "sendMessage"), "application/json", strings.NewReader(`{"chat_id":7,"text":"json"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := s.SentTo(7); len(got) != 2 || got[0].Text != "multi" || got[1].Text != "json" {
		t.Errorf("recorded %+v", got)
	}
}

func TestFailuresAndTokenCheck(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	if code, a := post(t, s, "getMe", nil); code != 200 || !a.OK {
		t.Fatalf("getMe %d %+v", code, a)
	}
	resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), "1:wrong", "getMe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	s.FailNext("getme", TooManyRequests(7))
	if code, a := post(t, s, "getMe", nil); code != 429 || a.Parameters.RetryAfter != 7 {
		t.Errorf("injected 429: %d %+v", code, a)
	}
	s.FailChat(9, MigratedTo(-1009))
	if code, a := post(t, s, "sendMessage", url.Values{"chat_id": {"9"}, "text": {"x"}}); code != 400 || a.Parameters.MigrateTo != -1009 {
		t.Errorf("injected migrate: %d %+v", code, a)
	}
	s.FailChatAlways(9, Blocked())
	for range 2 {
		if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"9"}, "text": {"x"}}); code != 403 {
			t.Errorf("persistent failure: %d", code)
		}
	}
	s.ClearChat(9)
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"9"}, "text": {"x"}}); code != 200 {
		t.Errorf("after clear: %d", code)
	}
	s.FailNext("sendMessage", NonJSON(502))
	resp, err = http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "sendMessage"), url.Values{"chat_id": {"9"}, "text": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("non-JSON failure: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestLongPoll(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	// An empty poll with timeout 0 answers at once.
	if _, a := post(t, s, "getUpdates", url.Values{"timeout": {"0"}}); string(a.Result) != "[]" {
		t.Fatalf("empty poll: %s", a.Result)
	}
	// A waiting poll is answered as soon as an update arrives.
	done := make(chan answer, 1)
	go func() {
		resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getUpdates"), url.Values{"timeout": {"30"}, "allowed_updates": {`["message"]`}})
		var a answer
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
		}
		done <- a
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx, func() bool { return s.Stats().GetUpdatesCalls == 2 }); err != nil {
		t.Fatal(err)
	}
	s.RemoveBot(-1, "kicked") // my_chat_member: not allowed, never delivered
	id := s.Private(User{ID: 3}, "/start")
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		t.Fatal("long poll not woken")
	}
	var ups []struct {
		UpdateID int `json:"update_id"`
	}
	if err := json.Unmarshal(a.Result, &ups); err != nil || len(ups) != 1 || ups[0].UpdateID != id {
		t.Fatalf("got %s, want only update %d", a.Result, id)
	}
	// Confirming with offset drops it.
	post(t, s, "getUpdates", url.Values{"offset": {fmt.Sprint(id + 1)}, "timeout": {"0"}})
	if s.Confirmed() != id+1 {
		t.Errorf("confirmed %d", s.Confirmed())
	}
	// Close ends a pending poll.
	go func() {
		resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getUpdates"), url.Values{"timeout": {"30"}})
		if err == nil {
			resp.Body.Close()
		}
		done <- answer{}
	}()
	if err := s.Wait(ctx, func() bool { return s.Stats().GetUpdatesCalls == 4 }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close left a poll hanging")
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := New(WithLimits(Limits{PerSecond: 100, PerChatPerSecond: 1, PerGroupPerMinute: 2}), WithClock(clock))
	t.Cleanup(s.Close)
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				chat := g*10 + i + 1
				for range 2 { // the second one in the same second is over the per-chat limit
					resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "sendMessage"), url.Values{"chat_id": {fmt.Sprint(chat)}, "text": {"x"}})
					if err == nil {
						resp.Body.Close()
					}
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Sent != 100 || st.RateLimited != 300 || st.SendCalls != 400 {
		t.Errorf("stats %+v: want 100 sent (overall cap), 300 limited", st)
	}
	// Groups: 2 per minute; retry_after runs to the end of the minute.
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	for i, want := range []int{200, 200, 429} {
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
		code, a := post(t, s, "sendMessage", url.Values{"chat_id": {"-100"}, "text": {"x"}})
		if code != want || (want == 429 && a.Parameters.RetryAfter != 60-34) {
			t.Errorf("group send %d: %d %+v", i, code, a)
		}
	}
}

// TestPaidBroadcastLimit: messages with allow_paid_broadcast share a higher
// overall limit; those without stay within the free one; paid ones beyond
// the free amount of their second are counted as charged; every message
// records its flag; without a paid limit the flag changes nothing.
func TestPaidBroadcastLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	frozen := func() time.Time { return now } // every send in one second
	send := func(s *Server, chat int, paid bool) int {
		form := url.Values{"chat_id": {fmt.Sprint(chat)}, "text": {"x"}}
		if paid {
			form.Set("allow_paid_broadcast", "true")
		}
		code, _ := post(t, s, "sendMessage", form)
		return code
	}
	type step struct {
		paid bool
		want int
	}
	tests := []struct {
		name        string
		limits      Limits
		steps       []step
		paidSent    int64
		paidCharged int64
	}{
		{"free first, then paid up to the paid limit", Limits{PerSecond: 3, PaidPerSecond: 5},
			[]step{{false, 200}, {false, 200}, {false, 200}, {false, 429}, {true, 200}, {true, 200}, {true, 429}}, 2, 2},
		{"paid first: the free amount is not charged; the paid limit holds for all", Limits{PerSecond: 3, PaidPerSecond: 5},
			[]step{{true, 200}, {true, 200}, {true, 200}, {true, 200}, {true, 200}, {true, 429}, {false, 429}}, 5, 2},
		{"free messages stay at the free limit beside paid ones", Limits{PerSecond: 2, PaidPerSecond: 10},
			[]step{{true, 200}, {false, 200}, {false, 200}, {false, 429}, {true, 200}}, 2, 1},
		{"no paid limit: the flag changes nothing", Limits{PerSecond: 2},
			[]step{{true, 200}, {true, 200}, {true, 429}, {false, 429}}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(WithLimits(tc.limits), WithClock(frozen))
			t.Cleanup(s.Close)
			for i, st := range tc.steps {
				if got := send(s, i+1, st.paid); got != st.want {
					t.Errorf("step %d (paid %v): %d, want %d", i, st.paid, got, st.want)
				}
			}
			if st := s.Stats(); st.PaidSent != tc.paidSent || st.PaidCharged != tc.paidCharged {
				t.Errorf("stats %+v: want %d paid sent, %d charged", st, tc.paidSent, tc.paidCharged)
			}
			for _, m := range s.Sent() {
				if m.PaidBroadcast != tc.steps[m.ChatID-1].paid {
					t.Errorf("chat %d recorded PaidBroadcast %v", m.ChatID, m.PaidBroadcast)
				}
			}
		})
	}
}

// TestRefusePaid: while the fake refuses paid broadcast (an empty Stars
// balance), paid messages get the failure and are not recorded, the others
// go through; AcceptPaid ends it. The flag on other methods is counted.
func TestRefusePaid(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	s.RefusePaid(NotEnoughStars())
	code, a := post(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"x"}, "allow_paid_broadcast": {"true"}})
	if code != 400 || a.Description != "Bad Request: BALANCE_TOO_LOW" {
		t.Errorf("paid while refused: %d %+v", code, a)
	}
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"x"}}); code != 200 {
		t.Errorf("unpaid while refused: %d", code)
	}
	s.AcceptPaid()
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"y"}, "allow_paid_broadcast": {"True"}}); code != 200 {
		t.Errorf("paid after AcceptPaid: %d", code)
	}
	got := s.SentTo(5)
	if len(got) != 2 || got[0].PaidBroadcast || !got[1].PaidBroadcast {
		t.Errorf("recorded %+v", got)
	}
	post(t, s, "editMessageText", url.Values{"chat_id": {"5"}, "message_id": {"1"}, "text": {"z"}, "allow_paid_broadcast": {"true"}})
	if st := s.Stats(); st.PaidRefused != 1 || st.PaidSent != 1 || st.Failed != 1 || st.PaidElsewhere != 1 {
		t.Errorf("stats %+v", st)
	}

	// A balance running out after two more paid messages.
	s.RefusePaidAfter(2, NotEnoughStars())
	for i, want := range []int{200, 200, 400, 400} {
		if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"6"}, "text": {"x"}, "allow_paid_broadcast": {"true"}}); code != want {
			t.Errorf("paid message %d after RefusePaidAfter(2): %d, want %d", i, code, want)
		}
	}
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"6"}, "text": {"x"}}); code != 200 {
		t.Errorf("unpaid once the balance ran out: %d", code)
	}
	s.AcceptPaid()
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"6"}, "text": {"x"}, "allow_paid_broadcast": {"true"}}); code != 200 {
		t.Errorf("paid after AcceptPaid: %d", code)
	}
}

func TestDownRefusesConnectionsThenUpServesAgain(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	if code, _ := post(t, s, "getMe", nil); code != 200 {
		t.Fatalf("getMe before down: %d", code)
	}
	s.Down()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := client.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getMe"), nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("getMe while down: %v, want connection refused", err)
	}
	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	// Down cut the connection kept alive by the first call; a POST on it
	// would fail with EOF instead of dialling again.
	http.DefaultClient.CloseIdleConnections()
	if code, _ := post(t, s, "getMe", nil); code != 200 {
		t.Fatalf("getMe after up: %d", code)
	}
}

func TestFailAlwaysAndRevokeToken(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	s.FailAlways("", NonJSON(502))
	for range 2 {
		resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getMe"), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "text/html" {
			t.Fatalf("getMe: %d %s, want an HTML 502", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	s.ClearAlways()
	if code, _ := post(t, s, "getMe", nil); code != 200 {
		t.Fatalf("getMe after ClearAlways: %d", code)
	}

	// A long poll in progress answers 401 as soon as the token is revoked.
	done := make(chan int, 1)
	go func() {
		resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getUpdates"), url.Values{"timeout": {"30"}})
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Wait(ctx, func() bool { return s.Stats().GetUpdatesCalls == 1 }); err != nil {
		t.Fatal(err)
	}
	s.RevokeToken()
	select {
	case code := <-done:
		if code != 401 {
			t.Errorf("pending getUpdates answered %d, want 401", code)
		}
	case <-ctx.Done():
		t.Fatal("pending getUpdates did not end")
	}
	if code, a := post(t, s, "sendMessage", url.Values{"chat_id": {"1"}, "text": {"x"}}); code != 401 || a.ErrorCode != 401 {
		t.Errorf("sendMessage after revoke: %d %+v", code, a)
	}
	if got := s.Stats().Requests; got != 5 {
		t.Errorf("Requests = %d, want 5", got)
	}
}

// TestCallbackAnswersAndEdits checks the fake keeps Telegram's rules for
// presses: one answer per query, keyboards validated, edits of known
// messages only, "not modified" for an identical edit, no keyboard after
// an edit without one.
func TestCallbackAnswersAndEdits(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	kb := `{"inline_keyboard":[[{"text":"Mute","callback_data":"/mute 2h"}]]}`
	if code, a := post(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"hi"}, "reply_markup": {`{"inline_keyboard":[[{"text":"x","callback_data":"` + strings.Repeat("y", 65) + `"}]]}`}}); code != 400 || !strings.Contains(a.Description, "BUTTON_DATA_INVALID") {
		t.Errorf("65-byte callback_data: %d %q", code, a.Description)
	}
	if code, _ := post(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"settings"}, "reply_markup": {kb}}); code != 200 {
		t.Fatalf("sendMessage with a keyboard: %d", code)
	}
	sent := s.SentTo(5)
	if len(sent) != 1 || len(sent[0].Buttons) != 1 || sent[0].Buttons[0][0] != (Button{Text: "Mute", Data: "/mute 2h"}) {
		t.Fatalf("sent %+v", sent)
	}
	_, query := s.PushCallback(Press{From: User{ID: 5}, ChatID: 5, MessageID: sent[0].MessageID, Data: "/mute 2h"})
	if code, _ := post(t, s, "answerCallbackQuery", url.Values{"callback_query_id": {query}, "text": {"ok"}}); code != 200 {
		t.Errorf("first answer: %d", code)
	}
	if code, a := post(t, s, "answerCallbackQuery", url.Values{"callback_query_id": {query}}); code != 400 || !strings.Contains(a.Description, "query is too old") {
		t.Errorf("second answer: %d %q", code, a.Description)
	}
	if got := s.CallbackAnswers(); len(got) != 1 || got[0].QueryID != query || got[0].Text != "ok" {
		t.Errorf("answers %+v", got)
	}
	id := fmt.Sprint(sent[0].MessageID)
	edit := func(msgID, text, markup string) (int, answer) {
		v := url.Values{"chat_id": {"5"}, "message_id": {msgID}, "text": {text}}
		if markup != "" {
			v.Set("reply_markup", markup)
		}
		return post(t, s, "editMessageText", v)
	}
	if code, a := edit("99", "x", ""); code != 400 || !strings.Contains(a.Description, "message to edit not found") {
		t.Errorf("edit of an unknown message: %d %q", code, a.Description)
	}
	if code, a := edit(id, "settings", kb); code != 400 || !strings.Contains(a.Description, "message is not modified") {
		t.Errorf("identical edit: %d %q", code, a.Description)
	}
	if code, _ := edit(id, "muted", ""); code != 200 {
		t.Errorf("edit: %d", code)
	}
	if e := s.Edits(5); len(e) != 1 || e[0].Plain != "muted" || e[0].Buttons != nil {
		t.Errorf("edits %+v, want one without keyboard", e)
	}
}

// Two pollers on one token: the waiting getUpdates is ended with 409, as
// Telegram does, and counted.
func TestSecondPollerEndsTheFirstWithConflict(t *testing.T) {
	s := New()
	t.Cleanup(s.Close)
	poll := func(timeout string, into chan<- answer) {
		var a answer
		resp, err := http.PostForm(fmt.Sprintf(s.Endpoint(), s.Token, "getUpdates"), url.Values{"timeout": {timeout}})
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
		}
		if err != nil {
			a.Description = err.Error()
		}
		into <- a
	}
	first := make(chan answer, 1)
	go poll("30", first)
	if err := s.Wait(context.Background(), func() bool { return s.Stats().GetUpdatesCalls == 1 && s.LastPoll().Timeout == 30 }); err != nil {
		t.Fatal(err)
	}
	done := make(chan answer, 1)
	go poll("1", done)
	a := <-first
	if a.OK || a.ErrorCode != 409 || !strings.Contains(a.Description, "Conflict") {
		t.Fatalf("first poll answered %+v, want 409 Conflict", a)
	}
	if b := <-done; !b.OK {
		t.Fatalf("second poll answered %+v, want ok", b)
	}
	if n := s.Stats().Conflicts; n != 1 {
		t.Fatalf("Conflicts = %d, want 1", n)
	}
}

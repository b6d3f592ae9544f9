package webhook

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
	"github.com/xstatusbot/xstatusbot/bot/bottest"
)

// secretMark is in every token of the test URLs: finding it in an error or a
// log means a URL leaked, in whatever form.
const secretMark = "S3CRET"

// receiver is a webhook endpoint on 127.0.0.1 that answers like the real
// kind (Slack "ok", Discord the message with its id, json 204) unless told
// to fail. It records every request, including the failed ones.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	kind string

	mu       sync.Mutex
	requests []request
	faults   []fault
	hang     bool
	nextID   int
}

type request struct {
	Path, RawQuery, ContentType string
	Body                        []byte
	Failed                      bool // answered with a non-2xx fault or not at all
}

// fault is one answer the receiver gives instead of a success.
type fault struct {
	status int
	header map[string]string
	body   string
}

func newReceiver(t *testing.T, kind string) *receiver {
	t.Helper()
	r := &receiver{t: t, kind: kind}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's webhook URL: a token in the path (like Slack and
// Discord) and, for json, in the query too; both escaped where it matters.
func (r *receiver) URL() string {
	switch r.kind {
	case KindSlack:
		return r.srv.URL + "/services/T0001/B0001/" + secretMark + "slackTok%2Fx"
	case KindDiscord:
		return r.srv.URL + "/api/webhooks/1234/" + secretMark + "-disc:tok"
	default:
		return r.srv.URL + "/hook/" + secretMark + "path?key=" + secretMark + "%2Bq&x=1"
	}
}

// fail makes the next n requests get f.
func (r *receiver) fail(n int, f fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.faults = append(r.faults, f)
	}
}

// setHang makes requests wait until the client gives up.
func (r *receiver) setHang(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang = on
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	hang := r.hang
	var f *fault
	if len(r.faults) > 0 && !hang {
		f = &r.faults[0]
		r.faults = r.faults[1:]
	}
	r.requests = append(r.requests, request{Path: req.URL.Path, RawQuery: req.URL.RawQuery, ContentType: req.Header.Get("Content-Type"), Body: body, Failed: hang || (f != nil && f.status >= 300)})
	r.nextID++
	id := r.nextID
	r.mu.Unlock()

	if hang {
		<-req.Context().Done()
		return
	}
	if f != nil {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
		return
	}
	switch r.kind {
	case KindSlack:
		_, _ = io.WriteString(w, "ok")
	case KindDiscord:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"%d","type":0,"channel_id":"42"}`, 900000+id)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// all returns the requests so far.
func (r *receiver) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

// delivered returns the bodies of the requests answered with success.
func (r *receiver) delivered() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, q := range r.requests {
		if !q.Failed {
			out = append(out, q.Body)
		}
	}
	return out
}

// closedURL is a URL on 127.0.0.1 where nothing listens: connection refused.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/hook/" + secretMark + "closed"
}

// newNotifier builds a Notifier for entries, failing the test on bad settings.
func newNotifier(t *testing.T, client *http.Client, log io.Writer, entries ...string) *Notifier {
	t.Helper()
	n, err := New(Config{URLs: secretOf(strings.Join(entries, ",")), Rate: 5}, client, textLogger(log))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

// idOf is the chat id of the one entry raw.
func idOf(t *testing.T, raw string) string {
	t.Helper()
	subs := Config{URLs: secretOf(raw), Rate: 1}.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("entry gave %d subscriptions", len(subs))
	}
	return subs[0].Chat.ID
}

// assertNoSecret fails if text holds any part of a test URL's token. what
// names the text for the reader; a failure points at the calling line.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	bottest.AssertNoSecret(t, secretMark, text)
}

func secretOf(s string) adapterkit.Secret { return adapterkit.Secret(s) }

func textLogger(w io.Writer) *slog.Logger {
	if w == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

package telegram

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/xstatusbot/xstatusbot/bot/adapterkit"
)

// The token travels in the URL path (…/bot<token>/<method>), so every
// *url.Error the HTTP client returns prints it. The library takes an
// HTTPClient (a Doer) and builds its requests without a context, so each call
// gets its own callDoer: it binds the call's context, records the HTTP status
// the library throws away, and redacts the token from any error. It sits
// outside *http.Client, which is where the *url.Error carrying the URL is
// built; a RoundTripper-level wrapper would be too deep to catch it.

// callDoer is the library's HTTP client for exactly one API call.
type callDoer struct {
	ctx    context.Context
	client *http.Client
	secret adapterkit.Secret

	// Filled by Do: the HTTP status and Retry-After header of the response,
	// so a non-JSON body (a proxy's 502 page) can still be classified.
	status     int
	retryAfter time.Duration
}

func (d *callDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req.WithContext(d.ctx))
	if err != nil {
		return nil, d.secret.RedactError(err)
	}
	d.status = resp.StatusCode
	// An HTTP-date is the server's wall-clock time, so it is read against
	// the real clock, not the adapter's.
	if wait, ok := adapterkit.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		d.retryAfter = wait
	}
	resp.Body = drainingBody{resp.Body}
	return resp, nil
}

// drainingBody reads what the library's JSON decoder left (a trailing
// newline, an HTML error page) before closing, so the connection is reused.
type drainingBody struct{ io.ReadCloser }

func (b drainingBody) Close() error {
	_, _ = io.Copy(io.Discard, io.LimitReader(b.ReadCloser, 64<<10))
	return b.ReadCloser.Close()
}

// tokenPattern matches anything shaped like a bot token ("123456:AA…"), so a
// logger shared by every adapter in the process can redact without knowing
// which token it is protecting.
var tokenPattern = regexp.MustCompile(`[0-9]{3,}:[A-Za-z0-9_-]{20,}`)

// RedactTokens removes everything shaped like a Telegram bot token from s.
func RedactTokens(s string) string { return tokenPattern.ReplaceAllString(s, "[redacted]") }

// libraryLogger is a tgbotapi.BotLogger writing through slog with every
// token-shaped string removed.
type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Println(v ...any) {
	l.log.Warn(RedactTokens(strings.TrimSuffix(fmt.Sprintln(v...), "\n")), "source", "tgbotapi")
}

func (l libraryLogger) Printf(format string, v ...any) {
	l.log.Warn(RedactTokens(strings.TrimSuffix(fmt.Sprintf(format, v...), "\n")), "source", "tgbotapi")
}

// SetLibraryLogger routes the library's package-global logger through log,
// redacting anything shaped like a token. The library only logs with Debug on
// or from GetUpdatesChan, neither of which this adapter uses, so this is
// defence in depth; because the logger is global to the process, call it once
// from main (before any adapter runs), never per adapter. A nil log discards.
func SetLibraryLogger(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_ = tgbotapi.SetLogger(libraryLogger{log: log}) // fails only for a nil logger
}

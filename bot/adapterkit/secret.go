package adapterkit

import (
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// Secret holds a token. It prints as [redacted] in every format and log, so a
// token cannot leak through a stray %v or slog attribute.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the token itself, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// Redact replaces every occurrence of the secret in text, raw, path-escaped
// or query-escaped: a token inside a URL is printed escaped.
func (s Secret) Redact(text string) string { return Secrets{s}.Redact(text) }

// RedactError returns err without the secret; see Secrets.RedactError.
func (s Secret) RedactError(err error) error { return Secrets{s}.RedactError(err) }

// Secrets are redacted together: a webhook URL and its token-bearing parts.
type Secrets []Secret

// forms lists every text to remove, longest first, so a shorter secret never
// leaves pieces of a longer one that contains it.
func (ss Secrets) forms() []string {
	var out []string
	for _, s := range ss {
		if s == "" {
			continue
		}
		raw := string(s)
		for _, f := range []string{raw, url.PathEscape(raw), url.QueryEscape(raw)} {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Redact replaces every form of every secret in text.
func (ss Secrets) Redact(text string) string {
	for _, f := range ss.forms() {
		text = strings.ReplaceAll(text, f, redacted)
	}
	return text
}

// In reports whether text holds any form of any secret.
func (ss Secrets) In(text string) bool {
	return slices.ContainsFunc(ss.forms(), func(f string) bool { return strings.Contains(text, f) })
}

// RedactError returns err with every form of the secrets removed from its
// text; an error without them is returned as it is. A *url.Error (what
// net/http returns, printing the URL a token travels in) keeps its type and
// Op with the URL redacted, so Timeout() and errors.Is on its cause still
// work. An error whose own text holds a secret is replaced by one that has
// its redacted text, its Timeout() and its answers to errors.Is, but does
// not unwrap: errors.As must not reach the original and print it.
func (ss Secrets) RedactError(err error) error {
	if err == nil || !ss.In(err.Error()) {
		return err
	}
	if ue, ok := err.(*url.Error); ok {
		inner := ue.Err
		if inner != nil && ss.In(inner.Error()) {
			inner = ss.hide(inner)
		}
		return &url.Error{Op: ue.Op, URL: ss.Redact(ue.URL), Err: inner}
	}
	return ss.hide(err)
}

func (ss Secrets) hide(err error) error {
	var t interface{ Timeout() bool }
	return &redactedError{msg: ss.Redact(err.Error()), timeout: errors.As(err, &t) && t.Timeout(), orig: err}
}

// redactedError stands in for an error whose text held a secret.
type redactedError struct {
	msg     string
	timeout bool
	orig    error // only for Is; never unwrapped
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Timeout() bool        { return e.timeout }
func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

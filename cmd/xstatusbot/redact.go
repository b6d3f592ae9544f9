package main

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// urlPattern finds what looks like a URL in a message: a scheme, "://" and
// everything up to a space, a quote or a list separator.
var urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>,;|` + "`" + `]+`)

// redactURLs rewrites every URL in s to its scheme, host and port: a URL's
// user info, path and query may hold a secret (a password, a bot token in
// TELEGRAM_API_ENDPOINT's path, an API key in a probe target's query), and
// configuration errors are printed and logged. What is left still tells
// which setting and which host is meant.
func redactURLs(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(raw string) string {
		scheme, rest, _ := strings.Cut(raw, "://")
		host := rest
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		if u, err := url.Parse(scheme + "://" + host); err == nil && u.Host != "" {
			host = u.Host
		}
		out := scheme + "://" + host
		if len(rest) > len(host) || strings.Contains(rest, "@") {
			out += "/…"
		}
		return out
	})
}

// redactErr is err with every URL in its text redacted (redactURLs).
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(redactURLs(err.Error()))
}

package probe

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Target is one URL the probe checks each round.
type Target struct {
	// Name is the component name shown to users ("web", "api").
	Name string
	URL  string
	// Accept lists the HTTP statuses that mean "healthy". Empty means 200-399.
	Accept []StatusRange
	// BodyContains, when set, must appear in the first bytes of the body.
	BodyContains string
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// Accepts reports whether status counts as healthy for t.
func (t Target) Accepts(status int) bool {
	if len(t.Accept) == 0 {
		return status >= 200 && status <= 399
	}
	for _, r := range t.Accept {
		if status >= r.Lo && status <= r.Hi {
			return true
		}
	}
	return false
}

// ParseTargets parses a comma-separated list of target specs:
//
//	[name=]URL[;status=LIST][;body=TEXT]
//
// LIST is codes or ranges joined by "|", e.g. "200-299|401". The name defaults
// to the URL's host. Every malformed entry is reported, not only the first.
func ParseTargets(spec string) ([]Target, error) {
	var (
		targets []Target
		errs    []error
		seen    = map[string]bool{}
	)
	for _, raw := range strings.Split(spec, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t, err := parseTarget(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", raw, err))
			continue
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("%q: duplicate target name %q", raw, t.Name))
			continue
		}
		seen[t.Name] = true
		targets = append(targets, t)
	}
	return targets, errors.Join(errs...)
}

func parseTarget(raw string) (Target, error) {
	parts := strings.Split(raw, ";")
	var t Target
	head := strings.TrimSpace(parts[0])
	if name, rest, ok := strings.Cut(head, "="); ok && !strings.Contains(name, "/") && !strings.Contains(name, ":") {
		t.Name, head = strings.TrimSpace(name), strings.TrimSpace(rest)
		if t.Name == "" {
			return t, errors.New("empty name before '='")
		}
	}
	u, err := url.Parse(head)
	if err != nil {
		return t, fmt.Errorf("bad URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return t, errors.New("URL must start with http:// or https://")
	}
	if u.Host == "" {
		return t, errors.New("URL has no host")
	}
	t.URL = head
	if t.Name == "" {
		t.Name = u.Hostname()
	}
	for _, opt := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok {
			return t, fmt.Errorf("option %q is not key=value", opt)
		}
		switch strings.TrimSpace(key) {
		case "status":
			ranges, err := parseStatusList(val)
			if err != nil {
				return t, err
			}
			t.Accept = ranges
		case "body":
			if val == "" {
				return t, errors.New("body= needs a text")
			}
			t.BodyContains = val
		default:
			return t, fmt.Errorf("unknown option %q (want status= or body=)", key)
		}
	}
	return t, nil
}

func parseStatusList(list string) ([]StatusRange, error) {
	var out []StatusRange
	for _, item := range strings.Split(list, "|") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, fmt.Errorf("bad status %q (want a code 100-599 or a range like 200-299)", item)
		}
		out = append(out, StatusRange{l, h})
	}
	return out, nil
}

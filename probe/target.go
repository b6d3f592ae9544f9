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
// LIST is codes or ranges joined by "|", e.g. "200-299|401". A target without
// a name gets a distinct one derived from its URL (see defaultNames); two
// explicit equal names are an error. Every malformed entry is reported, not
// only the first.
func ParseTargets(spec string) ([]Target, error) {
	var (
		targets  []Target
		explicit []bool
		errs     []error
		seen     = map[string]bool{}
	)
	for _, raw := range strings.Split(spec, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		t, named, err := parseTarget(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", raw, err))
			continue
		}
		if named {
			if seen[t.Name] {
				errs = append(errs, fmt.Errorf("%q: duplicate target name %q", raw, t.Name))
				continue
			}
			seen[t.Name] = true
		}
		targets = append(targets, t)
		explicit = append(explicit, named)
	}
	defaultNames(targets, explicit, seen)
	return targets, errors.Join(errs...)
}

// defaultNames names the targets that have no explicit name, so that plain
// URLs on one host stay apart: the host when it is unique, else host and
// path ("x.com/a"), else that name numbered ("x.com/a-2"). taken holds the
// explicit names, which always win.
func defaultNames(targets []Target, explicit []bool, taken map[string]bool) {
	short := map[string]int{}
	for i, t := range targets {
		if !explicit[i] {
			short[t.Name]++ // parseTarget left the host there
		}
	}
	for i := range targets {
		if explicit[i] {
			continue
		}
		name := targets[i].Name
		if short[name] > 1 || taken[name] {
			if u, err := url.Parse(targets[i].URL); err == nil {
				name += strings.TrimRight(u.EscapedPath(), "/")
			}
		}
		for n, base := 2, name; taken[name]; n++ {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		taken[name] = true
		targets[i].Name = name
	}
}

// parseTarget parses one spec; without an explicit name (named false) the
// name is the URL's host for now.
func parseTarget(raw string) (t Target, named bool, err error) {
	parts := strings.Split(raw, ";")
	head := strings.TrimSpace(parts[0])
	if name, rest, ok := strings.Cut(head, "="); ok && !strings.Contains(name, "/") && !strings.Contains(name, ":") {
		t.Name, head, named = strings.TrimSpace(name), strings.TrimSpace(rest), true
		if t.Name == "" {
			return t, named, errors.New("empty name before '='")
		}
	}
	u, err := url.Parse(head)
	if err != nil {
		return t, named, fmt.Errorf("bad URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return t, named, errors.New("URL must start with http:// or https://")
	}
	if u.Host == "" {
		return t, named, errors.New("URL has no host")
	}
	t.URL = head
	if t.Name == "" {
		t.Name = u.Hostname()
	}
	for _, opt := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok {
			return t, named, fmt.Errorf("option %q is not key=value", opt)
		}
		switch strings.TrimSpace(key) {
		case "status":
			ranges, err := parseStatusList(val)
			if err != nil {
				return t, named, err
			}
			t.Accept = ranges
		case "body":
			if val == "" {
				return t, named, errors.New("body= needs a text")
			}
			t.BodyContains = val
		default:
			return t, named, fmt.Errorf("unknown option %q (want status= or body=)", key)
		}
	}
	return t, named, nil
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

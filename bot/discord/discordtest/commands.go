package discordtest

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// commandName is Discord's rule for command and option names (CHAT_INPUT).
var commandName = regexp.MustCompile(`^[-_\p{L}\p{N}]{1,32}$`)

// locales Discord accepts in localization maps (the ones a test may use).
var locales = map[string]bool{"fr": true, "en-US": true, "en-GB": true, "de": true, "es-ES": true}

// Option types this fake knows.
const (
	OptionString  = 3
	OptionInteger = 4
)

// commandViolation checks a command as Discord does on a bulk overwrite.
func commandViolation(c Command) string {
	if v := nameViolation("command", c.Name, c.NameLocalizations); v != "" {
		return v
	}
	if v := descViolation("command "+c.Name, c.Description, c.DescriptionLocalizations); v != "" {
		return v
	}
	if len(c.Options) > 25 {
		return fmt.Sprintf("command %s: more than 25 options", c.Name)
	}
	optional := false
	for _, o := range c.Options {
		where := fmt.Sprintf("command %s option %s", c.Name, o.Name)
		if v := nameViolation(where, o.Name, o.NameLocalizations); v != "" {
			return v
		}
		if v := descViolation(where, o.Description, o.DescriptionLocalizations); v != "" {
			return v
		}
		if o.Type != OptionString && o.Type != OptionInteger {
			return where + ": type not supported by this fake"
		}
		if o.Required && optional {
			return where + ": required options must be placed before non-required options"
		}
		optional = optional || !o.Required
		if len(o.Choices) > 25 {
			return where + ": more than 25 choices"
		}
		for _, ch := range o.Choices {
			if n := utf8.RuneCountInString(ch.Name); n < 1 || n > 100 {
				return where + ": choice name must be 1-100 characters"
			}
			for loc, l := range ch.NameLocalizations {
				if n := utf8.RuneCountInString(l); !locales[loc] || n < 1 || n > 100 {
					return where + ": invalid choice name localization " + loc
				}
			}
			if _, isString := ch.Value.(string); (o.Type == OptionString) != isString {
				return where + ": choice value of the wrong type"
			}
		}
		if o.MaxLength < 0 || o.MaxLength > 6000 {
			return where + ": max_length must be 0-6000"
		}
	}
	return ""
}

func nameViolation(where, name string, locs map[string]string) string {
	check := func(n string) bool { return commandName.MatchString(n) && strings.ToLower(n) == n }
	if !check(name) {
		return fmt.Sprintf("%s: invalid name %q", where, name)
	}
	for loc, n := range locs {
		if !locales[loc] || !check(n) {
			return fmt.Sprintf("%s: invalid name localization %s=%q", where, loc, n)
		}
	}
	return ""
}

func descViolation(where, desc string, locs map[string]string) string {
	if n := utf8.RuneCountInString(desc); n < 1 || n > 100 {
		return where + ": description must be 1-100 characters"
	}
	for loc, d := range locs {
		if n := utf8.RuneCountInString(d); !locales[loc] || n < 1 || n > 100 {
			return fmt.Sprintf("%s: invalid description localization %s", where, loc)
		}
	}
	return ""
}

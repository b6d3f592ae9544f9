package bot

import (
	"log/slog"
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

// Redact replaces every occurrence of the secret in text.
func (s Secret) Redact(text string) string {
	if s == "" {
		return text
	}
	return strings.ReplaceAll(text, string(s), redacted)
}

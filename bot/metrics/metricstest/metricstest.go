// Package metricstest reads a set of metrics back in tests, through the
// text the /metrics endpoint would serve.
package metricstest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
)

// Text is what s writes for a scrape.
func Text(s *vm.Set) string {
	var b bytes.Buffer
	s.WritePrometheus(&b)
	return b.String()
}

// Series is every sample of s by its series name as written
// (name{k="v",...}, see metrics.Name). It fails t if the text does not parse.
func Series(t testing.TB, s *vm.Set) map[string]float64 {
	t.Helper()
	out, err := Parse(Text(s))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Value is the sample of the series name in s, and whether s has it.
func Value(t testing.TB, s *vm.Set, name string) (float64, bool) {
	t.Helper()
	v, ok := Series(t, s)[name]
	return v, ok
}

// Family is the samples of family in s by series name (for a histogram,
// pass the name of its _bucket, _sum or _count series).
func Family(t testing.TB, s *vm.Set, family string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, v := range Series(t, s) {
		if name == family || strings.HasPrefix(name, family+"{") {
			out[name] = v
		}
	}
	return out
}

// Sum adds the samples of family in s over their labels.
func Sum(t testing.TB, s *vm.Set, family string) float64 {
	t.Helper()
	var sum float64
	for _, v := range Family(t, s, family) {
		sum += v
	}
	return sum
}

// Type is the family's type from its # TYPE line in s ("" if none).
func Type(t testing.TB, s *vm.Set, family string) string {
	t.Helper()
	for _, line := range strings.Split(Text(s), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && f[2] == family {
			return f[3]
		}
	}
	return ""
}

// Parse checks text line by line as a Prometheus scraper would read it:
// comments are # HELP or # TYPE with at most one TYPE per family, before
// its samples; a sample is a valid series name, a space and a number. It
// returns the samples by series name.
func Parse(text string) (map[string]float64, error) {
	out := map[string]float64{}
	typed := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if text == "" {
			break
		}
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) < 3 || (f[1] != "HELP" && f[1] != "TYPE") {
				return nil, fmt.Errorf("line %d: bad comment %q", i+1, line)
			}
			if f[1] == "TYPE" {
				if len(f) != 4 || typed[f[2]] {
					return nil, fmt.Errorf("line %d: bad or repeated TYPE %q", i+1, line)
				}
				typed[f[2]] = true
			}
			continue
		}
		n := strings.LastIndexByte(line, ' ')
		if n < 0 {
			return nil, fmt.Errorf("line %d: no value in %q", i+1, line)
		}
		name, value := line[:n], line[n+1:]
		if err := vm.ValidateMetric(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: series %s twice", i+1, name)
		}
		out[name] = v
	}
	return out, nil
}

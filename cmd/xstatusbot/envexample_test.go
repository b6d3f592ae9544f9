package main

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is where README.md and .env.example live, seen from this package.
var repoRoot = filepath.Join("..", "..")

// readOutsideConfig are settings the bot reads without loadConfig: the Go
// runtime reads GOMEMLIMIT and GOMAXPROCS itself, and main only asks whether
// they are set.
var readOutsideConfig = map[string]string{"GOMEMLIMIT": "main.go", "GOMAXPROCS": "main.go"}

// TestEnvExampleMatchesConfig keeps .env.example in step with the code: it
// parses as the defaults, and it names every setting the bot reads.
func TestEnvExampleMatchesConfig(t *testing.T) {
	path := filepath.Join(repoRoot, ".env.example")
	fromFile, err := loadConfig(lookupFrom(nil), path)
	if err != nil {
		t.Fatalf(".env.example is not a valid configuration: %v", err)
	}
	defaults, _ := loadConfig(lookupFrom(nil), "")
	if fromFile.ProbeTargetsSpec != defaults.ProbeTargetsSpec || len(fromFile.Controls) != len(defaults.Controls) ||
		fromFile.ProbeSchedule != defaults.ProbeSchedule || fromFile.HTTPAddr != defaults.HTTPAddr {
		t.Fatalf(".env.example differs from the defaults:\n%+v\n%+v", fromFile, defaults)
	}
	example := readEnvExample(t)
	for _, key := range append(envKeys(adapters()), controlsKey) {
		if _, ok := example[key]; !ok {
			t.Errorf(".env.example lacks %s", key)
		}
	}
}

// TestReadmeSettingsTable reads the settings table of README.md: every
// setting the code reads has one row, every row is a setting the code reads,
// and a default written as one plain value (`10s`) is the code's envDefault
// and the value in .env.example; a default written "unset: …" is empty in
// both. Defaults in words (computed ones, such as PROBE_CONFIRM_DELAY's) are
// left to the manuals.
func TestReadmeSettingsTable(t *testing.T) {
	rows := readmeSettings(t)
	example := readEnvExample(t)
	tags := envDefaults()

	read := map[string]bool{controlsKey: true}
	for _, key := range envKeys(adapters()) {
		read[key] = true
	}
	for key, file := range readOutsideConfig {
		src, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(src), `os.LookupEnv("`+key+`")`) {
			t.Errorf("%s no longer reads %s (%v): drop it from readOutsideConfig and the README", file, key, err)
		}
		read[key] = true
	}
	for key := range read {
		if _, ok := rows[key]; !ok {
			t.Errorf("README.md's settings table has no row for %s", key)
		}
	}

	plain := regexp.MustCompile("^`([^`]*)`$")
	for key, def := range rows {
		if !read[key] {
			t.Errorf("README.md's settings table lists %s, which the bot does not read", key)
			continue
		}
		tag, hasTag := tags[key]
		value, inExample := example[key]
		switch m := plain.FindStringSubmatch(def); {
		case m != nil:
			if hasTag && m[1] != tag {
				t.Errorf("README.md gives %s the default %q; the code's is %q", key, m[1], tag)
			}
			if !inExample || value != m[1] {
				t.Errorf("README.md gives %s the default %q; .env.example has %q", key, m[1], value)
			}
		case strings.HasPrefix(def, "unset"):
			if hasTag {
				t.Errorf("README.md says %s is unset by default; the code's default is %q", key, tag)
			}
			if !inExample || value != "" {
				t.Errorf("README.md says %s is unset by default; .env.example has %q", key, value)
			}
		case hasTag:
			t.Errorf("README.md gives %s the default %q in words; the code's is the plain %q: write it as `%s`", key, def, tag, tag)
		}
	}
}

// readmeSettings parses the first table under README.md's "## Settings":
// setting name → its default cell.
func readmeSettings(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var table [][]string
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "|") {
			if inSection {
				table = append(table, tableCells(line))
			}
			continue
		}
		if len(table) > 0 {
			break // the table has ended
		}
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Settings"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(table) < 3 {
		t.Fatalf("README.md has no settings table under \"## Settings\"")
	}
	nameCol, defCol := -1, -1
	for i, h := range table[0] {
		switch strings.ToLower(h) {
		case "setting", "variable":
			nameCol = i
		case "default":
			defCol = i
		}
	}
	if nameCol < 0 || defCol < 0 {
		t.Fatalf("README.md's settings table has no setting or default column: %q", table[0])
	}
	name := regexp.MustCompile("^`([A-Z][A-Z0-9_]*)`$")
	rows := map[string]string{}
	for _, row := range table[2:] {
		if len(row) != len(table[0]) {
			t.Errorf("README.md's settings row %q has %d cells, want %d", row, len(row), len(table[0]))
			continue
		}
		m := name.FindStringSubmatch(row[nameCol])
		if m == nil {
			t.Errorf("README.md's settings row %q does not start with one `NAME`", row)
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README.md's settings table lists %s twice", m[1])
		}
		rows[m[1]] = row[defCol]
	}
	return rows
}

// tableCells splits a Markdown table row on the pipes that are not escaped.
func tableCells(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// envDefaults maps each setting that has an envDefault tag to it.
func envDefaults() map[string]string {
	out := map[string]string{}
	structs := []any{Config{}}
	for _, a := range adapters() {
		structs = append(structs, a)
	}
	for _, v := range structs {
		typ := reflect.Indirect(reflect.ValueOf(v)).Type()
		for i := range typ.NumField() {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ",")
			if def, ok := typ.Field(i).Tag.Lookup("envDefault"); ok && key != "" && key != "-" {
				out[key] = def
			}
		}
	}
	return out
}

func readEnvExample(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseDotenv(src)
	if err != nil {
		t.Fatalf(".env.example: %v", err)
	}
	return m
}

// TestReadmeLinks follows every relative link in the README.md files: the
// file exists and, for a link to a heading, the heading does (the manuals
// point at each other's sections, which move and get renamed).
func TestReadmeLinks(t *testing.T) {
	var readmes []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repoRoot && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "README.md" {
			readmes = append(readmes, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(readmes) < 2 {
		t.Fatalf("found %d README.md files under %s", len(readmes), repoRoot)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	code := regexp.MustCompile("`[^`]*`")
	for _, file := range readmes {
		lines, _ := markdownText(t, file)
		for _, line := range lines {
			for _, m := range link.FindAllStringSubmatch(code.ReplaceAllString(line, "``"), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s links to %s, which does not exist", file, target)
					continue
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s links to a heading of %s, which is not Markdown", file, target)
					continue
				}
				if _, anchors := markdownText(t, dest); !anchors[anchor] {
					t.Errorf("%s links to %s, but %s has no heading with that anchor", file, target, dest)
				}
			}
		}
	}
}

// markdownText returns a Markdown file's lines outside code blocks, and the
// anchors its headings get (GitHub's rule: lower case, punctuation dropped,
// spaces as hyphens, -1, -2 … for repeats).
func markdownText(t *testing.T, file string) ([]string, map[string]bool) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		lines = append(lines, line)
		if !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var slug strings.Builder
		for _, r := range strings.ToLower(heading) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				slug.WriteRune(r)
			case r == ' ':
				slug.WriteRune('-')
			}
		}
		s := slug.String()
		if n := seen[s]; n > 0 {
			anchors[s+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[s] = true
		}
		seen[s]++
	}
	return lines, anchors
}

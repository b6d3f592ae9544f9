package store

import (
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/probe"
)

func TestPruneCadence(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var c pruneCadence
	if !c.due(t0) {
		t.Fatal("the first round does not prune")
	}
	c.pruned(t0, false)
	for _, tc := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"within pruneEvery", t0.Add(pruneEvery - time.Nanosecond), false},
		{"pruneEvery later", t0.Add(pruneEvery), true},
		{"clock went back", t0.Add(-time.Second), true},
	} {
		if got := c.due(tc.at); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
	c.pruned(t0, true)
	if !c.due(t0.Add(time.Second)) {
		t.Error("a full batch does not prune again at the next round")
	}
}

func TestColumnsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 123, time.FixedZone("x", 3600))
	if got := fromNanos(nanos(at)); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("time %v came back as %v", at, got)
	}
	if n := nanos(time.Time{}); n != 0 || !fromNanos(n).IsZero() {
		t.Errorf("the zero time is %d", n)
	}

	causes, err := encodeCauses(nil)
	if err != nil || string(causes) != "[]" {
		t.Fatalf("no causes encode as %q (%v), want []", causes, err)
	}
	want := []bot.Cause{{Component: "api", Detail: "HTTP 503"}}
	causes, err = encodeCauses(want)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeCauses([]byte(causes)); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("causes came back as %v (%v), want %v", got, err, want)
	}

	regions := []bot.RegionVerdict{{Region: "eu", Verdict: probe.VerdictDown}, {Region: "us", Verdict: probe.VerdictUp}}
	col, err := encodeRegions(regions)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeRegions(col); err != nil || !reflect.DeepEqual(got, regions) {
		t.Errorf("regions came back as %v (%v), want %v", got, err, regions)
	}
	for _, none := range []string{"", "[]"} {
		if got, err := decodeRegions(none); err != nil || got != nil {
			t.Errorf("decodeRegions(%q) = %v, %v; want nil", none, got, err)
		}
	}
	if col, err := encodeRegions(nil); err != nil || col != "" {
		t.Errorf("no regions encode as %q (%v), want empty", col, err)
	}

	r := probe.Round{Targets: []probe.Result{{Target: "api", Class: probe.ClassStatus, Status: 503}}}
	b, err := encodeRound(r)
	if err != nil {
		t.Fatal(err)
	}
	var back probe.Round
	if err := decodeRound([]byte(b), &back); err != nil || !reflect.DeepEqual(back.Targets, r.Targets) || back.Controls != nil {
		t.Errorf("round results came back as %+v (%v), want %+v", back, err, r)
	}
}

func TestMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte("B")},
		"migrations/0001_a.sql": {Data: []byte("A")},
		"migrations/notes.txt":  {Data: []byte("not a migration")},
		"migrations/0010_c.sql": {Data: []byte("C")},
		"elsewhere/0003_x.sql":  {Data: []byte("X")},
	}
	got, err := readMigrations(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	want := []migration{
		{Name: "migrations/0001_a.sql", Version: 1, Body: "A"},
		{Name: "migrations/0002_b.sql", Version: 2, Body: "B"},
		{Name: "migrations/0010_c.sql", Version: 10, Body: "C"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Migrations = %+v, want %+v", got, want)
	}
	if _, err := readMigrations(fstest.MapFS{"migrations/init.sql": {Data: []byte("A")}}, "migrations"); err == nil {
		t.Error("a migration named without a number was accepted")
	}
}

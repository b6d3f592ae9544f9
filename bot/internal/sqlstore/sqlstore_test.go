package sqlstore

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
	var c PruneCadence
	if !c.Due(t0) {
		t.Fatal("the first round does not prune")
	}
	c.Pruned(t0, false)
	for _, tc := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"within PruneEvery", t0.Add(PruneEvery - time.Nanosecond), false},
		{"PruneEvery later", t0.Add(PruneEvery), true},
		{"clock went back", t0.Add(-time.Second), true},
	} {
		if got := c.Due(tc.at); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
	c.Pruned(t0, true)
	if !c.Due(t0.Add(time.Second)) {
		t.Error("a full batch does not prune again at the next round")
	}
}

func TestColumnsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 123, time.FixedZone("x", 3600))
	if got := FromNanos(Nanos(at)); !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("time %v came back as %v", at, got)
	}
	if n := Nanos(time.Time{}); n != 0 || !FromNanos(n).IsZero() {
		t.Errorf("the zero time is %d", n)
	}

	causes, err := EncodeCauses(nil)
	if err != nil || string(causes) != "[]" {
		t.Fatalf("no causes encode as %q (%v), want []", causes, err)
	}
	want := []bot.Cause{{Component: "api", Detail: "HTTP 503"}}
	causes, err = EncodeCauses(want)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeCauses(string(causes)); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("causes came back as %v (%v), want %v", got, err, want)
	}

	regions := []bot.RegionVerdict{{Region: "eu", Verdict: probe.VerdictDown}, {Region: "us", Verdict: probe.VerdictUp}}
	col, err := EncodeRegions(regions)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeRegions(col); err != nil || !reflect.DeepEqual(got, regions) {
		t.Errorf("regions came back as %v (%v), want %v", got, err, regions)
	}
	for _, none := range []string{"", "[]"} {
		if got, err := DecodeRegions(none); err != nil || got != nil {
			t.Errorf("DecodeRegions(%q) = %v, %v; want nil", none, got, err)
		}
	}
	if col, err := EncodeRegions(nil); err != nil || col != "" {
		t.Errorf("no regions encode as %q (%v), want empty", col, err)
	}

	r := probe.Round{Targets: []probe.Result{{Target: "api", Class: probe.ClassStatus, Status: 503}}}
	b, err := EncodeRound(r)
	if err != nil {
		t.Fatal(err)
	}
	var back probe.Round
	if err := DecodeRound(b, &back); err != nil || !reflect.DeepEqual(back.Targets, r.Targets) || back.Controls != nil {
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
	got, err := Migrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{
		{Name: "migrations/0001_a.sql", Version: 1, Body: "A"},
		{Name: "migrations/0002_b.sql", Version: 2, Body: "B"},
		{Name: "migrations/0010_c.sql", Version: 10, Body: "C"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Migrations = %+v, want %+v", got, want)
	}
	if _, err := Migrations(fstest.MapFS{"migrations/init.sql": {Data: []byte("A")}}); err == nil {
		t.Error("a migration named without a number was accepted")
	}
}

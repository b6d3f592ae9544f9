package probe

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// run feeds a verdict sequence ('u' up, 'g' degraded, 'd' down, '?' unknown)
// starting from prev and returns the transitions as "from>to" strings.
func run(tr Tracker, prev Status, seq string) (Status, []string, []Transition) {
	var got []string
	var all []Transition
	st := prev
	for i, c := range seq {
		v := map[rune]Verdict{'u': VerdictUp, 'g': VerdictDegraded, 'd': VerdictDown, '?': VerdictUnknown}[c]
		var t *Transition
		st, t = tr.Step(st, v, t0.Add(time.Duration(i)*time.Second))
		if t != nil {
			all = append(all, *t)
			if !t.Initial {
				got = append(got, string(t.From)+">"+string(t.To))
			}
		}
	}
	return st, got, all
}

func TestTrackerSequences(t *testing.T) {
	up := Status{State: StateUp, Since: t0.Add(-time.Hour)}
	down := Status{State: StateDown, Since: t0.Add(-time.Hour)}
	tests := []struct {
		name      string
		tracker   Tracker
		prev      Status
		seq       string
		want      []string
		wantState State
	}{
		{"steady up", Tracker{2, 2}, up, "uuuuu", nil, StateUp},
		{"one failure is not an outage", Tracker{2, 2}, up, "uduuu", nil, StateUp},
		{"threshold honoured", Tracker{2, 2}, up, "dd", []string{"up>down"}, StateDown},
		{"threshold 3 not reached", Tracker{3, 2}, up, "dduddu", nil, StateUp},
		{"alternation never transitions", Tracker{2, 2}, up, "dudududududu", nil, StateUp},
		{"alternation from down never transitions", Tracker{2, 2}, down, "ududududud", nil, StateDown},
		{"unknown never transitions", Tracker{1, 1}, up, "??????", nil, StateUp},
		{"unknown neither advances nor resets", Tracker{2, 2}, up, "d?d", []string{"up>down"}, StateDown},
		{"unknown does not count as a failing round", Tracker{2, 2}, up, "d??u?d", nil, StateUp},
		{"degraded and down together leave up", Tracker{2, 2}, up, "gd", []string{"up>down"}, StateDown},
		{"outage and recovery", Tracker{2, 2}, up, "dddduu", []string{"up>down", "down>up"}, StateUp},
		{"recovery needs up-after rounds", Tracker{2, 3}, down, "uuduu", nil, StateDown},
		{"down to degraded", Tracker{2, 2}, down, "gg", []string{"down>degraded"}, StateDegraded},
		{"first start is silent", Tracker{2, 2}, Status{}, "uuu", nil, StateUp},
		{"first start down is silent then recovers", Tracker{2, 2}, Status{}, "duu", []string{"down>up"}, StateUp},
		{"first start waits for a known verdict", Tracker{2, 2}, Status{State: StateUnknown}, "??u", nil, StateUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, got, _ := run(tt.tracker, tt.prev, tt.seq)
			if len(got) != len(tt.want) {
				t.Fatalf("transitions %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("transitions %v, want %v", got, tt.want)
				}
			}
			if st.State != tt.wantState {
				t.Errorf("state %s, want %s", st.State, tt.wantState)
			}
		})
	}
}

func TestTrackerRecordsWhenTheStreakBegan(t *testing.T) {
	_, _, all := run(Tracker{3, 2}, Status{State: StateUp, Since: t0}, "uddd")
	if len(all) != 1 {
		t.Fatalf("transitions %+v", all)
	}
	if want := t0.Add(time.Second); !all[0].Began.Equal(want) || !all[0].At.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("began %v at %v, want began %v at %v", all[0].Began, all[0].At, want, t0.Add(3*time.Second))
	}
}

func TestTrackerIsPure(t *testing.T) {
	prev := Status{State: StateUp, Since: t0, Pending: StateDown, Streak: 1, PendingSince: t0}
	copyPrev := prev
	Tracker{2, 2}.Step(prev, VerdictDown, t0.Add(time.Second))
	if prev != copyPrev {
		t.Fatal("Step modified its input")
	}
	a, ta := Tracker{2, 2}.Step(prev, VerdictDown, t0.Add(time.Second))
	b, tb := Tracker{2, 2}.Step(prev, VerdictDown, t0.Add(time.Second))
	if a != b || *ta != *tb {
		t.Fatal("same input, different output")
	}
}

package bottest

import (
	"testing"
	"time"
)

// Eventually polls cond in real time until it holds, and fails the test if
// it does not within 10 s: long enough for a loaded machine, short enough
// that a broken promise ends the test soon.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

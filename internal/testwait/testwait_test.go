package testwait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	start := time.Now()
	Until(t, 5*time.Second, "the third call", func() bool { return calls.Add(1) == 3 })
	if n := calls.Load(); n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v for a condition met on the third call", took)
	}
}

// failRecorder is a testing.TB that records Fatalf instead of stopping
// the test.
type failRecorder struct {
	testing.TB
	msg string
}

func (f *failRecorder) Helper() {}

func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

func TestUntilFailsAfterTheLimit(t *testing.T) {
	rec := &failRecorder{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("Until did not fail: %v", r)
			}
		}()
		Until(rec, 50*time.Millisecond, "never", func() bool { return false })
	}()
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("failed after %v, before the limit", took)
	}
	if rec.msg == "" {
		t.Error("no failure message")
	}
}

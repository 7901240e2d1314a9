//go:build !race

package accesslog

import (
	"io"
	"testing"
)

// TestAllocations holds Log at zero allocations in steady state: the
// writer keeps up, or the buffer is full, or the Logger is closed.
func TestAllocations(t *testing.T) {
	const runs = 1000
	running := func(f Format) func(t *testing.T) *Logger {
		return func(t *testing.T) *Logger {
			return mustNew(t, Settings{Output: io.Discard, Format: f, Buffer: 4 * runs})
		}
	}
	tests := []struct {
		desc string
		give func(t *testing.T) *Logger
	}{
		{desc: "JSON", give: running(FormatJSON)},
		{desc: "common", give: running(FormatCommon)},
		{desc: "queue full", give: func(t *testing.T) *Logger {
			out := newBlockingWriter()
			l := mustNew(t, Settings{Output: out, Buffer: 1})
			t.Cleanup(func() { close(out.release) }) // runs before Close
			l.Log(fullEntry())
			<-out.entered
			l.Log(fullEntry())
			return l
		}},
		{desc: "closed", give: func(t *testing.T) *Logger {
			l := mustNew(t, Settings{Output: io.Discard})
			l.Close()
			return l
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := tt.give(t)
			e := fullEntry()
			if n := testing.AllocsPerRun(runs, func() { l.Log(e) }); n != 0 {
				t.Errorf("%.1f allocations per Log, want 0", n)
			}
		})
	}
}

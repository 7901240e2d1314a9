// Package logtest collects what a logger writes, for tests that check the
// lines an operator would read.
package logtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// Buffer is an io.Writer that keeps everything written to it. Safe for
// concurrent use: a logger may write while the test reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count says how often sub appears in what was written so far.
func (b *Buffer) Count(sub string) int {
	return strings.Count(b.String(), sub)
}

// Lines returns the JSON lines (as slog's JSON handler writes them) whose
// msg starts with prefix, in order. A line that is not JSON fails t.
func (b *Buffer) Lines(t testing.TB, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range strings.Split(b.String(), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line %q: %v", s, err)
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// Last returns how many JSON lines have a msg starting with prefix, and
// the last of them (nil when none).
func (b *Buffer) Last(t testing.TB, prefix string) (int, map[string]any) {
	t.Helper()
	lines := b.Lines(t, prefix)
	if len(lines) == 0 {
		return 0, nil
	}
	return len(lines), lines[len(lines)-1]
}

package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsonLog collects a logger's JSON lines, safe for concurrent writes.
type jsonLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the lines whose msg starts with prefix.
func (l *jsonLog) lines(t *testing.T, prefix string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
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

// TestOutageLoggedOnce: an outage of the registry is logged once when it
// starts (warn, with the error) and once when it ends (info, with how
// long it lasted, rounded to the millisecond: 0s for this test's
// instant outage), however many attempts fail in between.
func TestOutageLoggedOnce(t *testing.T) {
	var logs jsonLog
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	s := mustSubscribe(t, r, "fake", "users")
	defer s.Close()
	src.push(t, "users", Update{Changed: true, Endpoints: eps("10.0.0.1:80")})
	for range 3 {
		src.push(t, "users", Update{Err: errors.New("dial tcp 127.0.0.1:8500: connect: connection refused")})
	}
	src.push(t, "users", Update{})
	src.push(t, "users", Update{}) // answers go on: nothing more to say

	down := logs.lines(t, "discovery: registry unreachable")
	back := logs.lines(t, "discovery: registry reachable again")
	if len(down) != 1 || len(back) != 1 {
		t.Fatalf("%d outage lines and %d recovery lines, want 1 each: %s", len(down), len(back), logs.buf.String())
	}
	if e, _ := down[0]["error"].(string); down[0]["level"] != "WARN" || down[0]["service"] != "users" ||
		down[0]["source"] != "fake" || !strings.Contains(e, "connection refused") || down[0]["instances"] != 1.0 {
		t.Errorf("outage line %v", down[0])
	}
	d, err := time.ParseDuration(back[0]["outage"].(string))
	if back[0]["level"] != "INFO" || back[0]["service"] != "users" || err != nil || d < 0 || back[0]["failed_attempts"] != 3.0 {
		t.Errorf("recovery line %v (%v)", back[0], err)
	}

	// A second outage is logged again.
	src.push(t, "users", Update{Err: errors.New("timeout")})
	if got := logs.lines(t, "discovery: registry unreachable"); len(got) != 2 {
		t.Errorf("%d outage lines after a second outage, want 2", len(got))
	}
}

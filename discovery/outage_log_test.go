package discovery

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/logtest"
)

// TestOutageLoggedOnce: an outage of the registry is logged once when it
// starts (warn, with the error) and once when it ends (info, with how
// long it lasted, rounded to the millisecond: 0s for this test's
// instant outage), however many attempts fail in between.
func TestOutageLoggedOnce(t *testing.T) {
	var logs logtest.Buffer
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

	down := logs.Lines(t, "discovery: registry unreachable")
	back := logs.Lines(t, "discovery: registry reachable again")
	if len(down) != 1 || len(back) != 1 {
		t.Fatalf("%d outage lines and %d recovery lines, want 1 each: %s", len(down), len(back), logs.String())
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
	if got := logs.Lines(t, "discovery: registry unreachable"); len(got) != 2 {
		t.Errorf("%d outage lines after a second outage, want 2", len(got))
	}
}

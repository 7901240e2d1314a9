package registration

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/logtest"
	"github.com/fastgate/gateway/internal/testwait"
)

// TestMain fails the package's tests if a goroutine outlives them. The
// Consul client's environment defaults are cleared: tests set what they
// send.
func TestMain(m *testing.M) {
	for _, v := range []string{"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH"} {
		_ = os.Unsetenv(v)
	}
	goleak.VerifyTestMain(m)
}

// fastBackoff retries within tens of milliseconds.
var fastBackoff = discovery.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}

// start returns a started Registration for s, logging as JSON to logs
// (when not nil), closed when the test ends.
func start(t *testing.T, s Settings, logs *logtest.Buffer) *Registration {
	t.Helper()
	if s.Backoff == (discovery.Backoff{}) {
		s.Backoff = fastBackoff
	}
	if logs != nil {
		s.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	} else {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// eventually waits until cond holds, for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// counts waits until every registration counts want.
func counts(t *testing.T, want int, rs ...*Registration) {
	t.Helper()
	for i, r := range rs {
		eventually(t, 10*time.Second, "registration "+string(rune('0'+i))+" counts "+string(rune('0'+want)), func() bool {
			return r.Count() == want
		})
	}
}

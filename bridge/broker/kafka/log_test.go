package kafka

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fastgate/gateway/internal/logtest"
)

// TestClientLogsThroughSlog: with Settings.Logger, the client's own lines
// are JSON lines of that logger, prefixed "kafka: ", its errors at warn.
func TestClientLogsThroughSlog(t *testing.T) {
	var out logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newPublisher(t, Settings{Brokers: []string{"127.0.0.1:" + strconv.Itoa(freePort(t))}, Logger: log})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"msg":"kafka: `) {
		if time.Now().After(deadline) {
			t.Fatalf("no client line within 10s: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
	}

	tests := []struct {
		desc string
		give slog.Level
		want kgo.LogLevel
	}{
		{desc: "debug asks for info", give: slog.LevelDebug, want: kgo.LogLevelInfo},
		{desc: "info asks for errors", give: slog.LevelInfo, want: kgo.LogLevelError},
		{desc: "error asks for nothing", give: slog.LevelError, want: kgo.LogLevelNone},
	}
	for _, tt := range tests {
		l := clientLogger{slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: tt.give}))}
		if got := l.Level(); got != tt.want {
			t.Errorf("%s: level %v, want %v", tt.desc, got, tt.want)
		}
	}
	var warn logtest.Buffer
	clientLogger{slog.New(slog.NewJSONHandler(&warn, nil))}.Log(kgo.LogLevelError, "unable to produce", "broker", 1)
	if s := warn.String(); !strings.Contains(s, `"level":"WARN","msg":"kafka: unable to produce","broker":1`) {
		t.Errorf("error line %s, want a warn", s)
	}
}

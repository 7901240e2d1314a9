package acme

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestZapLogsGoToSlog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	zl := newZapLogger(log).Named("certmagic").With(zap.String("ca", "pebble"))

	zl.Debug("hidden", zap.Int("n", 1))
	zl.Info("obtained", zap.String("identifier", "a.example.com"), zap.Int("attempt", 2))
	zl.Error("failed", zap.Error(errors.New("boom")))

	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("a debug line passed an info handler:\n%s", out)
	}
	for _, want := range []string{
		`level=INFO msg=obtained ca=pebble logger=certmagic attempt=2 identifier=a.example.com`,
		`level=ERROR msg=failed ca=pebble logger=certmagic error=boom`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

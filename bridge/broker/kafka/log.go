package kafka

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientLogger sends franz-go's log lines to a slog.Logger. The client
// retries on its own and the publisher reports the outcome (Up,
// OnStateChange, Publish's errors), so its errors are warnings and the
// rest, which during an outage repeats each retry, is debug.
type clientLogger struct{ log *slog.Logger }

var _ kgo.Logger = clientLogger{}

// Level asks franz-go only for the lines the handler keeps.
func (l clientLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo // its debug lines are one per request
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (l clientLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	if level == kgo.LogLevelError {
		lv = slog.LevelWarn
	}
	l.log.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}

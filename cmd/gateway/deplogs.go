package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	amqp091 "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc/grpclog"
)

// routeDependencyLogs sends the log lines that client libraries write on
// their own through log, in the gateway's format, instead of their plain
// text on stderr. The loggers it sets are process-wide plain variables,
// read without a lock, so they are set by the first call only, which must
// come before the libraries are used (call it at start); a later call
// only changes where their lines go. franz-go and nats.go take theirs per connection (see
// brokerFactory); the etcd client's zap logger stays off (discovery logs
// etcd's outages itself).
func routeDependencyLogs(log *slog.Logger) {
	depHandler.current.Store(&handlerBox{log.Handler()})
	setDependencyLoggers.Do(func() {
		dep := slog.New(&depHandler)
		goredis.SetLogger(redisLogger{dep})
		grpclog.SetLoggerV2(grpcLogger{dep})
		amqp091.SetLogger(amqpLogger{dep})
	})
}

var (
	setDependencyLoggers sync.Once
	// depHandler is where the libraries' lines go: the handler of the
	// latest routeDependencyLogs call. Their loggers are set once (a
	// later set would race with the libraries reading them), so a later
	// call swaps the handler instead.
	depHandler swapHandler
)

// handlerBox lets an atomic.Pointer hold a slog.Handler interface value.
type handlerBox struct{ h slog.Handler }

// swapHandler passes each record to the handler stored last. Safe for
// concurrent use.
type swapHandler struct{ current atomic.Pointer[handlerBox] }

func (s *swapHandler) handler() slog.Handler {
	if b := s.current.Load(); b != nil {
		return b.h
	}
	return slog.DiscardHandler
}

func (s *swapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return s.handler().Enabled(ctx, l)
}

func (s *swapHandler) Handle(ctx context.Context, r slog.Record) error {
	return s.handler().Handle(ctx, r)
}

func (s *swapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return s.handler().WithAttrs(attrs)
}

func (s *swapHandler) WithGroup(name string) slog.Handler { return s.handler().WithGroup(name) }

// redisLogger takes go-redis's lines. go-redis only prints what it counts
// as errors by default (failed dials, bad connections), which it retries
// on its own: warn.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if !l.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if !strings.HasPrefix(msg, "redis: ") {
		msg = "redis: " + msg
	}
	l.log.WarnContext(ctx, msg)
}

// amqpLogger takes amqp091's lines: errors on channels it could not
// answer or recover, at warn.
type amqpLogger struct{ log *slog.Logger }

func (l amqpLogger) Printf(format string, v ...any) {
	if l.log.Enabled(context.Background(), slog.LevelWarn) {
		l.log.Warn("amqp: " + fmt.Sprintf(format, v...))
	}
}

// grpcLogger takes grpc-go's lines. Its info and warning lines report
// each connection attempt and are chatty while a server is down (the
// gateway logs the outcome itself): debug. Its errors stay errors.
type grpcLogger struct{ log *slog.Logger }

var _ grpclog.LoggerV2 = grpcLogger{}

func (l grpcLogger) print(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, "grpc: "+strings.TrimSuffix(msg, "\n"))
}

func (l grpcLogger) printf(level slog.Level, format string, args []any) {
	if l.log.Enabled(context.Background(), level) {
		l.print(level, fmt.Sprintf(format, args...))
	}
}

func (l grpcLogger) sprint(level slog.Level, args []any) {
	if l.log.Enabled(context.Background(), level) {
		l.print(level, fmt.Sprint(args...))
	}
}

func (l grpcLogger) Info(args ...any)                    { l.sprint(slog.LevelDebug, args) }
func (l grpcLogger) Infoln(args ...any)                  { l.sprint(slog.LevelDebug, args) }
func (l grpcLogger) Infof(format string, args ...any)    { l.printf(slog.LevelDebug, format, args) }
func (l grpcLogger) Warning(args ...any)                 { l.sprint(slog.LevelDebug, args) }
func (l grpcLogger) Warningln(args ...any)               { l.sprint(slog.LevelDebug, args) }
func (l grpcLogger) Warningf(format string, args ...any) { l.printf(slog.LevelDebug, format, args) }
func (l grpcLogger) Error(args ...any)                   { l.sprint(slog.LevelError, args) }
func (l grpcLogger) Errorln(args ...any)                 { l.sprint(slog.LevelError, args) }
func (l grpcLogger) Errorf(format string, args ...any)   { l.printf(slog.LevelError, format, args) }
func (l grpcLogger) Fatal(args ...any)                   { l.sprint(slog.LevelError, args); os.Exit(1) }
func (l grpcLogger) Fatalln(args ...any)                 { l.sprint(slog.LevelError, args); os.Exit(1) }
func (l grpcLogger) Fatalf(format string, args ...any) {
	l.printf(slog.LevelError, format, args)
	os.Exit(1)
}

// V reports whether grpc-go's verbose lines (level > 0) are wanted: never.
func (l grpcLogger) V(level int) bool { return level <= 0 }

package main

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain sets the libraries' process-wide loggers before any test
// starts a client, as `gateway run` does at start: set later, while
// another test's gRPC connection reads them, they would race.
func TestMain(m *testing.M) {
	routeDependencyLogs(slog.New(slog.DiscardHandler))
	code := m.Run()
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

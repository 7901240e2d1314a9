package gateway

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
)

// IDLE_PROFILE=DIR has the idle-memory tests write a heap profile of
// every allocation still held by their idle connections into DIR
// (go tool pprof -sample_index=inuse_space DIR/TestIdle....heap).
var idleProfileDir = os.Getenv("IDLE_PROFILE")

func init() {
	if idleProfileDir != "" {
		runtime.MemProfileRate = 1
	}
}

func writeIdleProfile(t *testing.T) { t.Helper(); writeIdleProfileAs(t, t.Name()) }

func writeIdleProfileAs(t *testing.T, name string) {
	t.Helper()
	if idleProfileDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(idleProfileDir, name+".heap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

package reloader

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
)

// call is one call a recordingTarget received. It is also the report the
// target returns, so that a test sees Reload hand it back.
type call struct {
	method string // "apply", "preview" or "refuse"
	req    Request
	cfg    *config.Config // nil for refuse
	err    error          // refuse's reason
}

// routes names cfg's routes, in order, joined by commas.
func (c call) routes() string {
	if c.cfg == nil {
		return ""
	}
	names := make([]string, len(c.cfg.Routes))
	for i, rt := range c.cfg.Routes {
		names[i] = rt.Name
	}
	return strings.Join(names, ",")
}

// recordingTarget records every call on a channel; Apply fails while
// applyErr is set.
type recordingTarget struct {
	calls chan call

	mu       sync.Mutex
	applyErr error
	// onApply, when set, runs once inside the next Apply.
	onApply func()
}

var _ Target[call] = (*recordingTarget)(nil)

func newRecordingTarget() *recordingTarget {
	return &recordingTarget{calls: make(chan call, 256)}
}

func (rt *recordingTarget) Apply(cfg *config.Config, req Request) (call, error) {
	rt.mu.Lock()
	err, hook := rt.applyErr, rt.onApply
	rt.onApply = nil
	rt.mu.Unlock()
	if hook != nil {
		hook()
	}
	c := call{method: "apply", req: req, cfg: cfg}
	rt.calls <- c
	return c, err
}

func (rt *recordingTarget) Preview(cfg *config.Config, req Request) (call, error) {
	c := call{method: "preview", req: req, cfg: cfg}
	rt.calls <- c
	return c, nil
}

func (rt *recordingTarget) Refuse(err error, req Request) call {
	c := call{method: "refuse", req: req, err: err}
	rt.calls <- c
	return c
}

// failApply makes Apply fail with err (nil: succeed).
func (rt *recordingTarget) failApply(err error) {
	rt.mu.Lock()
	rt.applyErr = err
	rt.mu.Unlock()
}

// waitCall waits, bounded, for a call that satisfies ok, and returns it;
// calls before it are dropped.
func (rt *recordingTarget) waitCall(t *testing.T, what string, ok func(call) bool) call {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case c := <-rt.calls:
			if ok(c) {
				return c
			}
		case <-deadline:
			t.Fatalf("no %s within 5s", what)
		}
	}
}

// mustNoCall fails when a call was recorded and not yet taken.
func (rt *recordingTarget) mustNoCall(t *testing.T) {
	t.Helper()
	select {
	case c := <-rt.calls:
		t.Fatalf("unexpected %s call: %+v", c.method, c.req)
	default:
	}
}

// started is a Reloader on a configuration file, its target, and the
// file's directory.
type started struct {
	r      *Reloader[call]
	target *recordingTarget
	dir    string
	path   string
}

// start loads path and follows it with a Reloader whose target records;
// with watch false, Run is not started. checks are Settings.Checks.
func start(t *testing.T, path string, watch bool, checks ...config.Check) *started {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	target := newRecordingTarget()
	r, err := New(Settings[call]{
		Config: cfg, Target: target, Checks: checks,
		Logger: slog.New(slog.DiscardHandler), Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !watch {
		t.Cleanup(func() { _ = r.Close() })
		return &started{r: r, target: target, dir: filepath.Dir(path), path: path}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &started{r: r, target: target, dir: filepath.Dir(path), path: path}
}

// writeFile replaces path's content the way editors do: a new file renamed
// over the old one.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// routeYAML is a routes list with one answered route per name.
func routeYAML(names ...string) string {
	var b strings.Builder
	b.WriteString("routes:\n")
	if len(names) == 0 {
		return "routes: []\n"
	}
	for _, n := range names {
		b.WriteString("  - { name: " + n + ", match: { path: /" + n + " }, respond: { body: " + n + " } }\n")
	}
	return b.String()
}

// fromFile is a call of a reload that a file change started.
func fromFile(method string) func(call) bool {
	return func(c call) bool {
		return c.method == method && c.req.FileChange && c.req.Trigger == TriggerFileChange
	}
}

// errNamed is an error a test target returns.
var errNamed = errors.New("test: refused by the target")

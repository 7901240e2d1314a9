// Package sourcetest holds what the tests of the config sources share: a
// Target that records what a Source hands it, a version to publish, and
// a poll for a condition.
package sourcetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/reloader"
)

// Target records what a Source hands it. Safe for concurrent use.
type Target struct {
	// Hold, when set, is called in Apply before the configuration is
	// recorded, so that a test can change the registry while a Source is
	// between two steps.
	Hold func(cfg *config.Config)

	mu       sync.Mutex
	applied  []*config.Config
	triggers []string
	refused  []error
}

var _ reloader.Target[string] = (*Target)(nil)

// Apply records cfg and req's trigger.
func (r *Target) Apply(cfg *config.Config, req reloader.Request) (string, error) {
	if r.Hold != nil {
		r.Hold(cfg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, cfg)
	r.triggers = append(r.triggers, req.Trigger)
	return "applied", nil
}

// Preview records nothing.
func (r *Target) Preview(*config.Config, reloader.Request) (string, error) { return "preview", nil }

// Refuse records err.
func (r *Target) Refuse(err error, _ reloader.Request) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = append(r.refused, err)
	return "refused"
}

// Counts says how many configurations were applied and refused.
func (r *Target) Counts() (applied, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied), len(r.refused)
}

// Last is the last configuration applied and its trigger (nil, "" before
// the first).
func (r *Target) Last() (*config.Config, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) == 0 {
		return nil, ""
	}
	return r.applied[len(r.applied)-1], r.triggers[len(r.triggers)-1]
}

// FirstTrigger is the trigger of the first configuration applied.
func (r *Target) FirstTrigger() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.triggers) == 0 {
		return ""
	}
	return r.triggers[0]
}

// LastBody is the respond body of the route named hello in the last
// configuration applied ("" when none).
func (r *Target) LastBody() string {
	cfg, _ := r.Last()
	if cfg == nil {
		return ""
	}
	for _, rt := range cfg.Routes {
		if rt.Name == "hello" && rt.Respond != nil {
			return rt.Respond.Body
		}
	}
	return ""
}

// LastRefusal is the last refusal's error text ("" when none).
func (r *Target) LastRefusal() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) == 0 {
		return ""
	}
	return r.refused[len(r.refused)-1].Error()
}

// Hello is a version whose route hello answers body.
func Hello(body string) map[string][]byte {
	return map[string][]byte{"gateway.yaml": []byte(`routes:
  - name: hello
    match: { path: /hello }
    respond: { body: "` + body + `" }
`)}
}

// Eventually polls cond every 5ms for at most d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Publish publishes files with p over whatever is current, and returns
// the new version's number.
func Publish(t testing.TB, p configsource.Publisher, files map[string][]byte) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := p.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Publish(ctx, files, cur, "test")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

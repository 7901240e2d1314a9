package consultest

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Agent is what every fake Consul endpoint shares: a loopback listener
// that stops as an agent does (every connection closed) and starts again
// on the same port, the failure modes and the ACL token a test sets, and
// the wake-up of blocking queries on every change. Safe for concurrent
// use.
type Agent struct {
	t       testing.TB
	handler http.HandlerFunc

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	token   string        // required X-Consul-Token; "" accepts any
	mode    string        // "", "500", "hang" or "noblock"
	stopped chan struct{} // closed by Stop

	addr string
	ts   *httptest.Server
}

// NewAgent serves h on a loopback port until the test ends.
func NewAgent(t testing.TB, h http.HandlerFunc) *Agent {
	t.Helper()
	a := &Agent{t: t, handler: h, changed: make(chan struct{})}
	a.Start()
	t.Cleanup(a.Stop)
	return a
}

// Addr is the agent's address, host:port.
func (a *Agent) Addr() string { return a.addr }

// Start serves on a new loopback port, or on the one of the last start.
func (a *Agent) Start() {
	addr := a.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the old port may take a moment to be free again
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		a.t.Fatalf("fake consul: %v", err)
	}
	a.addr = ln.Addr().String()
	a.mu.Lock()
	a.stopped = make(chan struct{})
	a.mu.Unlock()
	a.ts = httptest.NewUnstartedServer(a.handler)
	a.ts.Listener.Close()
	a.ts.Listener = ln
	a.ts.Start()
}

// Stop closes the listener and every connection, as a stopped agent.
func (a *Agent) Stop() {
	if a.ts == nil {
		return
	}
	a.mu.Lock()
	close(a.stopped)
	a.mu.Unlock()
	a.ts.CloseClientConnections()
	a.ts.Close()
	a.ts = nil
}

// SetMode makes the agent answer normally (""), with a 500 ("500"),
// never ("hang"), or at once, blocking queries too, as a proxy in front
// of Consul that drops ?index= would ("noblock").
func (a *Agent) SetMode(mode string) { a.mu.Lock(); a.mode = mode; a.mu.Unlock() }

// SetToken makes the agent refuse requests without X-Consul-Token tok.
func (a *Agent) SetToken(tok string) { a.mu.Lock(); a.token = tok; a.mu.Unlock() }

// Changed wakes every blocked query to look at the state again. Call it
// after each change.
func (a *Agent) Changed() {
	a.mu.Lock()
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
}

// Refused answers r as the agent's mode, token and datacenter say (a 500,
// a hang until the client or the agent goes, 403 ACL not found, 500 No
// path to datacenter for a ?dc= other than dc1), and says whether it did:
// a handler serves only what is not refused.
func (a *Agent) Refused(w http.ResponseWriter, r *http.Request) bool {
	a.mu.Lock()
	mode, token, stopped := a.mode, a.token, a.stopped
	a.mu.Unlock()
	switch {
	case mode == "500":
		http.Error(w, "No cluster leader", http.StatusInternalServerError)
	case mode == "hang":
		select {
		case <-r.Context().Done():
		case <-stopped:
		}
	case token != "" && r.Header.Get("X-Consul-Token") != token:
		http.Error(w, "ACL not found", http.StatusForbidden)
	case r.URL.Query().Has("dc") && r.URL.Query().Get("dc") != "dc1":
		http.Error(w, "No path to datacenter", http.StatusInternalServerError)
	default:
		return false
	}
	return true
}

// Block holds a blocking query until passed says its index was passed or
// waitParam (?wait=, 5m when absent, at most 10m, plus up to 1/16 as
// Consul adds) runs out. It returns false when the client or the agent
// went away. passed takes its own locks.
func (a *Agent) Block(r *http.Request, waitParam string, passed func() bool) bool {
	wait := 5 * time.Minute
	if d, err := time.ParseDuration(waitParam); err == nil && d > 0 {
		wait = min(d, 10*time.Minute)
	}
	wait += rand.N(wait/16 + 1)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		a.mu.Lock()
		changed, stopped, mode := a.changed, a.stopped, a.mode
		a.mu.Unlock()
		if mode == "noblock" || passed() { // after taking changed: no change is missed
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return true
		case <-r.Context().Done():
			return false
		case <-stopped:
			return false
		}
	}
}

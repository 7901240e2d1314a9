package registration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recording is one response of a real Consul agent from testdata.
type recording struct {
	status int
	header http.Header
	body   []byte
}

func loadRecording(t testing.TB, name string) recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recording{status: resp.StatusCode, header: resp.Header, body: body}
}

// write answers with the recording: its status, headers and body, the
// framing left to net/http.
func (rec recording) write(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Transfer-Encoding")
	w.Header().Del("Content-Length")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}

func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func obj(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }
func list(m map[string]any, k string) []any         { v, _ := m[k].([]any); return v }
func str(m map[string]any, k string) string         { v, _ := m[k].(string); return v }

// fakeAgent is a Consul agent on loopback as far as a registration sees
// one: PUT /v1/agent/service/register (answered as recording 00),
// PUT /v1/agent/service/deregister/:id, and /v1/health/service/:name
// with ?passing and blocking queries on ?index (held until the service
// changes or ?wait, plus up to wait/16, runs out), with the headers of
// recordings 03 (a plain read) and 05 (a blocking one). An entry is
// recording 03's first one with the registered service's fields; its
// service check starts critical, as a new check does in Consul, until the
// test runs it (runChecks) or sets it (setStatus).
type fakeAgent struct {
	t        testing.TB
	ok       recording   // 00: the answer to a registration
	plain    http.Header // 03
	blocking http.Header // 05
	template []byte      // 03's first entry

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	index     uint64
	instances []*fakeInstance // in registration order
	registers [][]byte        // the bodies of registrations
	deregs    []string        // the ids deregistered
	queries   []url.Values    // the health queries
	failing   bool            // answer 500 to everything
	refused   int             // requests answered 500

	addr    string
	ts      *httptest.Server
	stopped chan struct{}
}

type fakeInstance struct {
	id       string
	checkURL string
	entry    map[string]any
}

func newFakeAgent(t testing.TB) *fakeAgent {
	t.Helper()
	r03 := loadRecording(t, "03-health-service-users-passing.http")
	var entries []json.RawMessage
	decodeJSON(t, r03.body, &entries)
	f := &fakeAgent{
		t:        t,
		ok:       loadRecording(t, "00-agent-service-register-users-1.http"),
		plain:    r03.header,
		blocking: loadRecording(t, "05-health-service-users-passing-block-deregister.http").header,
		template: entries[0],
		changed:  make(chan struct{}),
		index:    21,
	}
	f.start()
	t.Cleanup(f.stop)
	return f
}

// start serves on a new loopback port, or on the one of the last start.
func (f *fakeAgent) start() {
	addr := f.addr
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
		f.t.Fatalf("fake consul: %v", err)
	}
	f.addr = ln.Addr().String()
	f.stopped = make(chan struct{})
	f.ts = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.ts.Listener.Close()
	f.ts.Listener = ln
	f.ts.Start()
}

// stop closes the listener and every connection, as a stopped agent.
func (f *fakeAgent) stop() {
	if f.ts == nil {
		return
	}
	close(f.stopped)
	f.ts.CloseClientConnections()
	f.ts.Close()
	f.ts = nil
}

// restart stops the agent and starts it again on its port without its
// services and with a low index, as a dev agent that restarted.
func (f *fakeAgent) restart() {
	f.stop()
	f.mu.Lock()
	f.instances, f.index = nil, 5
	f.mu.Unlock()
	f.start()
}

// change runs fn under the lock, gives the service the next index and
// wakes the blocked queries.
func (f *fakeAgent) change(fn func()) {
	f.mu.Lock()
	fn()
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	failing := f.failing
	if failing {
		f.refused++
	}
	f.mu.Unlock()
	if failing {
		http.Error(w, "No cluster leader", http.StatusInternalServerError)
		return
	}
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/v1/agent/service/register":
		f.register(w, r)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/")
		found := false
		f.change(func() {
			f.deregs = append(f.deregs, id)
			for i, in := range f.instances {
				if in.id == id {
					f.instances = append(f.instances[:i:i], f.instances[i+1:]...)
					found = true
					break
				}
			}
		})
		if !found { // Consul's answer for an unknown service id
			http.Error(w, "Unknown service ID \""+id+"\". Ensure that the service ID is passed, not the service name.", http.StatusNotFound)
			return
		}
		f.ok.write(w)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		f.health(w, r, strings.TrimPrefix(r.URL.Path, "/v1/health/service/"))
	default:
		http.Error(w, "Invalid URL path: not a recorded endpoint", http.StatusNotFound)
	}
}

// register adds or replaces the instance of the body's ID.
func (f *fakeAgent) register(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var reg map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&reg); err != nil {
		http.Error(w, "Request decode failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	var e map[string]any
	decodeJSON(f.t, f.template, &e)
	svc, check := obj(e, "Service"), obj(reg, "Check")
	svc["ID"], svc["Service"], svc["Address"], svc["Port"] = reg["ID"], reg["Name"], reg["Address"], reg["Port"]
	svc["Tags"], svc["Meta"] = reg["Tags"], reg["Meta"]
	for _, c := range list(e, "Checks") {
		if c := c.(map[string]any); str(c, "ServiceID") != "" {
			c["ServiceID"], c["ServiceName"], c["CheckID"], c["Name"] = reg["ID"], reg["Name"], check["CheckID"], check["Name"]
			c["Status"], c["Output"] = "critical", ""
		}
	}
	in := &fakeInstance{id: str(reg, "ID"), checkURL: str(check, "HTTP"), entry: e}
	f.change(func() {
		f.registers = append(f.registers, body)
		for i, old := range f.instances {
			if old.id == in.id {
				f.instances[i] = in
				return
			}
		}
		f.instances = append(f.instances, in)
	})
	f.ok.write(w)
}

// setStatus sets the service check of instance id.
func (f *fakeAgent) setStatus(id, status string) {
	f.change(func() {
		for _, in := range f.instances {
			if in.id == id {
				for _, c := range list(in.entry, "Checks") {
					if c := c.(map[string]any); str(c, "ServiceID") != "" {
						c["Status"] = status
					}
				}
			}
		}
	})
}

// runChecks runs every instance's HTTP check once, as the agent would:
// passing on a 2xx answer, critical otherwise.
func (f *fakeAgent) runChecks() {
	f.mu.Lock()
	ins := append([]*fakeInstance(nil), f.instances...)
	f.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	for _, in := range ins {
		status := "critical"
		if resp, err := client.Get(in.checkURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				status = "passing"
			}
		}
		f.setStatus(in.id, status)
	}
}

func (f *fakeAgent) setFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

func (f *fakeAgent) refusedRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func (f *fakeAgent) registered() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.registers...)
}

func (f *fakeAgent) deregistered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deregs...)
}

func (f *fakeAgent) healthQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

func (f *fakeAgent) health(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	index, _ := strconv.ParseUint(q.Get("index"), 10, 64)
	if index > 0 && !f.block(r, index, q.Get("wait")) {
		return
	}
	f.mu.Lock()
	out := []map[string]any{}
	passingOnly := q.Has("passing") && q.Get("passing") != "false"
next:
	for _, in := range f.instances {
		if str(obj(in.entry, "Service"), "Service") != name {
			continue
		}
		if passingOnly {
			for _, c := range list(in.entry, "Checks") {
				if str(c.(map[string]any), "Status") != "passing" {
					continue next
				}
			}
		}
		out = append(out, in.entry)
	}
	body, err := json.MarshalIndent(out, "", "    ")
	cur := f.index
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := f.plain
	if index > 0 {
		h = f.blocking
	}
	rec := recording{status: http.StatusOK, header: h.Clone(), body: body}
	rec.header.Set("X-Consul-Index", strconv.FormatUint(cur, 10))
	rec.write(w)
}

// block holds a blocking query until the index passes index or the wait
// runs out; false when the client or the server went away.
func (f *fakeAgent) block(r *http.Request, index uint64, waitParam string) bool {
	wait := 5 * time.Minute
	if d, err := time.ParseDuration(waitParam); err == nil && d > 0 {
		wait = min(d, 10*time.Minute)
	}
	timer := time.NewTimer(wait + rand.N(wait/16+1))
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.index > index {
			f.mu.Unlock()
			return true
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return true
		case <-r.Context().Done():
			return false
		case <-f.stopped:
			return false
		}
	}
}

package consultest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// registerRequest is the body of the registration that recording 00
// answered, as the recording set gives it.
//
//go:embed testdata/00-agent-service-register-users-1.request.json
var registerRequest []byte

// RegisterRequest returns the body of the registration that recording
// 00 answered, as the recording set gives it.
func RegisterRequest(t testing.TB) []byte {
	t.Helper()
	return bytes.Clone(registerRequest)
}

// Write answers with the recording: its status, headers and body, the
// framing left to net/http.
func (rec Recording) Write(w http.ResponseWriter) {
	for k, v := range rec.Header {
		w.Header()[k] = v
	}
	w.Header().Del("Transfer-Encoding")
	w.Header().Del("Content-Length")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(rec.Status)
	_, _ = w.Write(rec.Body)
}

// DecodeJSON decodes b into v keeping numbers exact (json.Number).
func DecodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

// Obj, List and Str read a field of decoded JSON; the zero value when
// it is missing or of another type.
func Obj(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }
func List(m map[string]any, k string) []any         { v, _ := m[k].([]any); return v }
func Str(m map[string]any, k string) string         { v, _ := m[k].(string); return v }

// ServiceAgent is a Consul agent on loopback as far as a registration sees
// one: PUT /v1/agent/service/register (answered as recording 00),
// PUT /v1/agent/service/deregister/:id, and /v1/health/service/:name
// with ?passing and blocking queries on ?index (held until the service
// changes or ?wait, plus up to wait/16, runs out), with the headers of
// recordings 03 (a plain read) and 05 (a blocking one). An entry is
// recording 03's first one with the registered service's fields; its
// service check starts critical, as a new check does in Consul, until the
// test runs it (RunChecks) or sets it (SetStatus). A deregistration runs
// the serviceInstance's check once more first and notes its outcome.
type ServiceAgent struct {
	t        testing.TB
	ok       Recording   // 00: the answer to a registration
	plain    http.Header // 03
	blocking http.Header // 05
	template []byte      // 03's first entry

	// agent serves it on loopback: stopped and started on the same port,
	// blocking queries woken on every change.
	agent *Agent

	mu        sync.Mutex
	index     uint64
	instances []*serviceInstance // in registration order
	registers [][]byte           // the bodies of registrations
	deregs    []Deregistration
	queries   []url.Values // the health queries
	failing   bool         // answer 500 to everything
	refused   int          // requests answered 500
}

type serviceInstance struct {
	id       string
	checkURL string
	entry    map[string]any
}

// NewServiceAgent starts a ServiceAgent on a free loopback port, stopped when the
// test ends. Its index starts at 21, as recording 03's.
func NewServiceAgent(t testing.TB) *ServiceAgent {
	t.Helper()
	r03 := Load(t, "03-health-service-users-passing.http")
	var entries []json.RawMessage
	DecodeJSON(t, r03.Body, &entries)
	f := &ServiceAgent{
		t:        t,
		ok:       Load(t, "00-agent-service-register-users-1.http"),
		plain:    r03.Header,
		blocking: Load(t, "05-health-service-users-passing-block-deregister.http").Header,
		template: entries[0],
		index:    21,
	}
	f.agent = NewAgent(t, f.serve)
	return f
}

// Restart stops the agent and starts it again on its port without its
// services and with a low index, as a dev agent that restarted.
func (f *ServiceAgent) Restart() {
	f.agent.Stop()
	f.mu.Lock()
	f.instances, f.index = nil, 5
	f.mu.Unlock()
	f.agent.Start()
}

// change runs fn under the lock, gives the service the next index and
// wakes the blocked queries.
func (f *ServiceAgent) change(fn func()) {
	f.mu.Lock()
	fn()
	f.index++
	f.mu.Unlock()
	f.agent.Changed()
}

func (f *ServiceAgent) serve(w http.ResponseWriter, r *http.Request) {
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
		f.deregister(w, strings.TrimPrefix(r.URL.Path, "/v1/agent/service/deregister/"))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		f.health(w, r, strings.TrimPrefix(r.URL.Path, "/v1/health/service/"))
	default:
		http.Error(w, "Invalid URL path: not a recorded endpoint", http.StatusNotFound)
	}
}

// Deregistration is one PUT /v1/agent/service/deregister/:id.
type Deregistration struct {
	ID string
	// Check is what the serviceInstance's check answered when the deregistration
	// arrived: "passing", "critical", or "" for an unknown id.
	Check string
}

// deregister runs the serviceInstance's check, then removes it.
func (f *ServiceAgent) deregister(w http.ResponseWriter, id string) {
	f.mu.Lock()
	var in *serviceInstance
	for _, i := range f.instances {
		if i.id == id {
			in = i
		}
	}
	f.mu.Unlock()
	d := Deregistration{ID: id}
	if in != nil {
		d.Check = check(in.checkURL)
	}
	f.change(func() {
		f.deregs = append(f.deregs, d)
		for i, in := range f.instances {
			if in.id == id {
				f.instances = append(f.instances[:i:i], f.instances[i+1:]...)
				break
			}
		}
	})
	if in == nil { // Consul's answer for an unknown service id
		http.Error(w, "Unknown service ID \""+id+"\". Ensure that the service ID is passed, not the service name.", http.StatusNotFound)
		return
	}
	f.ok.Write(w)
}

// check runs an HTTP check: passing on a 2xx answer, critical otherwise.
func check(url string) string {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "critical"
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "critical"
	}
	return "passing"
}

// register adds or replaces the serviceInstance of the body's ID.
func (f *ServiceAgent) register(w http.ResponseWriter, r *http.Request) {
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
	DecodeJSON(f.t, f.template, &e)
	svc, check := Obj(e, "Service"), Obj(reg, "Check")
	svc["ID"], svc["Service"], svc["Address"], svc["Port"] = reg["ID"], reg["Name"], reg["Address"], reg["Port"]
	svc["Tags"], svc["Meta"] = reg["Tags"], reg["Meta"]
	for _, c := range List(e, "Checks") {
		if c := c.(map[string]any); Str(c, "ServiceID") != "" {
			c["ServiceID"], c["ServiceName"], c["CheckID"], c["Name"] = reg["ID"], reg["Name"], check["CheckID"], check["Name"]
			c["Status"], c["Output"] = "critical", ""
		}
	}
	in := &serviceInstance{id: Str(reg, "ID"), checkURL: Str(check, "HTTP"), entry: e}
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
	f.ok.Write(w)
}

// SetStatus sets the service check of serviceInstance id: "passing",
// "warning" or "critical".
func (f *ServiceAgent) SetStatus(id, status string) {
	f.change(func() {
		for _, in := range f.instances {
			if in.id == id {
				for _, c := range List(in.entry, "Checks") {
					if c := c.(map[string]any); Str(c, "ServiceID") != "" {
						c["Status"] = status
					}
				}
			}
		}
	})
}

// RunChecks runs every serviceInstance's HTTP check once, as the agent would:
// passing on a 2xx answer, critical otherwise.
func (f *ServiceAgent) RunChecks() {
	f.mu.Lock()
	ins := append([]*serviceInstance(nil), f.instances...)
	f.mu.Unlock()
	for _, in := range ins {
		f.SetStatus(in.id, check(in.checkURL))
	}
}

// SetFailing makes the agent answer 500 to everything, as one without
// a leader, or answer again.
func (f *ServiceAgent) SetFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

// Refused counts the requests answered 500 under SetFailing.
func (f *ServiceAgent) Refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// Registered returns the bodies of the registrations so far.
func (f *ServiceAgent) Registered() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.registers...)
}

// Deregistered returns the deregistrations so far.
func (f *ServiceAgent) Deregistered() []Deregistration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Deregistration(nil), f.deregs...)
}

// Addr is the agent's host:port.
func (f *ServiceAgent) Addr() string { return f.agent.Addr() }

// HealthQueries returns the query parameters of the health queries so
// far.
func (f *ServiceAgent) HealthQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

func (f *ServiceAgent) health(w http.ResponseWriter, r *http.Request, name string) {
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
		if Str(Obj(in.entry, "Service"), "Service") != name {
			continue
		}
		if passingOnly {
			for _, c := range List(in.entry, "Checks") {
				if Str(c.(map[string]any), "Status") != "passing" {
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
	rec := Recording{Status: http.StatusOK, Header: h.Clone(), Body: body}
	rec.Header.Set("X-Consul-Index", strconv.FormatUint(cur, 10))
	rec.Write(w)
}

// block holds a blocking query until the index passes index or the wait
// runs out; false when the client or the server went away.
func (f *ServiceAgent) block(r *http.Request, index uint64, waitParam string) bool {
	return f.agent.Block(r, waitParam, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.index > index
	})
}

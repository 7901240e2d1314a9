package consul

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/consultest"
)

// recording is one response of a real Consul agent, from
// internal/consultest's recordings.
type recording struct {
	header http.Header
	body   []byte
}

func loadRecording(t testing.TB, name string) recording {
	t.Helper()
	rec := consultest.Load(t, name)
	return recording{header: rec.Header, body: rec.Body}
}

// decodeEntries decodes a health endpoint body as generic JSON, keeping
// every recorded field (numbers exact).
func decodeEntries(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out []map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, k string) map[string]any { v, _ := m[k].(map[string]any); return v }
func list(m map[string]any, k string) []any         { v, _ := m[k].([]any); return v }
func str(m map[string]any, k string) string         { v, _ := m[k].(string); return v }

// fakeConsul serves /v1/health/service/:name on loopback the way a
// Consul agent does, from the recorded entries: blocking queries on
// ?index= held until the service changes or ?wait= (plus up to wait/16)
// runs out, X-Consul-Index, the recorded headers of the plain and the
// streaming backend, the ?passing, ?tag, ?dc, ?stale and ?consistent
// parameters and the ACL token. The test changes its state: register,
// deregister, fail a check, move the index, answer 500s, hang, stop.
type fakeConsul struct {
	*consultest.Agent // start and stop, modes, the token, blocking
	t                 testing.TB
	plain             http.Header // headers of a non-blocking answer (03)
	blocking          http.Header // headers of a blocking answer (04)

	mu       sync.Mutex
	raft     uint64 // last index handed out
	services map[string]*fakeService
	requests []fakeRequest
	inFlight map[string]int // blocking queries in flight per service
	maxBlock map[string]int

	addr string
}

type fakeService struct {
	index   uint64
	entries []map[string]any // in registration order
}

// fakeRequest is what the server saw of one query.
type fakeRequest struct {
	at      time.Time
	service string
	query   url.Values
	token   string
}

func newFakeConsul(t testing.TB) *fakeConsul {
	t.Helper()
	f := &fakeConsul{
		t:        t,
		plain:    loadRecording(t, "03-health-service-users-passing.http").header,
		blocking: loadRecording(t, "04-health-service-users-passing-block-timeout.http").header,
		raft:     21,
		services: map[string]*fakeService{
			"users": {index: 21, entries: decodeEntries(t, loadRecording(t, "03-health-service-users-passing.http").body)},
		},
		inFlight: make(map[string]int),
		maxBlock: make(map[string]int),
	}
	f.Agent = consultest.NewAgent(t, f.serve)
	f.addr = f.Addr()
	return f
}

func (f *fakeConsul) start()              { f.Start() }
func (f *fakeConsul) stop()               { f.Stop() }
func (f *fakeConsul) setMode(mode string) { f.SetMode(mode) }
func (f *fakeConsul) setToken(tok string) { f.SetToken(tok) }

// change runs fn on the state under the lock, then wakes blocked queries.
func (f *fakeConsul) change(fn func()) {
	f.mu.Lock()
	fn()
	f.mu.Unlock()
	f.Changed()
}

// bump gives service the next raft index. f.mu is held.
func (f *fakeConsul) bump(name string) *fakeService {
	s := f.services[name]
	if s == nil {
		s = &fakeService{}
		f.services[name] = s
	}
	f.raft++
	s.index = f.raft
	return s
}

// register adds instance id of users on port, a copy of users-2's
// recorded entry with its ID and port changed.
func (f *fakeConsul) register(id string, port int) {
	e := decodeEntries(f.t, loadRecording(f.t, "03-health-service-users-passing.http").body)[1]
	svc := obj(e, "Service")
	svc["ID"], svc["Port"] = id, json.Number(strconv.Itoa(port))
	for _, ta := range obj(svc, "TaggedAddresses") {
		ta.(map[string]any)["Port"] = json.Number(strconv.Itoa(port))
	}
	for _, c := range list(e, "Checks") {
		if c := c.(map[string]any); str(c, "ServiceID") != "" {
			c["ServiceID"], c["CheckID"] = id, id+"-http"
		}
	}
	f.change(func() {
		s := f.bump("users")
		s.entries = append(s.entries, e)
	})
}

func (f *fakeConsul) deregister(id string) {
	f.change(func() {
		s := f.bump("users")
		for i, e := range s.entries {
			if str(obj(e, "Service"), "ID") == id {
				s.entries = append(s.entries[:i:i], s.entries[i+1:]...)
				break
			}
		}
	})
}

// setCheck sets the status of the service checks of instance id.
func (f *fakeConsul) setCheck(id, status string) {
	f.change(func() {
		s := f.bump("users")
		for _, e := range s.entries {
			for _, c := range list(e, "Checks") {
				if c := c.(map[string]any); str(c, "ServiceID") == id {
					c["Status"] = status
				}
			}
		}
	})
}

// setState replaces users' entries with a recorded body at index.
func (f *fakeConsul) setState(body []byte, index uint64) {
	entries := decodeEntries(f.t, body)
	f.change(func() {
		f.services["users"] = &fakeService{index: index, entries: entries}
		f.raft = max(f.raft, index)
	})
}

// setIndex moves users' index, as a restored snapshot (lower) or a
// buggy server (0) would; the raft index follows it.
func (f *fakeConsul) setIndex(index uint64) {
	f.change(func() { f.services["users"].index, f.raft = index, index })
}

// log returns the queries seen so far for service.
func (f *fakeConsul) log(service string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if r.service == service {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeConsul) maxBlocking(service string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxBlock[service]
}

func (f *fakeConsul) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/health/service/")
	if !ok || r.Method != http.MethodGet {
		http.Error(w, "Invalid URL path: not a recorded endpoint", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{at: time.Now(), service: name, query: q, token: r.Header.Get("X-Consul-Token")})
	f.mu.Unlock()
	if f.Refused(w, r) {
		return
	}
	switch {
	case q.Has("stale") && q.Has("consistent"):
		http.Error(w, "Cannot specify ?stale with ?consistent, conflicting semantics.", http.StatusBadRequest)
		return
	}
	index, _ := strconv.ParseUint(q.Get("index"), 10, 64)
	if index > 0 && !f.block(r, name, index, q.Get("wait")) {
		return
	}
	f.answer(w, name, index > 0, q)
}

// block holds a blocking query until name's index passes index or the
// wait runs out. False when the client or the server went away.
func (f *fakeConsul) block(r *http.Request, name string, index uint64, waitParam string) bool {
	f.mu.Lock()
	f.inFlight[name]++
	f.maxBlock[name] = max(f.maxBlock[name], f.inFlight[name])
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight[name]--; f.mu.Unlock() }()
	return f.Block(r, waitParam, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.services[name]
		return s != nil && s.index > index
	})
}

// answer writes the current entries of name after the query's filters.
func (f *fakeConsul) answer(w http.ResponseWriter, name string, blocking bool, q map[string][]string) {
	f.mu.Lock()
	index := f.raft               // an unknown service answers with the current index
	entries := []map[string]any{} // Consul answers [] for none
	if s := f.services[name]; s != nil {
		index = s.index
		entries = filterEntries(s.entries, q)
	}
	body, err := json.MarshalIndent(entries, "", "    ")
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := f.plain
	if blocking {
		h = f.blocking
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Del("Transfer-Encoding")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	consistency := "leader"
	if _, ok := q["stale"]; ok {
		consistency = "stale"
	} else if _, ok := q["consistent"]; ok {
		consistency = "consistent"
	}
	w.Header().Set("X-Consul-Effective-Consistency", consistency)
	_, _ = w.Write(body)
}

// filterEntries applies ?passing (every check passing) and ?tag (every
// tag given). The result is never nil: Consul answers [] for none.
func filterEntries(entries []map[string]any, q map[string][]string) []map[string]any {
	out := make([]map[string]any, 0, len(entries))
	passing := false
	if v, ok := q["passing"]; ok {
		b, err := strconv.ParseBool(v[0])
		passing = v[0] == "" || (err == nil && b)
	}
next:
	for _, e := range entries {
		if passing {
			for _, c := range list(e, "Checks") {
				if str(c.(map[string]any), "Status") != "passing" {
					continue next
				}
			}
		}
		for _, want := range q["tag"] {
			if !hasTag(obj(e, "Service"), want) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

func hasTag(svc map[string]any, tag string) bool {
	for _, t := range list(svc, "Tags") {
		if t == tag {
			return true
		}
	}
	return false
}

func (f *fakeConsul) String() string { return fmt.Sprintf("fake consul on %s", f.addr) }

package consultest

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/*.http
var recordings embed.FS

// Recording is one response of a real Consul agent (testdata/README.md).
type Recording struct {
	Status int
	Header http.Header
	Body   []byte
}

// Load reads the recording name.
func Load(t testing.TB, name string) Recording {
	t.Helper()
	b, err := recordings.ReadFile("testdata/" + name)
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
	return Recording{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// KV serves Consul's KV endpoints on loopback the way a Consul agent does,
// with the headers of the recorded answers: GET /v1/kv/<key> (one key, a
// 404 that still carries X-Consul-Index when it is missing), ?recurse
// (entries with base64 Values), ?keys, ?raw; blocking queries on ?index=
// held until the key's (or prefix's) index passes it or ?wait= (plus up
// to wait/16) runs out, and not woken by writes elsewhere; PUT with ?cas=
// (200 "false" on a mismatch), DELETE with ?recurse, the ACL token.
// The test changes its state, stops it and starts it again on the same
// port, or makes it answer 500s or hang.
type KV struct {
	t       testing.TB
	get     Recording // 22: headers of an answer
	raw     Recording // 24: headers of a ?raw answer
	missing Recording // 25: 404 of a missing key
	put     Recording // 20: a write's "true"
	leader  Recording // 34
	unknown Recording // 35

	*Agent // Start, Stop, SetMode, SetToken

	mu         sync.Mutex
	raft       uint64
	entries    map[string]*entry
	tombstones map[string]uint64 // deleted key -> index of the deletion
	requests   []Request
	beforePut  func(key string) // see BeforePut
}

// Request is what the agent saw of one request.
type Request struct {
	At     time.Time
	Method string
	Path   string
	Query  url.Values
	Token  string // X-Consul-Token
}

type entry struct {
	value               []byte
	size                int64 // when value is nil: size bytes of 'x'
	create, modify, lck uint64
}

// NewKV starts a KV on a loopback port; the test's end stops it.
func NewKV(t testing.TB) *KV {
	t.Helper()
	f := &KV{
		t:          t,
		get:        Load(t, "22-kv-get-recurse.http"),
		raw:        Load(t, "24-kv-get-raw.http"),
		missing:    Load(t, "25-kv-get-missing.http"),
		put:        Load(t, "20-kv-put-users.http"),
		leader:     Load(t, "34-status-leader.http"),
		unknown:    Load(t, "35-unknown-endpoint-404.http"),
		raft:       26, // where the recordings start
		entries:    map[string]*entry{},
		tombstones: map[string]uint64{},
	}
	f.Agent = NewAgent(t, f.serve)
	return f
}

// write runs fn under the lock with the next raft index, then wakes the
// blocked queries.
func (f *KV) write(fn func(index uint64)) {
	f.mu.Lock()
	f.raft++
	fn(f.raft)
	f.mu.Unlock()
	f.Changed()
}

// Put sets key to value, as an operator's consul kv put.
func (f *KV) Put(key string, value []byte) {
	f.write(func(i uint64) { f.setLocked(key, &entry{value: value}, i) })
}

// PutSized sets key to size bytes of 'x', served without being held.
func (f *KV) PutSized(key string, size int64) {
	f.write(func(i uint64) { f.setLocked(key, &entry{size: size}, i) })
}

func (f *KV) setLocked(key string, e *entry, index uint64) {
	e.create, e.modify = index, index
	if old := f.entries[key]; old != nil {
		e.create = old.create
	}
	f.entries[key] = e
	delete(f.tombstones, key)
}

// DeleteTree deletes every key under prefix.
func (f *KV) DeleteTree(prefix string) {
	f.write(func(i uint64) { f.deleteLocked(prefix, true, i) })
}

func (f *KV) deleteLocked(key string, recurse bool, index uint64) {
	for k := range f.entries {
		if k == key || (recurse && strings.HasPrefix(k, key)) {
			delete(f.entries, k)
			f.tombstones[k] = index
		}
	}
}

// Value is key's value and whether it exists.
func (f *KV) Value(key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[key]
	if e == nil {
		return nil, false
	}
	return e.value, true
}

// BeforePut makes the agent call fn with the key of each PUT before it
// applies it (as another client's write that lands first would); nil
// stops it.
func (f *KV) BeforePut(fn func(key string)) { f.mu.Lock(); f.beforePut = fn; f.mu.Unlock() }

// Requests lists the requests seen so far.
func (f *KV) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Restore makes the store look restored from an older snapshot: the
// index of the whole store goes back to raft, and no key's index is
// above it.
func (f *KV) Restore(raft uint64) {
	f.mu.Lock()
	f.raft = raft
	for _, e := range f.entries {
		e.create, e.modify = min(e.create, raft), min(e.modify, raft)
	}
	clear(f.tombstones)
	f.mu.Unlock()
	f.Changed()
}

func (f *KV) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, Request{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Token: r.Header.Get("X-Consul-Token")})
	f.mu.Unlock()
	if f.Refused(w, r) {
		return
	}
	if r.URL.Path == "/v1/status/leader" && r.Method == http.MethodGet {
		f.answer(w, f.leader, 0, f.leader.Body)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/v1/kv/")
	if !ok {
		f.answer(w, f.unknown, 0, f.unknown.Body)
		return
	}
	switch r.Method {
	case http.MethodGet:
		f.read(w, r, key)
	case http.MethodPut:
		f.writeKey(w, r, key)
	case http.MethodDelete:
		f.write(func(i uint64) { f.deleteLocked(key, r.URL.Query().Has("recurse"), i) })
		f.answer(w, f.put, 0, []byte("true\n"))
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (f *KV) writeKey(w http.ResponseWriter, r *http.Request, key string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 512<<10+1))
	if err != nil {
		return
	}
	if len(body) > 512<<10 { // Consul's kv_max_value_size
		http.Error(w, "Request body(524289 bytes) too large, max size: 524288 bytes.", http.StatusRequestEntityTooLarge)
		return
	}
	f.mu.Lock()
	before := f.beforePut
	f.mu.Unlock()
	if before != nil {
		before(key)
	}
	q := r.URL.Query()
	ok := true
	f.write(func(i uint64) {
		if q.Has("cas") {
			want, _ := strconv.ParseUint(q.Get("cas"), 10, 64)
			e := f.entries[key]
			if (want == 0 && e != nil) || (want != 0 && (e == nil || e.modify != want)) {
				ok = false
				return
			}
		}
		f.setLocked(key, &entry{value: body}, i)
	})
	// A failed check-and-set still takes a raft index, as in Consul (the
	// recorded session shows the gap).
	f.answer(w, f.put, 0, []byte(strconv.FormatBool(ok)+"\n"))
}

// read answers a GET, after blocking when it asks to.
func (f *KV) read(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	prefix := q.Has("recurse") || q.Has("keys")
	if index, _ := strconv.ParseUint(q.Get("index"), 10, 64); index > 0 && !f.Block(r, q.Get("wait"), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.indexLocked(key, prefix) > index
	}) {
		return
	}
	f.mu.Lock()
	index := f.indexLocked(key, prefix)
	var keys []string
	for k := range f.entries {
		if k == key || (prefix && strings.HasPrefix(k, key)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	entries := make([]entry, len(keys))
	for i, k := range keys {
		entries[i] = *f.entries[k]
	}
	f.mu.Unlock()
	if len(keys) == 0 {
		f.answer(w, f.missing, index, nil)
		return
	}
	switch {
	case q.Has("keys"):
		var b bytes.Buffer
		b.WriteString("[")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n    " + strconv.Quote(k))
		}
		b.WriteString("\n]\n")
		f.answer(w, f.get, index, b.Bytes())
	case q.Has("raw"):
		f.answer(w, f.raw, index, entries[0].value)
	default:
		f.answer(w, f.get, index, nil)
		writeEntries(w, keys, entries)
	}
}

// writeEntries streams entries as the dev agent prints them, each Value
// base64-encoded as it is written.
func writeEntries(w io.Writer, keys []string, entries []entry) {
	bw := bufio.NewWriter(w)
	bw.WriteString("[")
	for i, e := range entries {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    {\n        \"LockIndex\": " + strconv.FormatUint(e.lck, 10) +
			",\n        \"Key\": " + strconv.Quote(keys[i]) +
			",\n        \"Flags\": 0,\n        \"Value\": \"")
		enc := base64.NewEncoder(base64.StdEncoding, bw)
		if e.value != nil {
			enc.Write(e.value)
		} else {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for left := e.size; left > 0; left -= int64(len(chunk)) {
				if _, err := enc.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
					return // the client went away
				}
			}
		}
		enc.Close()
		bw.WriteString("\",\n        \"CreateIndex\": " + strconv.FormatUint(e.create, 10) +
			",\n        \"ModifyIndex\": " + strconv.FormatUint(e.modify, 10) + "\n    }")
	}
	bw.WriteString("\n]\n")
	bw.Flush()
}

// answer writes rec's status and headers, with the index and body given.
func (f *KV) answer(w http.ResponseWriter, rec Recording, index uint64, body []byte) {
	for k, v := range rec.Header {
		w.Header()[k] = v
	}
	w.Header().Del("Transfer-Encoding")
	w.Header().Del("Content-Length")
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if index > 0 {
		w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	}
	w.WriteHeader(rec.Status)
	_, _ = w.Write(body)
}

// indexLocked is the X-Consul-Index of a read of key: the key's
// ModifyIndex; for a prefix the highest ModifyIndex or deletion under
// it; for what has neither, the index of the whole KV store (never 0).
func (f *KV) indexLocked(key string, prefix bool) uint64 {
	var idx, table uint64
	for k, e := range f.entries {
		table = max(table, e.modify)
		if k == key || (prefix && strings.HasPrefix(k, key)) {
			idx = max(idx, e.modify)
		}
	}
	for k, i := range f.tombstones {
		table = max(table, i)
		if prefix && strings.HasPrefix(k, key) {
			idx = max(idx, i)
		}
	}
	if idx == 0 {
		idx = max(table, 1)
	}
	return idx
}

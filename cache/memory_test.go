package cache

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryRoundTrip(t *testing.T) {
	m := mustMemory(t, Settings{})
	key := []byte("GET example.com /a")
	give := newEntry("a", 40, 100, t0)
	want := newEntry("a", 40, 100, t0)
	m.Put(key, give)

	// The caller's buffers are its own again once Put returns.
	give.Header[0], give.Body[0] = 'X', 'X'
	key[0] = 'X'

	got, ok := m.Get([]byte("GET example.com /a"), t0)
	if !ok {
		t.Fatal("Get: miss after Put")
	}
	if diff := sameEntry(got, want); diff != "" {
		t.Error(diff)
	}
	if _, ok := m.Get([]byte("GET example.com /b"), t0); ok {
		t.Error("Get of another key: hit")
	}
	st := m.Stats()
	if st.Hits != 1 || st.Misses != 1 || st.Entries != 1 {
		t.Errorf("stats %+v, want 1 hit, 1 miss, 1 entry", st)
	}
	if want := entrySize(len(key), want); st.Bytes != want {
		t.Errorf("Bytes = %d, want %d", st.Bytes, want)
	}
}

// checkBound fails when m holds, or has counted, more than its bounds.
func checkBound(t *testing.T, m *Memory, when string) {
	t.Helper()
	st := m.Stats()
	if st.Bytes > m.s.MaxBytes {
		t.Fatalf("%s: %d bytes held, bound %d", when, st.Bytes, m.s.MaxBytes)
	}
	if w := m.weight.Load(); w > m.s.MaxBytes {
		t.Fatalf("%s: weight %d charged, bound %d", when, w, m.s.MaxBytes)
	}
	if m.s.MaxEntries > 0 && st.Entries > int64(m.s.MaxEntries) {
		t.Fatalf("%s: %d entries, bound %d", when, st.Entries, m.s.MaxEntries)
	}
}

// held sums the entries the underlying map really holds.
func held(m *Memory) (n, bytes int64) {
	for k, e := range m.c.All() {
		n++
		bytes += entrySize(len(k), e)
	}
	return n, bytes
}

// TestMemoryByteBound writes ten times the bound in entries of mixed
// sizes; the bound holds after every Put, and the counters agree with
// what the map holds at the end.
func TestMemoryByteBound(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
	}{
		{desc: "bytes", give: Settings{MaxBytes: 256 << 10, MaxEntryBytes: 16 << 10}},
		{desc: "bytes and entries", give: Settings{MaxBytes: 256 << 10, MaxEntryBytes: 16 << 10, MaxEntries: 40}},
		{desc: "entry as large as half the bound", give: Settings{MaxBytes: 64 << 10, MaxEntryBytes: 32 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := mustMemory(t, tt.give)
			rnd := rand.New(rand.NewPCG(1, 2))
			var written int64
			for i := 0; written < 10*m.s.MaxBytes; i++ {
				key := []byte(fmt.Sprintf("key-%d", rnd.IntN(400)))
				e := newEntry("x", rnd.IntN(200), rnd.IntN(m.s.MaxEntryBytes-400), t0.Add(time.Duration(i)))
				m.Put(key, e)
				written += entrySize(len(key), e)
				checkBound(t, m, fmt.Sprintf("after Put %d", i))
			}
			n, bytes := held(m)
			st := m.Stats()
			if n != st.Entries || bytes != st.Bytes {
				t.Errorf("the map holds %d entries, %d bytes; the counters say %d, %d", n, bytes, st.Entries, st.Bytes)
			}
			if bytes > m.s.MaxBytes {
				t.Errorf("the map holds %d bytes, bound %d", bytes, m.s.MaxBytes)
			}
			if st.Evictions == 0 {
				t.Error("no eviction counted")
			}
			if bytes < m.s.MaxBytes/4 {
				t.Errorf("only %d of %d bytes in use after writing %d", bytes, m.s.MaxBytes, written)
			}
		})
	}
}

// TestMemoryByteBoundConcurrent: writers on every core and a reader that
// checks the bound meanwhile.
func TestMemoryByteBoundConcurrent(t *testing.T) {
	m := mustMemory(t, Settings{MaxBytes: 128 << 10, MaxEntryBytes: 8 << 10, MaxEntries: 64})
	const writers, puts = 4, 3000
	var wg sync.WaitGroup
	var over atomic.Int64
	stop := make(chan struct{})
	checker := make(chan struct{})
	go func() {
		defer close(checker)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st := m.Stats(); st.Bytes > m.s.MaxBytes || st.Entries > 64 {
				over.Store(st.Bytes)
			}
			time.Sleep(10 * time.Microsecond)
		}
	}()
	for w := range writers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range puts {
				key := []byte(fmt.Sprintf("k%d", rnd.IntN(500)))
				m.Put(key, newEntry("x", 50, rnd.IntN(7<<10), t0.Add(time.Duration(i))))
				if i%16 == 0 {
					m.Get(key, t0)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-checker
	if b := over.Load(); b != 0 {
		t.Errorf("the checker saw %d bytes, bound %d", b, m.s.MaxBytes)
	}
	checkBound(t, m, "at the end")
	n, bytes := held(m)
	if st := m.Stats(); n != st.Entries || bytes != st.Bytes {
		t.Errorf("the map holds %d entries, %d bytes; the counters say %d, %d", n, bytes, st.Entries, st.Bytes)
	}
}

func TestMemoryEntryBound(t *testing.T) {
	m := mustMemory(t, Settings{MaxBytes: 1 << 20, MaxEntries: 8})
	for i := range 100 {
		m.Put([]byte(fmt.Sprintf("k%d", i)), newEntry("x", 10, 10, t0))
		checkBound(t, m, fmt.Sprintf("after Put %d", i))
	}
	if n, _ := held(m); n > 8 || n < 2 {
		t.Errorf("%d entries held, want 2 to 8", n)
	}
}

func TestMemorySkipsLargeEntries(t *testing.T) {
	const max = 4096
	m := mustMemory(t, Settings{MaxBytes: 1 << 20, MaxEntryBytes: max})
	key := []byte("k")
	bodyFits := max - EntryOverhead - len(key) - 10
	tests := []struct {
		desc string
		give *Entry
		want bool
	}{
		{desc: "exactly the limit", give: newEntry("fits", 10, bodyFits, t0), want: true},
		{desc: "one byte over", give: newEntry("over", 10, bodyFits+1, t0.Add(time.Second)), want: false},
		{desc: "far over", give: newEntry("huge", 10, 1<<19, t0.Add(2*time.Second)), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m.Put(key, tt.give)
			got, ok := m.Get(key, t0)
			if stored := ok && sameEntry(got, tt.give) == ""; stored != tt.want {
				t.Errorf("stored %v, want %v", stored, tt.want)
			}
		})
	}
	if st := m.Stats(); st.Skipped != 2 {
		t.Errorf("Skipped = %d, want 2", st.Skipped)
	}
}

func TestMemoryRefreshAfter(t *testing.T) {
	tests := []struct {
		desc    string
		refresh time.Duration
		give    time.Duration // the second Put's Stored, after the first's
		want    string        // the body tag held after both
	}{
		{desc: "younger copy kept", refresh: time.Second, give: 500 * time.Millisecond, want: "first"},
		{desc: "old enough copy replaced", refresh: time.Second, give: time.Second, want: "second"},
		{desc: "no refresh interval: replaced", refresh: 0, give: 0, want: "second"},
		{desc: "an older response never replaces", refresh: 0, give: -time.Second, want: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := mustMemory(t, Settings{RefreshAfter: tt.refresh})
			key := []byte("k")
			m.Put(key, newEntry("first", 1, 10, t0))
			if wants := m.Wants(key, t0.Add(tt.give)); wants != (tt.want == "second") {
				t.Errorf("Wants = %v", wants)
			}
			m.Put(key, newEntry("second", 1, 10, t0.Add(tt.give)))
			got, ok := m.Get(key, t0)
			if !ok {
				t.Fatal("miss")
			}
			if !strings.HasPrefix(string(got.Body), tt.want) {
				t.Errorf("body %.10q, want %q", got.Body, tt.want)
			}
			if n, _ := held(m); n != 1 || m.Stats().Entries != 1 {
				t.Errorf("%d entries held, counted %d; want 1", n, m.Stats().Entries)
			}
		})
	}
}

func TestMemoryMaxAge(t *testing.T) {
	m := mustMemory(t, Settings{MaxAge: time.Minute})
	key := []byte("k")
	m.Put(key, newEntry("a", 1, 1, t0))
	tests := []struct {
		desc string
		give time.Time
		want bool
	}{
		{desc: "fresh", give: t0, want: true},
		{desc: "as old as max age", give: t0.Add(time.Minute), want: true},
		{desc: "older than max age", give: t0.Add(time.Minute + 1), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, ok := m.Get(key, tt.give); ok != tt.want {
				t.Errorf("hit %v, want %v", ok, tt.want)
			}
		})
	}
}

func TestNewMemoryRejectsBadSettings(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
		want string
	}{
		{desc: "tiny max bytes", give: Settings{MaxBytes: 100}, want: "max bytes 100"},
		{desc: "one entry", give: Settings{MaxEntries: 1}, want: "max entries 1"},
		{desc: "negative entries", give: Settings{MaxEntries: -3}, want: "max entries -3"},
		{desc: "entry over half", give: Settings{MaxBytes: 1 << 20, MaxEntryBytes: 600 << 10}, want: "max entry bytes 614400"},
		{desc: "negative max age", give: Settings{MaxAge: -1}, want: "must not be negative"},
		{desc: "huge weight", give: Settings{MaxBytes: 1 << 40, MaxEntries: 2}, want: "4 GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := NewMemory(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one that mentions %q", err, tt.want)
			}
		})
	}
}

func TestMemoryDefaults(t *testing.T) {
	m := mustMemory(t, Settings{})
	if s := m.Settings(); s.MaxBytes != DefaultMaxBytes || s.MaxEntryBytes != DefaultMaxEntryBytes {
		t.Errorf("defaults %+v", s)
	}
	m = mustMemory(t, Settings{MaxBytes: 4096})
	if s := m.Settings(); s.MaxEntryBytes != 2048 {
		t.Errorf("MaxEntryBytes = %d for MaxBytes 4096, want 2048", s.MaxEntryBytes)
	}
}

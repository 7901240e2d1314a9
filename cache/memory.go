package cache

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
)

// Defaults that a zero field of Settings stands for.
const (
	DefaultMaxBytes      = 64 << 20
	DefaultMaxEntryBytes = 1 << 20
)

// Settings configure a Memory cache.
type Settings struct {
	// MaxBytes bounds what the cache holds, counting for each entry its
	// key, header, body and EntryOverhead. The cache keeps room for one
	// more entry of MaxEntryBytes, so it fills up to about MaxBytes -
	// MaxEntryBytes. 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries bounds the number of entries; 0 leaves only MaxBytes.
	// Otherwise at least 2. Both bounds hold at once because each entry
	// is charged at least MaxBytes/MaxEntries bytes toward MaxBytes.
	MaxEntries int
	// MaxEntryBytes is the largest entry stored, counted as for MaxBytes;
	// a larger one is skipped. At most MaxBytes/2. 0 means
	// DefaultMaxEntryBytes or MaxBytes/2, whichever is smaller.
	MaxEntryBytes int
	// RefreshAfter skips a Put while the key's stored copy is younger than
	// this: for a fallback, copying every success of a busy route buys
	// nothing. 0 stores every Put.
	RefreshAfter time.Duration
	// MaxAge is the oldest copy Get returns (the route's max_stale). 0
	// means no limit.
	MaxAge time.Duration
}

// normalized returns s with its zero fields replaced by their defaults,
// or the errors of s.
func (s Settings) normalized() (Settings, error) {
	if s.MaxBytes == 0 {
		s.MaxBytes = DefaultMaxBytes
	}
	if s.MaxEntryBytes == 0 {
		s.MaxEntryBytes = int(min(DefaultMaxEntryBytes, s.MaxBytes/2))
	}
	var errs []error
	if s.MaxBytes < 4*EntryOverhead {
		errs = append(errs, fmt.Errorf("cache: max bytes %d: must be at least %d", s.MaxBytes, 4*EntryOverhead))
	}
	if s.MaxEntries < 0 || s.MaxEntries == 1 {
		errs = append(errs, fmt.Errorf("cache: max entries %d: must be 0 (no limit) or at least 2", s.MaxEntries))
	}
	if s.MaxEntryBytes < 0 || int64(s.MaxEntryBytes) > s.MaxBytes/2 {
		errs = append(errs, fmt.Errorf("cache: max entry bytes %d: must be within 0 and half of max bytes (%d)", s.MaxEntryBytes, s.MaxBytes/2))
	}
	if int64(s.MaxEntryBytes) > math.MaxUint32 || s.minWeight() > math.MaxUint32 {
		errs = append(errs, errors.New("cache: an entry may weigh at most 4 GiB: lower max entry bytes, or raise max entries"))
	}
	if s.RefreshAfter < 0 || s.MaxAge < 0 {
		errs = append(errs, errors.New("cache: refresh after and max age must not be negative"))
	}
	return s, errors.Join(errs...)
}

// minWeight is the least an entry is charged: MaxBytes/MaxEntries,
// rounded up, so that no more than MaxEntries fit.
func (s Settings) minWeight() int64 {
	if s.MaxEntries <= 0 {
		return 0
	}
	return (s.MaxBytes + int64(s.MaxEntries) - 1) / int64(s.MaxEntries)
}

// Stats are a Memory's counters.
type Stats struct {
	Hits, Misses uint64
	// Evictions counts entries removed to stay within the bounds.
	Evictions uint64
	// Skipped counts Puts not stored: too large, or the stored copy was
	// younger than RefreshAfter, or no room could be made at once.
	Skipped uint64
	// Bytes is what the entries held now are charged (see MaxBytes).
	Bytes int64
	// Entries is the number of entries held now.
	Entries int64
}

// Memory is a bounded in-memory response cache. It is safe for concurrent
// use and needs no Close: it starts no goroutine.
//
// The bounds hold at every moment, not only eventually: a Put first
// reserves its entry's weight against MaxBytes, running the eviction at
// once when there is no room, and skips the entry if there still is none.
type Memory struct {
	c         *otter.Cache[string, *Entry]
	s         Settings
	minWeight int64

	weight  atomic.Int64 // charged toward MaxBytes: entries held and reserved
	bytes   atomic.Int64
	entries atomic.Int64

	hits, misses, evictions, skipped atomic.Uint64
}

// NewMemory returns an empty Memory, or the errors of s.
func NewMemory(s Settings) (*Memory, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	m := &Memory{s: s, minWeight: s.minWeight()}
	// The policy evicts down to MaxBytes less room for the largest entry,
	// so that the next Put fits without waiting for an eviction.
	headroom := max(int64(s.MaxEntryBytes), m.minWeight)
	c, err := otter.New(&otter.Options[string, *Entry]{
		MaximumWeight: uint64(s.MaxBytes - headroom),
		Weigher: func(key string, e *Entry) uint32 {
			return uint32(m.weightOf(entrySize(len(key), e)))
		},
		OnAtomicDeletion: m.deleted,
		// Maintenance (eviction) runs on the goroutine that writes, so
		// that it is done when Put returns and no goroutine is started.
		Executor: func(fn func()) { fn() },
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	m.c = c
	return m, nil
}

// Settings returns m's settings, defaults applied.
func (m *Memory) Settings() Settings { return m.s }

func (m *Memory) weightOf(size int64) int64 { return max(size, m.minWeight) }

// deleted runs for each entry that leaves the map (eviction, replacement),
// under the lock of the entry's bucket.
func (m *Memory) deleted(ev otter.DeletionEvent[string, *Entry]) {
	size := entrySize(len(ev.Key), ev.Value)
	// The reservation is released last: a writer may take the room only
	// once the bytes and entry it held have left the counters, so that
	// Stats never reads more than the bounds.
	m.bytes.Add(-size)
	m.entries.Add(-1)
	m.weight.Add(-m.weightOf(size))
	if ev.Cause.IsEviction() {
		m.evictions.Add(1)
	}
}

// Get returns key's entry when there is one stored no longer than MaxAge
// before now. The Entry is shared and read-only. A hit allocates nothing.
func (m *Memory) Get(key []byte, now time.Time) (*Entry, bool) {
	e, ok := m.c.GetIfPresent(borrow(key))
	if !ok || m.s.MaxAge > 0 && now.Sub(e.Stored) > m.s.MaxAge {
		m.misses.Add(1)
		return nil, false
	}
	m.hits.Add(1)
	return e, true
}

// Wants reports whether a response for key received at now would be
// stored: false while the stored copy is younger than RefreshAfter. The
// gateway asks before it buffers and serializes a response.
func (m *Memory) Wants(key []byte, now time.Time) bool {
	old, ok := m.c.GetEntryQuietly(borrow(key))
	if !ok {
		return true
	}
	age := now.Sub(old.Value.Stored)
	return age >= 0 && age >= m.s.RefreshAfter // a newer copy stays
}

// Put stores a copy of e under key, unless the entry is larger than
// MaxEntryBytes or Wants(key, e.Stored) is false. See Entry for who owns
// what.
func (m *Memory) Put(key []byte, e *Entry) {
	m.store(key, e, false)
}

// store puts e (a copy of it unless owned) under key and returns the key
// and entry it holds, or ok false when it skipped them.
func (m *Memory) store(key []byte, e *Entry, owned bool) (k string, held *Entry, ok bool) {
	size := entrySize(len(key), e)
	if size > int64(m.s.MaxEntryBytes) || !m.Wants(key, e.Stored) || !m.reserve(m.weightOf(size)) {
		m.skipped.Add(1)
		return "", nil, false
	}
	m.bytes.Add(size)
	m.entries.Add(1)
	k, held = string(key), e
	if !owned {
		held = e.clone()
	}
	m.c.Set(k, held)
	return k, held, true
}

// reserve charges w toward MaxBytes, evicting at once when there is no
// room; false when there is none even then (other writers took it).
func (m *Memory) reserve(w int64) bool {
	cleaned := false
	for {
		cur := m.weight.Load()
		if cur+w > m.s.MaxBytes {
			if cleaned {
				return false
			}
			m.c.CleanUp()
			cleaned = true
			continue
		}
		if m.weight.CompareAndSwap(cur, cur+w) {
			return true
		}
	}
}

// Stats returns m's counters.
func (m *Memory) Stats() Stats {
	return Stats{
		Hits:      m.hits.Load(),
		Misses:    m.misses.Load(),
		Evictions: m.evictions.Load(),
		Skipped:   m.skipped.Load(),
		Bytes:     m.bytes.Load(),
		Entries:   m.entries.Load(),
	}
}

// borrow returns b as a string without copying it, for a lookup that does
// not keep its key.
func borrow(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

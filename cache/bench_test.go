package cache

import (
	"fmt"
	"testing"
	"time"
)

// benchKeys returns n keys of a realistic length.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = AppendKey(nil, []byte("GET"), []byte("api.example.com"), []byte(fmt.Sprintf("/users/%d", i)), []byte("fields=name"))
	}
	return keys
}

func BenchmarkMemoryGet(b *testing.B) {
	m := mustMemory(b, Settings{})
	keys := benchKeys(1024)
	for _, k := range keys {
		m.Put(k, newEntry("x", 200, 1024, t0))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m.Get(keys[i&1023], t0)
	}
}

func BenchmarkMemoryGetParallel(b *testing.B) {
	m := mustMemory(b, Settings{})
	keys := benchKeys(1024)
	for _, k := range keys {
		m.Put(k, newEntry("x", 200, 1024, t0))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			m.Get(keys[i&1023], t0)
		}
	})
}

// BenchmarkSuccessPath is the cache's share of a successful proxied GET
// whose stored copy is younger than RefreshAfter: key, policy, Wants.
func BenchmarkSuccessPath(b *testing.B) {
	m := mustMemory(b, Settings{RefreshAfter: time.Second})
	method, host, path := []byte("GET"), []byte("api.example.com"), []byte("/users/42")
	cc := []byte("public, max-age=60")
	m.Put(AppendKey(nil, method, host, path, nil), newEntry("x", 200, 1024, t0))
	now := t0.Add(time.Millisecond)
	buf := make([]byte, 0, 256)
	var policy Policy
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendKey(buf[:0], method, host, path, nil)
		if policy.Storable(method, 200, cc, false) && m.Wants(buf, now) {
			b.Fatal("Wants: true for a fresh copy")
		}
	}
}

// BenchmarkMemoryPutFresh: Put of a key whose copy is still fresh.
func BenchmarkMemoryPutFresh(b *testing.B) {
	m := mustMemory(b, Settings{RefreshAfter: time.Second})
	keys := benchKeys(1024)
	for _, k := range keys {
		m.Put(k, newEntry("x", 200, 1024, t0))
	}
	e := newEntry("y", 200, 1024, t0.Add(time.Millisecond))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m.Put(keys[i&1023], e)
	}
}

// BenchmarkMemoryPutStore: every Put copies and stores (RefreshAfter 0),
// with eviction running: 4096 keys of 1.2 KiB in a 1 MiB cache.
func BenchmarkMemoryPutStore(b *testing.B) {
	m := mustMemory(b, Settings{MaxBytes: 1 << 20, MaxEntryBytes: 64 << 10})
	keys := benchKeys(4096)
	e := newEntry("y", 200, 1024, t0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m.Put(keys[i&4095], e)
	}
}

func BenchmarkAppendKey(b *testing.B) {
	method, host, path, query := []byte("GET"), []byte("API.example.com"), []byte("/users/42/orders"), []byte("page=2")
	enc := []byte("gzip")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendKey(buf[:0], method, host, path, query, enc)
	}
}

package ratelimit

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLocal measures decisions of a Local. On an existing key a
// decision costs 0 allocations (TestAllocations holds it to that); a new
// key costs two, its copy and its rate.Limiter. See the package doc for
// the times measured on this project's machine.
func BenchmarkLocal(b *testing.B) {
	b.Run("single key", func(b *testing.B) {
		l := newLocal(b, LocalSettings{Rate: 1e6, Burst: 1000})
		key := []byte("192.0.2.1")
		now := t0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Allow(key, now.Add(time.Duration(i)*time.Microsecond))
		}
	})
	b.Run("single key, admit only", func(b *testing.B) {
		l := newLocal(b, LocalSettings{Rate: 1e6, Burst: 1000})
		key := []byte("192.0.2.1")
		now := t0
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Admit(key, now.Add(time.Duration(i)*time.Microsecond))
		}
	})
	b.Run("100k keys", func(b *testing.B) {
		const n = 100_000
		l := newLocal(b, LocalSettings{Rate: 100, Burst: 10, MaxKeys: 2 * n})
		keys := make([][]byte, n)
		for i := range keys {
			keys[i] = keyBytes(nil, i)
			l.Allow(keys[i], t0)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Allow(keys[i%n], t0.Add(time.Duration(i)*time.Microsecond))
		}
	})
	b.Run("new keys over the cap", func(b *testing.B) {
		l := newLocal(b, LocalSettings{Rate: 100, Burst: 10, MaxKeys: 10_000})
		buf := make([]byte, 0, 32)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Allow(keyBytes(buf, i), t0)
		}
	})
}

// BenchmarkLocalParallel measures contention: every goroutine on one key
// (one shard, one mutex), and goroutines spread over many keys.
func BenchmarkLocalParallel(b *testing.B) {
	for _, tt := range []struct {
		desc string
		keys int
	}{
		{desc: "one key", keys: 1},
		{desc: "1k keys", keys: 1000},
	} {
		b.Run(tt.desc, func(b *testing.B) {
			l := newLocal(b, LocalSettings{Rate: 1e6, Burst: 1000})
			keys := make([][]byte, tt.keys)
			for i := range keys {
				keys[i] = keyBytes(nil, i)
			}
			var worker atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(worker.Add(1)) * 7919
				now := time.Now()
				for pb.Next() {
					i++
					l.Allow(keys[i%tt.keys], now)
				}
			})
		})
	}
}

func BenchmarkHeaders(b *testing.B) {
	h, err := NewHeaders(HeaderSettings{Rate: 100, Burst: 10, Draft: true, Legacy: true})
	if err != nil {
		b.Fatal(err)
	}
	sink := &headerSink{}
	scratch := make([]byte, 0, 64)
	d := Decision{Limit: 10, RetryAfter: time.Second, Reset: 3 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		scratch = h.Write(sink.set, d, scratch)
	}
}

// BenchmarkRedis is one shared decision: a round trip to the test Redis.
func BenchmarkRedis(b *testing.B) {
	r := newRedis(b, RedisSettings{Client: sharedRedis(b), Prefix: uniquePrefix(b), Rate: 1e6, Burst: 1000, Timeout: time.Second})
	key := []byte("192.0.2.1")
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Allow(key, time.Now())
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Allow(key, time.Now())
			}
		})
	})
	if s := r.Stats(); s.Errors != 0 {
		b.Errorf("Redis errors: %+v", s)
	}
}

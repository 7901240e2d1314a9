package breaker

import (
	"testing"
	"time"
)

func BenchmarkDoClosed(b *testing.B) {
	br := mustNewB(b, Settings{FailureRatio: 0.5, MinRequests: 20})
	status := 200
	b.ReportAllocs()
	for b.Loop() {
		br.Do(func() (int, bool) { return status, false })
	}
}

// BenchmarkDoSettled: closed with only the consecutive-failures rule,
// after a success: the call runs without gobreaker.
func BenchmarkDoSettled(b *testing.B) {
	br := mustNewB(b, Settings{ConsecutiveFailures: 5})
	status := 200
	br.Do(func() (int, bool) { return status, false })
	b.ReportAllocs()
	for b.Loop() {
		br.Do(func() (int, bool) { return status, false })
	}
}

func BenchmarkDoClosedParallel(b *testing.B) {
	br := mustNewB(b, Settings{FailureRatio: 0.5, MinRequests: 20})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		status := 200
		for pb.Next() {
			br.Do(func() (int, bool) { return status, false })
		}
	})
}

func BenchmarkDoOpen(b *testing.B) {
	br := mustNewB(b, Settings{ConsecutiveFailures: 1, OpenFor: time.Hour})
	br.Do(func() (int, bool) { return 0, true })
	status := 200
	b.ReportAllocs()
	for b.Loop() {
		br.Do(func() (int, bool) { return status, false })
	}
}

func BenchmarkSetGetParallel(b *testing.B) {
	s, err := NewSet(Settings{}, 0)
	if err != nil {
		b.Fatal(err)
	}
	targets := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i, status := 0, 200
		for pb.Next() {
			i++
			s.Get(targets[i%len(targets)]).Do(func() (int, bool) { return status, false })
		}
	})
}

func mustNewB(b *testing.B, s Settings) *Breaker {
	br, err := New("bench", s)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

package accesslog

import (
	"io"
	"runtime"
	"testing"
)

// BenchmarkLog logs from GOMAXPROCS goroutines that never block, so the
// writer goroutine competes with them for a CPU: once the queue is full,
// most calls take the drop path. drops/op tells how many.
func BenchmarkLog(b *testing.B) {
	for _, f := range []Format{FormatJSON, FormatCommon} {
		b.Run(f.String(), func(b *testing.B) {
			l, err := New(Settings{Output: io.Discard, Format: f})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				e := fullEntry()
				for pb.Next() {
					l.Log(e)
				}
			})
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
		})
	}
}

// BenchmarkLogSustained logs from one goroutine that yields whenever the
// queue is full until its line is accepted: ns/op is the time per line
// written, formatting, queue and writer goroutine together.
func BenchmarkLogSustained(b *testing.B) {
	l, err := New(Settings{Output: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	e := fullEntry()
	b.ReportAllocs()
	for b.Loop() {
		for !l.Log(e) {
			runtime.Gosched()
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFormat is the formatting alone, without queue and writer.
func BenchmarkFormat(b *testing.B) {
	e := fullEntry()
	buf := make([]byte, 0, stackLine)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendJSON(buf[:0], e)
		}
	})
	b.Run("common", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendCommon(buf[:0], e)
		}
	})
}

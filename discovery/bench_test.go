package discovery

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// benchSet returns a Set of n instances with weights 1..4.
func benchSet(n int) *Set {
	eps := make([]Endpoint, n)
	for i := range eps {
		eps[i] = Endpoint{Addr: "10.0.0." + strconv.Itoa(i) + ":8080", Weight: 1 + i%4}
	}
	return NewSet(eps, HealthSettings{MaxFailures: 5})
}

// BenchmarkPick measures one Pick per op, the Set read through an
// atomic.Pointer as the gateway does. The "request" variants add the
// Acquire, ReportSuccess and Release a request makes.
func BenchmarkPick(b *testing.B) {
	for _, kind := range kinds {
		var cur atomic.Pointer[Set]
		cur.Store(benchSet(8))
		b.Run(kind+"/serial", func(b *testing.B) {
			bal := mustBalancer(b, kind)
			b.ReportAllocs()
			for b.Loop() {
				bal.Pick(cur.Load(), t0, nil)
			}
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			bal := mustBalancer(b, kind)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bal.Pick(cur.Load(), t0, nil)
				}
			})
		})
		b.Run(kind+"/request/parallel", func(b *testing.B) {
			bal := mustBalancer(b, kind)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					in := bal.Pick(cur.Load(), t0, nil)
					in.Acquire()
					in.ReportSuccess()
					in.Release()
				}
			})
		})
	}
}

// BenchmarkNewSetFrom measures rebuilding a Set of 1000 weighted
// instances, as a discovery update does.
func BenchmarkNewSetFrom(b *testing.B) {
	prev := benchSet(1000)
	eps := make([]Endpoint, prev.Len())
	for i, in := range prev.Instances() {
		eps[i] = in.Endpoint
	}
	b.ReportAllocs()
	for b.Loop() {
		NewSetFrom(prev, eps, HealthSettings{MaxFailures: 5})
	}
}

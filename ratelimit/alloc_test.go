//go:build !race

package ratelimit

import (
	"testing"
	"time"
)

func TestAllocations(t *testing.T) {
	l := newLocal(t, LocalSettings{Rate: 100, Burst: 10})
	h, err := NewHeaders(HeaderSettings{Rate: 100, Burst: 10, Draft: true, Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("192.0.2.1")
	now := t0
	l.Allow(key, now)
	sink := &headerSink{}
	scratch := make([]byte, 0, 64)
	tests := []struct {
		desc string
		give func()
	}{
		{desc: "local decision, existing key", give: func() {
			now = now.Add(time.Millisecond)
			l.Allow(key, now)
		}},
		{desc: "local denial, existing key", give: func() { l.Allow(key, now) }},
		{desc: "headers of an allowed request", give: func() {
			scratch = h.Write(sink.set, Decision{Allowed: true, Limit: 10, Remaining: 3, Reset: time.Second}, scratch)
		}},
		{desc: "headers of a denial", give: func() {
			scratch = h.Write(sink.set, Decision{Limit: 10, RetryAfter: time.Second, Reset: time.Second}, scratch)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.give() // warm up
			if n := testing.AllocsPerRun(1000, tt.give); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

package basic

import (
	"testing"
	"time"
)

func BenchmarkCheckAuthorizationCached(b *testing.B) {
	now := time.Now()
	c := newChecker(b, Settings{Users: []User{{Name: "alice", Hash: hash(b, "secret")}}})
	h := header("alice", "secret")
	c.CheckAuthorization(h, now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.CheckAuthorization(h, now)
	}
}

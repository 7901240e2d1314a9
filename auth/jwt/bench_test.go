package jwt

import (
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

func benchVerify(b *testing.B, s jwttest.Key, settings Settings) {
	now := time.Now()
	p := newProvider(b, settings, keysOf(s))
	tok := []byte(s.Sign(b, claimsAt(now)))
	p.Verify(tok, now) // the cached case starts warm
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, reason, err := p.Verify(tok, now); reason != auth.Allowed {
			b.Fatalf("Verify: %v (%v)", reason, err)
		}
	}
}

// BenchmarkVerifyCached is a valid token seen before: hash, lookup, compare.
func BenchmarkVerifyCached(b *testing.B) {
	benchVerify(b, jwttest.RSA(0, "rsa"), Settings{})
}

// BenchmarkVerifyRS256 is a full verification, cache off.
func BenchmarkVerifyRS256(b *testing.B) {
	benchVerify(b, jwttest.RSA(0, "rsa"), Settings{CacheSize: -1})
}

// BenchmarkVerifyES256 is a full verification, cache off.
func BenchmarkVerifyES256(b *testing.B) {
	benchVerify(b, jwttest.EC("ec"), Settings{CacheSize: -1})
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	now := time.Now()
	s := jwttest.RSA(0, "rsa")
	p := newProvider(b, Settings{}, keysOf(s))
	tok := []byte(s.Sign(b, claimsAt(now)))
	p.Verify(tok, now)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, reason, _ := p.Verify(tok, now); reason != auth.Allowed {
				b.Error("refused")
				return
			}
		}
	})
}

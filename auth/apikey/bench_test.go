package apikey

import (
	"strconv"
	"testing"
)

func BenchmarkLookup(b *testing.B) {
	keys := make([]Key, 1000)
	for i := range keys {
		keys[i] = Key{Consumer: "c" + strconv.Itoa(i), SHA256: Hash("key-" + strconv.Itoa(i))}
	}
	s, err := New(keys)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("key-500")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.Lookup(key); !ok {
			b.Fatal("not found")
		}
	}
}

package ttlcache

import (
	"sync"
	"testing"
)

func TestGetHonoursExpiry(t *testing.T) {
	c := New[uint64, string](64, Uint64Shard)
	c.Put(1, "a", 100, 0)
	if v, ok := c.Get(1, 99); !ok || v != "a" {
		t.Fatalf("Get before expiry = %q, %v; want a, true", v, ok)
	}
	if _, ok := c.Get(1, 100); ok {
		t.Fatal("Get at expiry found the entry; want it gone")
	}
	if _, ok := c.Get(2, 0); ok {
		t.Fatal("Get of an absent key found something")
	}
	c.Delete(1)
	if _, ok := c.Get(1, 0); ok {
		t.Fatal("Get after Delete found the entry")
	}
}

func TestStaysBounded(t *testing.T) {
	const size = 64
	c := New[uint64, int](size, Uint64Shard)
	for i := uint64(0); i < 10000; i++ {
		c.Put(i, int(i), 1<<62, 0)
	}
	if n := c.Len(); n > size {
		t.Fatalf("Len = %d after 10000 inserts; want at most %d", n, size)
	}
}

func TestEvictsExpiredFirst(t *testing.T) {
	c := New[uint64, int](shardCount, Uint64Shard) // one entry per shard
	c.Put(0, 0, 10, 0)
	c.Put(shardCount, 1, 1000, 20) // same shard, the first has expired
	if _, ok := c.Get(shardCount, 20); !ok {
		t.Fatal("the new entry is missing")
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d; want 1", c.Len())
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[[32]byte, int](128, DigestShard)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				var k [32]byte
				k[0], k[1] = byte(i), byte(g)
				c.Put(k, i, 1<<62, 0)
				c.Get(k, 0)
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 128 {
		t.Fatalf("Len = %d; want at most 128", c.Len())
	}
}

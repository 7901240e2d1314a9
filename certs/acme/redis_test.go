package acme_test

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs/acme"
	"github.com/redis/go-redis/v9"
)

func newRedisStorage(t testing.TB, rdb redis.UniversalClient, prefix string, ttl time.Duration) *acme.RedisStorage {
	t.Helper()
	s, err := acme.NewRedisStorage(acme.RedisSettings{Client: rdb, Prefix: prefix, LockTTL: ttl, LockPollInterval: 20 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRedisStorageFiles(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	s := newRedisStorage(t, rdb, prefix, 0)
	ctx := context.Background()

	if _, err := s.Load(ctx, "certificates/a/a.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	files := map[string]string{
		"certificates/ca/a.example/a.example.crt": "cert a",
		"certificates/ca/a.example/a.example.key": "key a",
		"certificates/ca/b.example/b.example.crt": "cert b",
		"acme/ca/users/x/x.json":                  "user",
		"last_clean.json":                         "{}",
	}
	before := time.Now().Add(-time.Second)
	for k, v := range files {
		if err := s.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range files {
		got, err := s.Load(ctx, k)
		if err != nil || string(got) != v {
			t.Errorf("Load(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
	if err := s.Store(ctx, "last_clean.json", []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "last_clean.json"); string(got) != `{"n":2}` {
		t.Errorf("overwrite: got %q", got)
	}

	info, err := s.Stat(ctx, "certificates/ca/a.example/a.example.crt")
	if err != nil || !info.IsTerminal || info.Size != int64(len("cert a")) || info.Modified.Before(before) {
		t.Errorf("Stat(file) = %+v, %v", info, err)
	}
	info, err = s.Stat(ctx, "certificates/ca")
	if err != nil || info.IsTerminal {
		t.Errorf("Stat(dir) = %+v, %v; want a directory", info, err)
	}
	if _, err := s.Stat(ctx, "certificates/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a prefix that is no component: %v, want fs.ErrNotExist", err)
	}

	for _, tt := range []struct {
		desc string
		key  string
		want bool
	}{
		{desc: "file", key: "acme/ca/users/x/x.json", want: true},
		{desc: "directory", key: "acme/ca", want: true},
		{desc: "partial component", key: "acme/c", want: false},
		{desc: "missing", key: "nope", want: false},
	} {
		if got := s.Exists(ctx, tt.key); got != tt.want {
			t.Errorf("Exists %s (%s) = %v, want %v", tt.desc, tt.key, got, tt.want)
		}
	}

	flat, err := s.List(ctx, "certificates/ca", false)
	if want := []string{"certificates/ca/a.example", "certificates/ca/b.example"}; err != nil || !reflect.DeepEqual(flat, want) {
		t.Errorf("List(non-recursive) = %v, %v; want %v", flat, err, want)
	}
	deep, err := s.List(ctx, "certificates", true)
	want := []string{
		"certificates/ca",
		"certificates/ca/a.example", "certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key",
		"certificates/ca/b.example", "certificates/ca/b.example/b.example.crt",
	}
	if err != nil || !reflect.DeepEqual(deep, want) {
		t.Errorf("List(recursive) = %v, %v; want %v", deep, err, want)
	}
	if _, err := s.List(ctx, "nothing", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of nothing: %v, want fs.ErrNotExist", err)
	}

	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example") || s.Exists(ctx, "certificates/ca/a.example/a.example.key") {
		t.Error("a deleted directory still exists")
	}
	if !s.Exists(ctx, "certificates/ca/b.example/b.example.crt") {
		t.Error("Delete removed a sibling")
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

func TestRedisStorageLock(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	a := newRedisStorage(t, rdb, prefix, time.Minute)
	b := newRedisStorage(t, rdb, prefix, time.Minute)
	ctx := context.Background()

	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_x"); ok || err != nil {
		t.Fatalf("a second holder got the lock: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_y"); !ok || err != nil {
		t.Fatalf("another name's lock: %v %v", ok, err)
	}
	if err := b.Unlock(ctx, "issue_cert_x"); !errors.Is(err, acme.ErrNotLocked) {
		t.Errorf("Unlock of a lock held by another: %v, want ErrNotLocked", err)
	}

	// b waits in Lock until a unlocks.
	got := make(chan error, 1)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	go func() { got <- b.Lock(waitCtx, "issue_cert_x") }()
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder unlocked: %v", err)
	}
	if ok, _ := a.TryLock(ctx, "issue_cert_x"); ok {
		t.Error("a took the lock b holds")
	}
	if err := b.RenewLockLease(ctx, "issue_cert_x", time.Minute); err != nil {
		t.Errorf("RenewLockLease: %v", err)
	}
	for _, name := range []string{"issue_cert_x", "issue_cert_y"} {
		if err := b.Unlock(ctx, name); err != nil {
			t.Error(err)
		}
	}

	// A Lock that cannot be had ends with its context.
	if err := a.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if err := b.Lock(short, "held"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a held lock: %v, want the context's deadline", err)
	}
	_ = a.Unlock(ctx, "held")
}

// TestRedisStorageLockRenewed: a lock held longer than its TTL stays
// held, because the holder renews it.
func TestRedisStorageLockRenewed(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	const ttl = 300 * time.Millisecond
	a := newRedisStorage(t, rdb, prefix, ttl)
	b := newRedisStorage(t, rdb, prefix, ttl)
	ctx := context.Background()
	if err := a.Lock(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	key := "{" + prefix + "}:lock:long"
	// Watch the lock's remaining time rise six times: six renewals,
	// about two TTLs of holding.
	rises, last := 0, time.Duration(0)
	eventually(t, 10*time.Second, "six renewals of the lock", func() bool {
		pttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil || pttl <= 0 {
			t.Fatalf("the held lock is gone (PTTL %v, %v)", pttl, err)
		}
		if pttl > last && last != 0 {
			rises++
		}
		last = pttl
		return rises >= 6
	})
	if ok, _ := b.TryLock(ctx, "long"); ok {
		t.Fatal("another holder took a lock that is being renewed")
	}
	if err := a.Unlock(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Error("Unlock left the lock")
	}
}

// TestRedisStorageStaleLockTaken: the lock of a holder that died (it
// stopped renewing) is taken once it expires.
func TestRedisStorageStaleLockTaken(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	ctx := context.Background()
	key := "{" + prefix + "}:lock:issue_cert_z"
	if err := rdb.Set(ctx, key, "token-of-a-dead-gateway", 200*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	b := newRedisStorage(t, rdb, prefix, time.Minute)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Lock(waitCtx, "issue_cert_z"); err != nil {
		t.Fatalf("the stale lock was not taken: %v", err)
	}
	if tok, _ := rdb.Get(ctx, key).Result(); tok == "token-of-a-dead-gateway" {
		t.Error("the lock still holds the dead holder's token")
	}
	_ = b.Unlock(ctx, "issue_cert_z")
}

func TestNewRedisStorageRefuses(t *testing.T) {
	if _, err := acme.NewRedisStorage(acme.RedisSettings{}); err == nil {
		t.Error("no client accepted")
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	if _, err := acme.NewRedisStorage(acme.RedisSettings{Client: rdb, Prefix: "a{b}"}); err == nil {
		t.Error("a prefix with braces accepted")
	}
}

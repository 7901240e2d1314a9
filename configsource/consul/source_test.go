package consul

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/internal/consultest"
)

// A Source applies the version current names, then each one published
// after it, and keeps the last good one on disk; the ACL token comes
// from a file.
func TestSourceFollowsPublishedVersions(t *testing.T) {
	kv := consultest.NewKV(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kv.SetToken("s3cret")
	conn := testConn(kv.Addr())
	conn.TokenFile = tokenFile
	conn.Datacenter = "dc1"
	pub, err := NewPublisher(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publish(t, pub, hello("one"))
	tg := &target{}
	state := filepath.Join(t.TempDir(), "fleet.json")
	src := startSource(t, conn, tg, state)
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	n := publish(t, pub, hello("two"))
	eventually(t, within, "version 2 applied", func() bool { return tg.LastBody() == "two" })
	st := src.Status()
	if !st.Loaded || st.Version != n || st.FromDisk || !st.Reachable || st.Source != "consul" {
		t.Errorf("status after version %d: %+v", n, st)
	}
	eventually(t, within, "the copy on disk of version 2", func() bool {
		v, err := configsource.ReadCopy(state, SourceName, prefix)
		return err == nil && v.Number == n
	})
	// Blocking queries that run out change nothing.
	before := len(kv.Requests())
	eventually(t, 5*time.Second, "blocking queries asked again", func() bool { return len(kv.Requests()) >= before+2 })
	if a, r := tg.Counts(); a != 2 || r != 0 {
		t.Errorf("%d applied, %d refused; want 2 and 0", a, r)
	}
	for _, r := range kv.Requests() {
		if r.Query.Get("dc") != "dc1" || r.Token != "s3cret" {
			t.Errorf("%s %s?%s with token %q: want ?dc=dc1 and the token of the file", r.Method, r.Path, r.Query.Encode(), r.Token)
			break
		}
	}
	// Without the token Consul refuses: that is an outage, not a version.
	kv.SetToken("other")
	eventually(t, 5*time.Second, "the refusal seen as Consul unreachable", func() bool { return !src.Status().Reachable })
	if tg.LastBody() != "two" {
		t.Errorf("serving %q", tg.LastBody())
	}
}

// Each bad thing under the prefix is refused once, with a report that
// names it, and the last good version keeps serving.
func TestSourceRefusesBadVersions(t *testing.T) {
	bomb := func() []byte {
		var b strings.Builder
		b.WriteString("x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
		prev := "a"
		for i := range 9 {
			name := string(rune('b' + i))
			b.WriteString("x-" + name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n")
			prev = name
		}
		b.WriteString("routes: *" + prev + "\n")
		return []byte(b.String())
	}
	tests := []struct {
		desc  string
		write func(t *testing.T, kv *consultest.KV, pub *Publisher)
		want  string
	}{
		{
			desc: "a field error names the key, line and column",
			write: func(t *testing.T, _ *consultest.KV, pub *Publisher) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("routes:\n  - name: hello\n    match: { path: /hello }\n    respond: { status: 999 }\n")})
			},
			want: "fleet/versions/2/files/gateway.yaml:4:",
		},
		{
			desc: "garbage",
			write: func(t *testing.T, _ *consultest.KV, pub *Publisher) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("\x00\x01{{{not yaml")})
			},
			want: "fleet/versions/2/files/gateway.yaml",
		},
		{
			desc: "a YAML bomb",
			write: func(t *testing.T, _ *consultest.KV, pub *Publisher) {
				publish(t, pub, map[string][]byte{"gateway.yaml": bomb()})
			},
			want: "fleet/versions/2/files/gateway.yaml",
		},
		{
			desc: "a pointer that is no number",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				kv.Put(prefix+"current", []byte("latest please"))
			},
			want: "want a version number",
		},
		{
			desc: "a pointer of 100 MB",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				kv.PutSized(prefix+"current", 100<<20)
			},
			want: "larger than a version number can be",
		},
		{
			desc: "a pointer to a version that does not exist",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				kv.Put(prefix+"current", []byte("77"))
			},
			want: "fleet/versions/77/manifest is missing",
		},
		{
			desc: "a half-written version",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				all := map[string][]byte{"gateway.yaml": hello("x")["gateway.yaml"], "more.yaml": []byte("routes: []\n")}
				putVersion(kv, "9", all, map[string][]byte{"more.yaml": all["more.yaml"]})
				kv.Put(prefix+"current", []byte("9"))
			},
			want: "fleet/versions/9/files/gateway.yaml is missing",
		},
		{
			desc: "a file changed after it was published",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				putVersion(kv, "9", hello("three"), hello("thref"))
				kv.Put(prefix+"current", []byte("9"))
			},
			want: "does not match the manifest",
		},
		{
			desc: "a value of 100 MB",
			write: func(t *testing.T, kv *consultest.KV, _ *Publisher) {
				putVersion(kv, "9", hello("x"), nil)
				kv.PutSized(prefix+"versions/9/files/gateway.yaml", 100<<20)
				kv.Put(prefix+"current", []byte("9"))
			},
			want: "larger than a version may be",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			kv := consultest.NewKV(t)
			conn := testConn(kv.Addr())
			conn.MaxBytes = 64 << 10 // what is read of a 100 MB value
			pub, err := NewPublisher(conn)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			good := publish(t, pub, hello("one"))
			tg := &target{}
			src := startSource(t, conn, tg, "")
			eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })

			tt.write(t, kv, pub)
			// The status is set after the Target hears of the refusal.
			eventually(t, 2*within, "the refusal", func() bool { return src.Status().RefusedTotal == 1 })
			if got := tg.LastRefusal(); !strings.Contains(got, tt.want) {
				t.Errorf("refusal %q does not say %q", got, tt.want)
			}
			st := src.Status()
			if st.Version != good || st.Refused == good || st.Refused == 0 || st.RefusedTotal != 1 || st.RefusedError == "" {
				t.Errorf("status after the refusal: %+v", st)
			}
			// Read again, as after a blocking query that ran out: the
			// refusal is not reported twice, nothing is applied.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			p, _, err := src.st.current(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Follow(ctx, p); err != nil {
				t.Fatal(err)
			}
			if a, r := tg.Counts(); a != 1 || r != 1 || tg.LastBody() != "one" {
				t.Errorf("after reading again: %d applied, %d refused, serving %q", a, r, tg.LastBody())
			}
			publish(t, pub, hello("four"))
			eventually(t, within, "the good version after it", func() bool { return tg.LastBody() == "four" })
			if st := src.Status(); st.Refused != 0 || st.RefusedError != "" {
				t.Errorf("the refusal is still reported: %+v", st)
			}
		})
	}
}

// Keys deleted under a running instance leave the version serving; a
// deleted pointer is reported.
func TestSourceKeysDeleted(t *testing.T) {
	kv := consultest.NewKV(t)
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	tg := &target{}
	src := startSource(t, testConn(kv.Addr()), tg, "")
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	kv.DeleteTree(prefix + "versions/")
	kv.DeleteTree(prefix + "current")
	eventually(t, within, "the deletion seen", src.NamesNone)
	if a, r := tg.Counts(); a != 1 || r != 0 || tg.LastBody() != "one" {
		t.Errorf("after the deletion: %d applied, %d refused, serving %q", a, r, tg.LastBody())
	}
	publish(t, pub, hello("two"))
	eventually(t, within, "a version published after it", func() bool { return tg.LastBody() == "two" })
}

// Consul failing (500s), hanging, or gone: what serves keeps serving; when
// it answers again the new version is followed, read at once rather than
// blocking on the old index.
func TestSourceConsulDownAndBack(t *testing.T) {
	kv := consultest.NewKV(t)
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	tg := &target{}
	src := startSource(t, testConn(kv.Addr()), tg, "")
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	for _, mode := range []string{"500", "hang", "stop"} {
		if mode == "stop" {
			kv.Stop()
		} else {
			kv.SetMode(mode)
		}
		eventually(t, 5*time.Second, mode+": seen unreachable", func() bool { return !src.Status().Reachable })
		if tg.LastBody() != "one" {
			t.Fatalf("%s: serving %q", mode, tg.LastBody())
		}
		if mode == "stop" {
			kv.Start()
		} else {
			kv.SetMode("")
		}
		eventually(t, 5*time.Second, mode+": seen back", func() bool { return src.Status().Reachable })
	}
	publish(t, pub, hello("two"))
	eventually(t, within, "the version published after", func() bool { return tg.LastBody() == "two" })
	if _, r := tg.Counts(); r != 0 {
		t.Errorf("%d refusals; an outage is not a refusal", r)
	}
}

// An instance started while Consul is down serves its copy on disk.
func TestSourceStartsFromTheCopyOnDisk(t *testing.T) {
	kv := consultest.NewKV(t)
	state := filepath.Join(t.TempDir(), "fleet.json")
	v := configsource.Version{Number: 4, Files: hello("kept")}
	if err := configsource.WriteCopy(state, configsource.CopyOf(SourceName, prefix, v)); err != nil {
		t.Fatal(err)
	}
	addr := kv.Addr()
	kv.Stop()
	tg := &target{}
	src := startSource(t, testConn(addr), tg, state)
	eventually(t, 5*time.Second, "the copy applied", func() bool { return tg.LastBody() == "kept" })
	if st := src.Status(); !st.Loaded || !st.FromDisk || st.Reachable || st.Version != 4 {
		t.Errorf("status serving from disk: %+v", st)
	}
	kv.Start()
	pub := newPublisher(t, addr)
	publish(t, pub, hello("new"))
	eventually(t, 5*time.Second, "the published version", func() bool { return tg.LastBody() == "new" })
	if st := src.Status(); st.FromDisk || !st.Reachable {
		t.Errorf("status after Consul is back: %+v", st)
	}
}

// Two publishers that read the same current: the second flip is refused
// by Consul's check-and-set, and nothing of it is made current.
func TestPublishCASConflict(t *testing.T) {
	kv := consultest.NewKV(t)
	a, b := newPublisher(t, kv.Addr()), newPublisher(t, kv.Addr())
	publish(t, a, hello("one"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fromA, err := a.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromB, err := b.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, hello("b"), fromB, "b"); err != nil {
		t.Fatal(err)
	}
	_, err = a.Publish(ctx, hello("a"), fromA, "a")
	if !errors.Is(err, configsource.ErrConflict) || !errors.Is(err, ErrConflict) {
		t.Fatalf("the second publisher: %v; want ErrConflict", err)
	}
	cur, err := a.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Read(ctx, cur.Version)
	if err != nil || !strings.Contains(string(v.Files["gateway.yaml"]), `"b"`) {
		t.Errorf("current is version %d %q, %v; want b's", cur.Version, v.Files["gateway.yaml"], err)
	}
	if _, ok := kv.Value(prefix + "versions/3/manifest"); ok {
		t.Error("the refused version's keys are left behind")
	}
	// The same number written by another publisher at once: its keys
	// are created only once.
	kv.Put(prefix+"versions/4/files/gateway.yaml", []byte("routes: []\n"))
	cur, _ = a.Current(ctx)
	if _, err := a.Publish(ctx, hello("c"), cur, "a"); err != nil {
		t.Fatalf("a publication after a stray key: %v", err)
	}
}

// An agent on a unix socket is reached through the same capped client.
func TestUnixSocketAgent(t *testing.T) {
	kv := consultest.NewKV(t)
	kv.PutSized(prefix+"versions/1/files/gateway.yaml", 100<<20)
	sock := filepath.Join(t.TempDir(), "consul.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("http://" + kv.Addr())
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	conn := Conn{Address: "unix://" + sock, Prefix: prefix, Timeout: 2 * time.Second, MaxBytes: 64 << 10}
	st, err := conn.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	_, err = st.Version(context.Background(), 1)
	if !configsource.IsBad(err) || !strings.Contains(err.Error(), "larger than a version may be") {
		t.Errorf("a 100 MB value through the socket: %v; want it refused as too large", err)
	}
}

// Without a token in the settings, the Consul client's environment gives
// it ($CONSUL_HTTP_TOKEN).
func TestTokenFromEnvironment(t *testing.T) {
	t.Setenv("CONSUL_HTTP_TOKEN", "from-env")
	kv := consultest.NewKV(t)
	kv.SetToken("from-env")
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	tg := &target{}
	startSource(t, testConn(kv.Addr()), tg, "")
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
}

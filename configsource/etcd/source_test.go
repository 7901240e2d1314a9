package etcd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/internal/etcdtest"
)

// A change is followed within a second, the fleet's promise.
const within = time.Second

// A Source applies the version current names, then each one published
// after it, and keeps the last good one on disk.
func TestSourceFollowsPublishedVersions(t *testing.T) {
	endpoint, prefix, _ := etcdtest.Shared(t)
	pub := newPublisher(t, endpoint, prefix)
	publish(t, pub, hello("one"))
	target := &recTarget{}
	state := filepath.Join(t.TempDir(), "fleet.json")
	src := startSource(t, endpoint, prefix, target, state)

	eventually(t, within, "version 1 applied", func() bool { return target.LastBody() == "one" })
	n := publish(t, pub, hello("two"))
	eventually(t, within, "version 2 applied", func() bool { return target.LastBody() == "two" })
	st := src.Status()
	if !st.Loaded || st.Version != n || st.FromDisk || !st.Reachable || st.LastApply.IsZero() {
		t.Errorf("status after version %d: %+v", n, st)
	}
	last, trig := target.Last()
	cs := last.ConfigSource
	if trig != "etcd version "+strconv.FormatInt(n, 10) {
		t.Errorf("trigger %q", trig)
	}
	if cs == nil || cs.Etcd.Prefix != prefix {
		t.Errorf("the instance's own config_source is not kept: %+v", cs)
	}
	eventually(t, within, "the copy on disk of version 2", func() bool {
		v, err := configsource.ReadCopy(state, SourceName, prefix)
		return err == nil && v.Number == n && strings.Contains(string(v.Files["gateway.yaml"]), "two")
	})
}

// Each bad thing under the prefix is refused once, with a report that
// names it, and the last good version keeps serving.
func TestSourceRefusesBadVersions(t *testing.T) {
	tests := []struct {
		desc string
		// write makes the bad state, given the last good version's number.
		write func(t *testing.T, cli *clientv3.Client, pub *Publisher, prefix string, good int64)
		want  string
	}{
		{
			desc: "a field error names the key, line and column",
			write: func(t *testing.T, _ *clientv3.Client, pub *Publisher, _ string, _ int64) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("routes:\n  - name: hello\n    match: { path: /hello }\n    respond: { status: 999 }\n")})
			},
			want: "versions/2/files/gateway.yaml:4:",
		},
		{
			desc: "garbage",
			write: func(t *testing.T, _ *clientv3.Client, pub *Publisher, _ string, _ int64) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("\x00\x01{{{not yaml")})
			},
			want: "versions/2/files/gateway.yaml",
		},
		{
			desc: "a YAML bomb",
			write: func(t *testing.T, _ *clientv3.Client, pub *Publisher, _ string, _ int64) {
				var b strings.Builder
				b.WriteString("x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
				prev := "a"
				for i := 0; i < 9; i++ {
					name := string(rune('b' + i))
					b.WriteString("x-" + name + ": &" + name + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n")
					prev = name
				}
				b.WriteString("routes: *" + prev + "\n")
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte(b.String())})
			},
			want: "versions/2/files/gateway.yaml",
		},
		{
			desc: "an include that names a missing file",
			write: func(t *testing.T, _ *clientv3.Client, pub *Publisher, _ string, _ int64) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("include: [routes.yaml]\nroutes: []\n")})
			},
			want: "versions/2/files/gateway.yaml:1:",
		},
		{
			desc: "a version that names a config_source",
			write: func(t *testing.T, _ *clientv3.Client, pub *Publisher, _ string, _ int64) {
				publish(t, pub, map[string][]byte{"gateway.yaml": []byte("config_source: { etcd: { prefix: /x/ } }\nroutes: []\n")})
			},
			want: "config_source",
		},
		{
			desc: "a pointer that is no number",
			write: func(t *testing.T, cli *clientv3.Client, _ *Publisher, prefix string, _ int64) {
				put(t, cli, prefix+"current", "latest please")
			},
			want: "want a version number",
		},
		{
			desc: "a pointer to a version that does not exist",
			write: func(t *testing.T, cli *clientv3.Client, _ *Publisher, prefix string, _ int64) {
				put(t, cli, prefix+"current", "77")
			},
			want: "versions/77/manifest is missing",
		},
		{
			desc: "a half-written version",
			write: func(t *testing.T, cli *clientv3.Client, _ *Publisher, prefix string, _ int64) {
				m := `{"version":9,"files":[{"name":"gateway.yaml","size":10,"sha256":"x"},{"name":"more.yaml","size":10,"sha256":"y"}]}`
				put(t, cli, prefix+"versions/9/manifest", m)
				put(t, cli, prefix+"current", "9")
			},
			want: "versions/9/files/gateway.yaml is missing",
		},
		{
			desc: "a file changed after it was published",
			write: func(t *testing.T, cli *clientv3.Client, _ *Publisher, prefix string, _ int64) {
				b := hello("three")["gateway.yaml"]
				m := `{"version":9,"files":[{"name":"gateway.yaml","size":` + strconv.Itoa(len(b)) + `,"sha256":"` + configsource.Digest(b) + `"}]}`
				put(t, cli, prefix+"versions/9/manifest", m)
				put(t, cli, prefix+"versions/9/files/gateway.yaml", strings.Replace(string(b), "three", "thref", 1))
				put(t, cli, prefix+"current", "9")
			},
			want: "does not match the manifest",
		},
		{
			desc: "a version larger than max_bytes",
			write: func(t *testing.T, cli *clientv3.Client, _ *Publisher, prefix string, _ int64) {
				m := `{"version":9,"files":[{"name":"gateway.yaml","size":104857600,"sha256":"x"}]}`
				put(t, cli, prefix+"versions/9/manifest", m)
				put(t, cli, prefix+"versions/9/files/gateway.yaml", strings.Repeat("x", 1<<20))
				put(t, cli, prefix+"current", "9")
			},
			want: "over the limit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			endpoint, prefix, cli := etcdtest.Shared(t)
			pub := newPublisher(t, endpoint, prefix)
			good := publish(t, pub, hello("one"))
			target := &recTarget{}
			src := startSource(t, endpoint, prefix, target, "")
			eventually(t, within, "version 1 applied", func() bool { return target.LastBody() == "one" })

			tt.write(t, cli, pub, prefix, good)
			// The status is set after the Target hears of the refusal.
			eventually(t, within, "the refusal", func() bool { return src.Status().RefusedTotal == 1 })
			if got := target.LastRefusal(); !strings.Contains(got, tt.want) {
				t.Errorf("refusal %q does not say %q", got, tt.want)
			}
			st := src.Status()
			if st.Version != good || st.Refused == good || st.Refused == 0 || st.RefusedTotal != 1 || st.RefusedError == "" {
				t.Errorf("status after the refusal: %+v", st)
			}
			// Read again (the way a compaction or reconnect does): the
			// refusal is not reported twice, nothing is applied.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			p, err := src.st.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Follow(ctx, p); err != nil {
				t.Fatal(err)
			}
			if a, r := target.Counts(); a != 1 || r != 1 {
				t.Errorf("after reading again: %d applied, %d refused; want 1 and 1", a, r)
			}
			if target.LastBody() != "one" {
				t.Errorf("the last good version does not serve: %q", target.LastBody())
			}
			// A good version after it is applied and clears the refusal.
			publish(t, pub, hello("four"))
			eventually(t, within, "the good version after it", func() bool { return target.LastBody() == "four" })
			if st := src.Status(); st.Refused != 0 || st.RefusedError != "" {
				t.Errorf("the refusal is still reported: %+v", st)
			}
		})
	}
}

// Keys deleted under a running instance, and current deleted, leave the
// version serving; the deletion is reported when current is read again.
func TestSourceKeysDeleted(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	pub := newPublisher(t, endpoint, prefix)
	publish(t, pub, hello("one"))
	target := &recTarget{}
	src := startSource(t, endpoint, prefix, target, "")
	eventually(t, within, "version 1 applied", func() bool { return target.LastBody() == "one" })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, prefix+"versions/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, prefix+"current"); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, "the deletion seen", func() bool {
		return src.NamesNone()
	})
	if a, r := target.Counts(); a != 1 || r != 0 || target.LastBody() != "one" {
		t.Errorf("after the deletion: %d applied, %d refused, serving %q", a, r, target.LastBody())
	}
	if st := src.Status(); !st.Loaded || st.Version != 1 {
		t.Errorf("status: %+v", st)
	}
}

// The copy on disk serves an instance that starts while etcd does not
// answer; once etcd answers with the same version, nothing is applied.
func TestSourceStartsFromTheCopyOnDisk(t *testing.T) {
	endpoint, prefix, _ := etcdtest.Shared(t)
	pub := newPublisher(t, endpoint, prefix)
	n := publish(t, pub, hello("one"))
	state := filepath.Join(t.TempDir(), "fleet.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := pub.Read(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := configsource.WriteCopy(state, configsource.CopyOf(SourceName, prefix, v)); err != nil {
		t.Fatal(err)
	}

	// An endpoint where nothing listens.
	target := &recTarget{}
	src := startSource(t, etcdtest.FreeAddr(t), prefix, target, state)
	eventually(t, 5*time.Second, "the copy applied", func() bool { return target.LastBody() == "one" })
	st := src.Status()
	if !st.Loaded || !st.FromDisk || st.Reachable || st.Version != n {
		t.Errorf("status serving from disk: %+v", st)
	}
	trig := target.FirstTrigger()
	if !strings.Contains(trig, "copy on disk") {
		t.Errorf("trigger %q", trig)
	}
}

// A copy from another prefix, or a damaged one, is not used.
func TestReadCopyChecks(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "fleet.json")
	v := configsource.Version{Number: 3, Files: map[string][]byte{"gateway.yaml": []byte("routes: []\n")}}
	if err := configsource.WriteCopy(state, configsource.CopyOf(SourceName, "/a/", v)); err != nil {
		t.Fatal(err)
	}
	if _, err := configsource.ReadCopy(state, SourceName, "/b/"); err == nil {
		t.Error("a copy of another prefix was read")
	}
	got, err := configsource.ReadCopy(state, SourceName, "/a/")
	if err != nil || got.Number != 3 || string(got.Files["gateway.yaml"]) != "routes: []\n" {
		t.Errorf("ReadCopy = %+v, %v", got, err)
	}
	if err := os.WriteFile(state, []byte(`{"source":"etcd","where":"/a/","vers`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configsource.ReadCopy(state, SourceName, "/a/"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged copy: %v", err)
	}
	if _, err := configsource.ReadCopy(filepath.Join(dir, "none.json"), SourceName, "/a/"); !errors.Is(err, configsource.ErrNoCopy) {
		t.Errorf("no copy: %v", err)
	}
}

// An instance that starts while etcd names no version that loads serves
// its copy on disk, and still reports what etcd names.
func TestSourceCopyServesWhenEtcdHasNone(t *testing.T) {
	tests := []struct {
		desc        string
		current     string // "" leaves current out
		wantRefused bool
	}{
		{desc: "no current (a new or restored etcd)"},
		{desc: "current names a version that does not exist", current: "9", wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			endpoint, prefix, cli := etcdtest.Shared(t)
			state := filepath.Join(t.TempDir(), "fleet.json")
			v := configsource.Version{Number: 4, Files: hello("kept")}
			if err := configsource.WriteCopy(state, configsource.CopyOf(SourceName, prefix, v)); err != nil {
				t.Fatal(err)
			}
			if tt.current != "" {
				put(t, cli, prefix+"current", tt.current)
			}
			target := &recTarget{}
			src := startSource(t, endpoint, prefix, target, state)
			eventually(t, within, "the copy applied", func() bool { return target.LastBody() == "kept" })
			st := src.Status()
			if !st.Loaded || !st.FromDisk || !st.Reachable || st.Version != 4 {
				t.Errorf("status: %+v", st)
			}
			if refused := st.Refused == 9; refused != tt.wantRefused {
				t.Errorf("refused version %d; want it reported: %v", st.Refused, tt.wantRefused)
			}
			// What etcd names next is applied.
			pub := newPublisher(t, endpoint, prefix)
			publish(t, pub, hello("new"))
			eventually(t, within, "the published version", func() bool { return target.LastBody() == "new" })
			if st := src.Status(); st.FromDisk || st.Refused != 0 {
				t.Errorf("status after a good version: %+v", st)
			}
		})
	}
}

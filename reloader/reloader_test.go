package reloader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
)

// TestFileChangeApplies rewrites the main file: the target gets the new
// configuration, marked as started by a file change.
func TestFileChangeApplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("a"))
	s := start(t, path, true)

	writeFile(t, path, routeYAML("b"))
	c := s.target.waitCall(t, "apply of the new file", fromFile("apply"))
	if got := c.routes(); got != "b" {
		t.Errorf("applied routes %q, want b", got)
	}
	if c.req.DryRun {
		t.Errorf("a file change applied as a dry run")
	}
}

// TestBurstOfWritesAppliesTheLast writes the file several times in a row,
// as editors and ConfigMap updates do: what ends up applied is the last
// version, and every load was started by the file change.
func TestBurstOfWritesAppliesTheLast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("v0"))
	s := start(t, path, true)

	for _, v := range []string{"v1", "v2", "v3", "v4", "v5"} {
		writeFile(t, path, routeYAML(v))
	}
	s.target.waitCall(t, "apply of the last version", func(c call) bool {
		if !c.req.FileChange {
			t.Errorf("a %s call not from the file change: %+v", c.method, c.req)
		}
		return c.method == "apply" && c.routes() == "v5"
	})
}

// TestReloadWhenAsked covers Reload: it applies (or previews) what the
// file holds now, and refuses a file that does not load, handing back the
// target's report each time.
func TestReloadWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("a"))
	s := start(t, path, false)
	writeFile(t, path, routeYAML("b"))

	tests := []struct {
		desc       string
		give       string // the file's content; "" keeps it
		dryRun     bool
		wantMethod string
		wantErr    bool
	}{
		{desc: "dry run", dryRun: true, wantMethod: "preview"},
		{desc: "apply", wantMethod: "apply"},
		{desc: "broken file", give: "routes: [", wantMethod: "refuse", wantErr: true},
		{desc: "broken file, dry run", dryRun: true, wantMethod: "refuse", wantErr: true},
		{desc: "invalid file", give: "listen: nope\n" + routeYAML("c"), wantMethod: "refuse", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if tt.give != "" {
				writeFile(t, path, tt.give)
			}
			got, err := s.r.Reload("SIGHUP", tt.dryRun)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Reload: %v, want an error: %v", err, tt.wantErr)
			}
			if got.method != tt.wantMethod {
				t.Fatalf("Reload returned the report of %q, want %q", got.method, tt.wantMethod)
			}
			want := Request{Trigger: "SIGHUP", DryRun: tt.dryRun}
			if got.req != want {
				t.Errorf("request %+v, want %+v", got.req, want)
			}
			if tt.wantErr && (got.err == nil || got.err.Error() != err.Error()) {
				t.Errorf("Reload's error %v is not the one the target was told %v", err, got.err)
			}
			if c := <-s.target.calls; c.method != tt.wantMethod {
				t.Errorf("the target was called with %q", c.method)
			}
			s.target.mustNoCall(t)
		})
	}
}

// TestChecksRunOnEveryLoad: a reload runs Settings.Checks, and a problem
// they find refuses the configuration with the position it names.
func TestChecksRunOnEveryLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("a"))
	noB := func(cfg *config.Config) []*config.FieldError {
		for i, rt := range cfg.Routes {
			if rt.Name == "b" {
				return []*config.FieldError{{Field: "routes[" + string(rune('0'+i)) + "]", Msg: "no route b"}}
			}
		}
		return nil
	}
	s := start(t, path, false, noB)
	writeFile(t, path, routeYAML("a", "b"))
	_, err := s.r.Reload("test", false)
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml:3:5: routes[1]: no route b") {
		t.Errorf("Reload: %v, want the check's problem at its position", err)
	}
}

// TestApplyErrorKeepsWatchingTheOldFiles: a configuration the target
// refuses is not followed; one it applies is.
func TestApplyErrorKeepsWatchingTheOldFiles(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "a"))
	mkdir(t, filepath.Join(dir, "b"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"a/*.yaml\"]\n"+routeYAML("main"))
	s := start(t, path, false)
	newFile := filepath.Join(dir, "b", "x.yaml")

	writeFile(t, path, "include: [\"b/*.yaml\"]\n"+routeYAML("main"))
	s.target.failApply(errNamed)
	if _, err := s.r.Reload("test", false); !errors.Is(err, errNamed) {
		t.Fatalf("Reload: %v, want the target's error", err)
	}
	if s.r.relevant(newFile) || !s.r.relevant(filepath.Join(dir, "a", "x.yaml")) {
		t.Errorf("after a refused apply: the new include is followed, or the old one is not")
	}

	s.target.failApply(nil)
	if _, err := s.r.Reload("test", false); err != nil {
		t.Fatal(err)
	}
	if !s.r.relevant(newFile) || s.r.relevant(filepath.Join(dir, "a", "x.yaml")) {
		t.Errorf("after an applied reload: the new include is not followed, or the old one is")
	}
}

// TestFollowsTheIncludesOfTheAppliedConfiguration changes the include
// pattern to a directory not watched before: a file then written there
// reloads.
func TestFollowsTheIncludesOfTheAppliedConfiguration(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "a"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"a/*.yaml\"]\n"+routeYAML("main"))
	s := start(t, path, true)

	mkdir(t, filepath.Join(dir, "b"))
	writeFile(t, path, "include: [\"b/*.yaml\"]\n"+routeYAML("main"))
	s.target.waitCall(t, "apply of the new include list", fromFile("apply"))

	writeFile(t, filepath.Join(dir, "b", "x.yaml"), routeYAML("x"))
	s.target.waitCall(t, "apply of the new included file", func(c call) bool {
		return fromFile("apply")(c) && c.routes() == "main,x"
	})
}

// TestVanishedIncludeRefusedUntilConfirmed deletes the one file an
// include glob matches: the file change is refused with an error naming
// it; an explicit reload applies the removal, and the glob matching
// nothing is then the good state that further changes start from.
func TestVanishedIncludeRefusedUntilConfirmed(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "routes.d"))
	gone := filepath.Join(dir, "routes.d", "a.yaml")
	writeFile(t, gone, routeYAML("a"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"routes.d/*.yaml\"]\n"+routeYAML("main"))
	s := start(t, path, true)

	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	c := s.target.waitCall(t, "refusal of the vanished file", fromFile("refuse"))
	if c.err == nil || !strings.Contains(c.err.Error(), gone) {
		t.Errorf("refused with %v, want an error naming %s", c.err, gone)
	}

	res, err := s.r.Reload("SIGHUP", false)
	if err != nil || res.method != "apply" || res.routes() != "main" {
		t.Fatalf("explicit reload: %v, %s of %q; want main applied", err, res.method, res.routes())
	}
	writeFile(t, filepath.Join(dir, "routes.d", "b.yaml"), routeYAML("b"))
	s.target.waitCall(t, "apply of a new file after the confirmed removal", func(c call) bool {
		return fromFile("apply")(c) && c.routes() == "main,b"
	})
}

// TestIncludeListChangedOnPurpose: an included file that the new
// configuration no longer includes, but that is still on disk, is not
// "vanished".
func TestIncludeListChangedOnPurpose(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), routeYAML("a"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"a.yaml\"]\n"+routeYAML("main"))
	s := start(t, path, true)

	writeFile(t, path, routeYAML("main"))
	c := s.target.waitCall(t, "a call after the include was dropped", func(c call) bool { return c.req.FileChange })
	if c.method != "apply" || c.routes() != "main" {
		t.Errorf("%s of %q (%v), want main applied", c.method, c.routes(), c.err)
	}
}

// TestConfigMapSwapRemovesInclude removes an included file the way a
// Kubernetes ConfigMap volume does: a new "..data" directory without it,
// the symlink swapped, the file's own symlink removed. That replaces the
// directory as a whole and applies without an explicit reload.
func TestConfigMapSwapRemovesInclude(t *testing.T) {
	dir := t.TempDir()
	vol := configMapVolume(t, filepath.Join(dir, "routes.d"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"routes.d/*.yaml\"]\nroutes: []\n")
	s := start(t, path, true)

	vol.swapToB(t)
	s.target.waitCall(t, "apply of the swapped volume", func(c call) bool {
		return fromFile("apply")(c) && c.routes() == "b"
	})
}

// TestConfigMapSwapDuringReload: a volume swapped while a reload applies
// what it read before the swap is still taken as swapped by the reload
// that follows, which applies the new volume instead of refusing its
// removed file as vanished.
func TestConfigMapSwapDuringReload(t *testing.T) {
	dir := t.TempDir()
	vol := configMapVolume(t, filepath.Join(dir, "routes.d"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"routes.d/*.yaml\"]\nroutes: []\n")
	s := start(t, path, false)

	// The kubelet swaps the volume while the reload applies v1.
	s.target.mu.Lock()
	s.target.onApply = func() { vol.swapToB(t) }
	s.target.mu.Unlock()
	if _, err := s.r.Reload("test", false); err != nil {
		t.Fatal(err)
	}
	s.target.waitCall(t, "apply of v1", func(c call) bool { return c.method == "apply" && c.routes() == "a,b" })

	res, err := s.r.reload(Request{Trigger: TriggerFileChange, FileChange: true})
	if err != nil || res.method != "apply" || res.routes() != "b" {
		t.Fatalf("the reload after the swap: %s %q %v, want v2 applied", res.method, res.routes(), err)
	}
}

// TestRelevant: which changed names start a reload.
func TestRelevant(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "routes.d"))
	writeFile(t, filepath.Join(dir, "extra.yaml"), routeYAML("x"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"extra.yaml\", \"routes.d/*.yaml\"]\nroutes: []\n")
	s := start(t, path, false)
	tests := []struct {
		desc string
		give string
		want bool
	}{
		{desc: "the main file", give: path, want: true},
		{desc: "an included file", give: filepath.Join(dir, "extra.yaml"), want: true},
		{desc: "a new file the glob matches", give: filepath.Join(dir, "routes.d", "new.yaml"), want: true},
		{desc: "a file the glob does not match", give: filepath.Join(dir, "routes.d", "notes.txt")},
		{desc: "an editor's temporary file", give: path + ".tmp"},
		{desc: "another file beside the main one", give: filepath.Join(dir, "other.yaml")},
		{desc: "a ConfigMap's ..data swap", give: filepath.Join(dir, "routes.d", "..data"), want: true},
		{desc: "a ConfigMap's new version directory", give: filepath.Join(dir, "routes.d", "..2026_12_07"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := s.r.relevant(tt.give); got != tt.want {
				t.Errorf("relevant(%s) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

// TestSourcesOf lists what a configuration was read from: every file,
// the included ones apart, and the include patterns.
func TestSourcesOf(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "routes.d"))
	writeFile(t, filepath.Join(dir, "routes.d", "a.yaml"), routeYAML("a"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "include: [\"routes.d/*.yaml\", \"none.d/*.yaml\"]\nroutes: []\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := sourcesOf(cfg)
	a := filepath.Join(dir, "routes.d", "a.yaml")
	if strings.Join(got.files, " ") != path+" "+a {
		t.Errorf("files %q, want the main file, then %s", got.files, a)
	}
	if strings.Join(got.included, " ") != a {
		t.Errorf("included %q, want %s", got.included, a)
	}
	wantGlobs := filepath.Join(dir, "routes.d", "*.yaml") + " " + filepath.Join(dir, "none.d", "*.yaml")
	if strings.Join(got.globs, " ") != wantGlobs {
		t.Errorf("globs %q, want %s", got.globs, wantGlobs)
	}
}

// TestCloseStopsRun: Close ends a Run in progress; it is safe twice and
// without Run; Reload still loads afterwards.
func TestCloseStopsRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("a"))
	s := start(t, path, false)
	done := make(chan struct{})
	go func() { defer close(done); s.r.Run(context.Background()) }()
	if err := s.r.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if res, err := s.r.Reload("test", false); err != nil || res.method != "apply" {
		t.Errorf("Reload after Close: %v %s", err, res.method)
	}
}

// TestNewNeedsConfigAndTarget: Settings without them are refused.
func TestNewNeedsConfigAndTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, routeYAML("a"))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Settings[call]{Config: cfg}); err == nil {
		t.Error("New without a Target: no error")
	}
	if _, err := New(Settings[call]{Target: newRecordingTarget()}); err == nil {
		t.Error("New without a Config: no error")
	}
}

// configMapVolume lays out dir as the kubelet mounts a ConfigMap holding
// the route files a.yaml and b.yaml: each a symlink through "..data" to a
// version directory.
func configMapVolume(t *testing.T, dir string) volume {
	t.Helper()
	v := volume(dir)
	v.version(t, "..v1", map[string]string{"a.yaml": routeYAML("a"), "b.yaml": routeYAML("b")})
	v.symlink(t, "..v1", "..data")
	v.symlink(t, "..data/a.yaml", "a.yaml")
	v.symlink(t, "..data/b.yaml", "b.yaml")
	return v
}

// volume is a ConfigMap volume's directory (configMapVolume).
type volume string

func (v volume) version(t *testing.T, name string, files map[string]string) {
	t.Helper()
	mkdir(t, filepath.Join(string(v), name))
	for file, content := range files {
		if err := os.WriteFile(filepath.Join(string(v), name, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (v volume) symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(string(v), name)); err != nil {
		t.Fatal(err)
	}
}

// swapToB updates the volume as the kubelet does to a ConfigMap that now
// holds b.yaml alone: a new version, "..data" swapped to it with one
// rename, a.yaml's link gone.
func (v volume) swapToB(t *testing.T) {
	t.Helper()
	v.version(t, "..v2", map[string]string{"b.yaml": routeYAML("b")})
	v.symlink(t, "..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(string(v), "..data_tmp"), filepath.Join(string(v), "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(string(v), "a.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestReloadThroughSettingsLoader: the reloader loads through the Loader
// it is given, which loaded the serving configuration, so that its first
// reload already keeps the included files that did not change.
func TestReloadThroughSettingsLoader(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	if err := os.Mkdir(filepath.Join(dir, "routes.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, main, "include: [\"routes.d/*.yaml\"]\n")
	for _, n := range []string{"a", "b"} {
		writeFile(t, filepath.Join(dir, "routes.d", n+".yaml"),
			"routes:\n  - { name: "+n+", match: { path: /"+n+" }, respond: {} }\n")
	}
	loader := &config.Loader{}
	cfg, err := loader.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	target := newRecordingTarget()
	r, err := New(Settings[call]{Config: cfg, Target: target, Loader: loader})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.Reload("test", false)
	if err != nil || c.cfg == nil {
		t.Fatalf("reload: %v %+v", err, c)
	}
	if same := c.cfg.UnchangedRoutes(cfg); len(same) != 2 || same[0] != 0 || same[1] != 1 {
		t.Errorf("UnchangedRoutes = %v, want both routes kept from the first load", same)
	}
}

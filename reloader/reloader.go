package reloader

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/fastgate/gateway/config"
)

// DefaultDebounce is how long a Reloader waits after the last change of a
// watched file before it loads the configuration: editors and Kubernetes'
// ConfigMap updates touch a file several times in a row.
const DefaultDebounce = 200 * time.Millisecond

// Settings are what a Reloader needs.
type Settings[R any] struct {
	// Config is the configuration that serves now. Its main file
	// (Config.File) is the one the Reloader loads again, and the files it
	// was read from are watched from the start. Required.
	Config *config.Config
	// Target receives each configuration loaded. Required.
	Target Target[R]
	// Checks are passed to config.Load on every load (the gateway's route
	// conflicts). None: the config package's own validation only.
	Checks []config.Check
	// Loader loads the configuration again; it reads only the included
	// files that changed since its last load. The Loader that loaded
	// Config makes the first reload as quick as the later ones. Nil: a
	// new one, whose first load reads every file.
	Loader *config.Loader
	// Logger receives the problems of watching the files. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Debounce is how long to wait after the last change of a watched
	// file before loading. Zero or less means DefaultDebounce.
	Debounce time.Duration
}

// Reloader loads the configuration file again and hands it to its Target:
// when a watched file changes, and when asked (SIGHUP, POST /-/reload). A
// file that does not load changes nothing: the Target is told it was
// refused, and the old configuration keeps serving. Changes of watched
// files are debounced: the configuration is loaded once Debounce has
// passed without another change.
//
// An included file that the last good configuration was read from and that
// has vanished fails a reload that a file change started, so that a file
// deleted by mistake (or half-way through a deploy) does not take its
// routes out of service. Its removal takes effect through an explicit
// reload, or when the directory it was in was replaced as a whole (a
// Kubernetes ConfigMap volume swaps its "..data" symlink). Safe for
// concurrent use.
type Reloader[R any] struct {
	path     string
	target   Target[R]
	checks   []config.Check
	log      *slog.Logger
	debounce time.Duration
	watcher  *fsnotify.Watcher
	// loader reads again only the included files that changed.
	loader *config.Loader

	mu     sync.Mutex // serializes loads; guards what follows
	closed bool
	dirs   map[string]bool
	// files and globs are what the last good configuration was read from;
	// an event on anything else is ignored.
	files map[string]bool
	globs []string
	// included lists the included files of the last good configuration;
	// incDirs maps their directories to what they were then (dirState).
	included []string
	incDirs  map[string]string
	// again asks Run for one more file-change reload: a directory began
	// to be watched after the configuration was read, and a file its
	// globs match appeared in between (see follow).
	again chan struct{}
}

// New watches the files s.Config was read from. Run must be called to
// follow their changes; Close (or the end of Run) stops watching.
func New[R any](s Settings[R]) (*Reloader[R], error) {
	if s.Config == nil || s.Target == nil {
		return nil, errors.New("reloader: Settings.Config and Settings.Target are required")
	}
	if s.Debounce <= 0 {
		s.Debounce = DefaultDebounce
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Loader == nil {
		s.Loader = &config.Loader{}
	}
	abs, err := filepath.Abs(s.Config.File())
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	r := &Reloader[R]{
		path: abs, target: s.Target, checks: s.Checks, log: s.Logger, debounce: s.Debounce, loader: s.Loader,
		watcher: w, dirs: map[string]bool{}, again: make(chan struct{}, 1),
	}
	r.follow(s.Config, nil)
	return r, nil
}

// Run follows file changes until ctx ends or Close is called, then stops
// watching. Reload still works after it returns; the files are then no
// longer watched.
func (r *Reloader[R]) Run(ctx context.Context) {
	defer r.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-r.watcher.Events:
			if !ok {
				return
			}
			if r.relevant(ev.Name) {
				timer.Reset(r.debounce)
			}
		case err, ok := <-r.watcher.Errors:
			if !ok {
				return
			}
			r.log.Warn("gateway: watching the configuration", "error", err.Error())
		case <-r.again:
			timer.Reset(r.debounce)
		case <-timer.C:
			_, _ = r.reload(Request{Trigger: TriggerFileChange, FileChange: true})
		}
	}
}

// Close stops watching the files; a Run in progress returns. It is safe
// to call more than once, and without Run.
func (r *Reloader[R]) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.watcher.Close()
}

// Reload loads the configuration and applies it, or, with dryRun, says
// what applying it would change. trigger names the cause in the log. It
// returns what the Target reported.
func (r *Reloader[R]) Reload(trigger string, dryRun bool) (R, error) {
	return r.reload(Request{Trigger: trigger, DryRun: dryRun})
}

// reload loads the configuration and hands it to the Target. A reload
// that a file change started is refused when included files vanished.
func (r *Reloader[R]) reload(req Request) (R, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// What the include directories are before the load: a directory
	// swapped while the configuration is read is then taken as swapped
	// at the next reload, not as files that vanished from it.
	before := r.includeStates()
	cfg, err := r.loader.Load(r.path, r.checks...)
	if err == nil && req.FileChange {
		err = r.vanished(cfg)
	}
	if err != nil {
		return r.target.Refuse(err, req), err
	}
	if req.DryRun {
		return r.target.Preview(cfg, req)
	}
	res, err := r.target.Apply(cfg, req)
	if err == nil {
		r.follow(cfg, before)
	}
	return res, err
}

// includeStates returns what each directory that included files or
// include globs of the last good configuration live in is now (dirState).
func (r *Reloader[R]) includeStates() map[string]string {
	states := make(map[string]string, len(r.incDirs)+len(r.globs))
	for d := range r.incDirs {
		states[d] = dirState(d)
	}
	for _, g := range r.globs {
		d := filepath.Dir(g)
		if _, ok := states[d]; !ok {
			states[d] = dirState(d)
		}
	}
	return states
}

// vanished reports the included files of the last good configuration that
// cfg no longer reads because they are gone, unless their directory was
// replaced as a whole since.
func (r *Reloader[R]) vanished(cfg *config.Config) error {
	now := make(map[string]bool)
	for _, f := range cfg.Files() {
		now[f] = true
	}
	var errs []error
	for _, f := range r.included {
		if now[f] {
			continue
		}
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			continue // still there: the include list changed on purpose
		}
		dir := filepath.Dir(f)
		if then, ok := r.incDirs[dir]; ok {
			if cur := dirState(dir); cur != "" && cur != then {
				continue // the directory was swapped as a whole
			}
		}
		errs = append(errs, errors.New("gateway: "+f+
			": an included file of the serving configuration is gone; its routes keep serving until a reload (SIGHUP or POST /-/reload) confirms the removal"))
	}
	return errors.Join(errs...)
}

// dirState identifies what a directory is: where it resolves to and where
// its "..data" symlink (a Kubernetes ConfigMap volume's) points. Either
// changes when the directory is replaced as a whole. It is "" for a
// directory that is gone.
func dirState(dir string) string {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	data, _ := os.Readlink(filepath.Join(dir, "..data"))
	return resolved + "\x00" + data
}

// follow watches the directories of what cfg was read from (sourcesOf).
// Directories, not files: editors save by writing a new file and renaming
// it over the old one, and Kubernetes swaps a symlink, and a watch on the
// old file would see neither. The caller holds r.mu (or is New).
//
// before holds what directories were before cfg was loaded
// (includeStates); a directory not in it is taken as it is now.
func (r *Reloader[R]) follow(cfg *config.Config, before map[string]string) {
	src := sourcesOf(cfg)
	r.files = map[string]bool{r.path: true}
	r.globs = src.globs
	r.included = src.included
	r.incDirs = map[string]string{}
	want := map[string]bool{filepath.Dir(r.path): true}
	for _, f := range src.files {
		r.files[f] = true
		want[filepath.Dir(f)] = true
	}
	for _, f := range src.included {
		d := filepath.Dir(f)
		if state, ok := before[d]; ok {
			r.incDirs[d] = state
		} else {
			r.incDirs[d] = dirState(d)
		}
	}
	for _, g := range src.globs {
		want[filepath.Dir(g)] = true
	}
	if r.closed {
		return
	}
	added := false
	for d := range want {
		if !r.dirs[d] {
			if err := r.watcher.Add(d); err != nil {
				r.log.Warn("gateway: cannot watch a configuration directory", "dir", d, "error", err.Error())
				continue
			}
			r.dirs[d] = true
			added = true
		}
	}
	if added && r.missed() {
		select {
		case r.again <- struct{}{}:
		default: // one is pending already
		}
	}
	for d := range r.dirs {
		if !want[d] {
			_ = r.watcher.Remove(d)
			delete(r.dirs, d)
		}
	}
}

// missed reports whether the globs match a file the configuration was not
// read from: one written after the load, before its directory was
// watched, whose event no watch saw.
func (r *Reloader[R]) missed() bool {
	for _, g := range r.globs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			if abs, err := filepath.Abs(m); err == nil && !r.files[abs] {
				return true
			}
		}
	}
	return false
}

// relevant reports whether a change of name may change the configuration.
func (r *Reloader[R]) relevant(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files[name] {
		return true
	}
	for _, g := range r.globs {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	// Kubernetes updates a ConfigMap volume by swapping the ..data symlink
	// that the visible file names point through.
	return strings.HasPrefix(filepath.Base(name), "..")
}

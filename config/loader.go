package config

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// A Loader loads one configuration again and again, as a reloader does,
// and keeps what it made of each included file: an included file whose
// content did not change since the last load (nor the environment
// variables it refers to, nor the main file) is not parsed, decoded or
// checked again, only the rules that relate routes across files are. A
// file whose checks read other files (a body_file, a key file, TLS
// files) is read afresh every time. The Loader keeps the files of the
// last configuration it loaded, and those of a later attempt that failed,
// nothing more. The configurations it loads share the settings of their
// unchanged routes: treat them as read-only. The zero Loader is ready to
// use; it is safe for concurrent use (loads take turns).
type Loader struct {
	mu   sync.Mutex
	kept keptFiles
}

// Load reads the configuration file at path as the package's Load does,
// with checks, reusing what it kept of included files that did not
// change.
func (l *Loader) Load(path string, checks ...Check) (*Config, error) {
	return l.load(path, os.LookupEnv, checks...)
}

// load is Load with the environment as lookup reads it.
func (l *Loader) load(path string, lookup yamlcodec.LookupFunc, checks ...Check) (*Config, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src := yamlcodec.OS()
	data, err := src.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	attempt := &keptFiles{prev: &l.kept}
	c, err := parseFrom(src, data, path, lookup, attempt, checks...)
	if err != nil {
		// Keep the last good files, and those of this attempt: the file
		// that failed is likely fixed next, the others are as they were.
		l.kept.tried = attempt.now
		return nil, err
	}
	l.kept = keptFiles{good: attempt.now}
	return c, nil
}

// keptFiles are the results of included files that a Loader keeps.
type keptFiles struct {
	good  []*fileResult // of the last configuration loaded
	tried []*fileResult // of a later attempt that failed
	// During a load: prev is the Loader's, now collects this load's.
	prev *keptFiles
	now  []*fileResult
}

// lookup returns a kept result that reading data as name under ctx would
// make again, or nil.
func (k *keptFiles) lookup(f included, ctx *routeContext, lookup yamlcodec.LookupFunc) *fileResult {
	for _, list := range [][]*fileResult{k.good, k.tried} {
		for _, r := range list {
			if r.name == f.name && r.reusable(f.name, f.data, ctx.key, lookup) {
				return r
			}
		}
	}
	return nil
}

// read returns the result of each included file, in order: kept ones
// where they can serve, the others read by a few goroutines at once. k
// may be nil (nothing kept, nothing to keep).
func (k *keptFiles) read(files []included, ctx *routeContext, lookup yamlcodec.LookupFunc) []*fileResult {
	results := make([]*fileResult, len(files))
	var todo []int
	for i, f := range files {
		if k != nil && k.prev != nil {
			results[i] = k.prev.lookup(f, ctx, lookup)
		}
		if results[i] == nil {
			todo = append(todo, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if workers <= 1 {
		for _, i := range todo {
			results[i] = readIncluded(files[i], ctx, lookup)
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					results[i] = readIncluded(files[i], ctx, lookup)
				}
			})
		}
		for _, i := range todo {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	if k != nil {
		for _, r := range results {
			if r.readsFiles {
				continue
			}
			if !r.kept { // a fresh one, not yet shared
				r.kept = true
			}
			k.now = append(k.now, r)
		}
	}
	return results
}

// contextKey identifies the main file read as it was: its name, its
// content and the environment variables it referred to.
func contextKey(file string, data []byte, env []envValue) string {
	h := sha256.New()
	h.Write([]byte(strconv.Quote(file)))
	h.Write(data)
	for _, e := range env {
		h.Write([]byte(strconv.Quote(e.name) + strconv.Quote(e.value) + strconv.FormatBool(e.set)))
	}
	return string(h.Sum(nil))
}

// A part is the routes of one included file within Config.Routes.
type part struct {
	start int // the index of its first route
	file  *fileResult
}

// more looks up the records of a path of Routes, "routes[N]...",
// numbering routes across all files, in the records of the included file
// that holds route N.
func (c *Config) more(path string) yamlcodec.Record {
	local, r := c.partOf(path)
	if r == nil {
		return yamlcodec.Record{}
	}
	pos, ok := r.pos.Get(local)
	return yamlcodec.Record{Pos: pos, Written: ok, Secret: r.secrets[local], Bad: r.bad[local]}
}

// partOf returns path as the included file that holds its route numbers
// it, and that file's result; nil for a path of no included file's route.
func (c *Config) partOf(path string) (string, *fileResult) {
	rest, ok := strings.CutPrefix(path, "routes[")
	if !ok || len(c.parts) == 0 {
		return "", nil
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return "", nil
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil || n < c.parts[0].start {
		return "", nil
	}
	i := sort.Search(len(c.parts), func(i int) bool { return c.parts[i].start > n }) - 1
	p := c.parts[i]
	if n-p.start >= len(p.file.routes) {
		return "", nil
	}
	return "routes[" + strconv.Itoa(n-p.start) + rest[end:], p.file
}

// position is where the field at path was written, in whichever file.
func (c *Config) position(path string) (yamlcodec.Position, bool) {
	if p, ok := c.pos.Get(path); ok {
		return p, true
	}
	rec := c.more(path)
	return rec.Pos, rec.Written
}

// posOf is position without ok.
func (c *Config) posOf(path string) yamlcodec.Position {
	p, _ := c.position(path)
	return p
}

// allSecrets lists every path whose value came from the environment,
// routes numbered across all files.
func (c *Config) allSecrets() map[string]bool {
	if len(c.parts) == 0 {
		return c.secrets
	}
	all := make(map[string]bool, len(c.secrets))
	for p := range c.secrets {
		all[p] = true
	}
	for _, pt := range c.parts {
		for p := range pt.file.secrets {
			all[globalRoute(p, pt.start)] = true
		}
	}
	return all
}

// globalRoute renumbers the route that path starts with, "routes[N]...",
// by adding start: localRoute's inverse.
func globalRoute(path string, start int) string {
	rest, ok := strings.CutPrefix(path, "routes[")
	end := strings.IndexByte(rest, ']')
	if !ok || end < 0 {
		return path
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return path
	}
	return "routes[" + strconv.Itoa(n+start) + rest[end:]
}

// UnchangedRoutes returns, for each route of c, the index in prev.Routes
// of the very same route, or -1: a route from an included file that the
// Loader that loaded c kept from loading prev (the file, the environment
// variables it refers to and the main file unchanged), so that the two
// are equal in every setting. Other routes get -1 even when equal.
func (c *Config) UnchangedRoutes(prev *Config) []int {
	out := make([]int, len(c.Routes))
	for i := range out {
		out[i] = -1
	}
	if prev == nil || len(c.parts) == 0 || len(prev.parts) == 0 {
		return out
	}
	was := make(map[*fileResult]int, len(prev.parts))
	for _, p := range prev.parts {
		was[p.file] = p.start
	}
	for _, p := range c.parts {
		start, ok := was[p.file]
		if !ok || !p.file.kept {
			continue
		}
		for k := range p.file.routes {
			out[p.start+k] = start + k
		}
	}
	return out
}

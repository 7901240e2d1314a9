package config

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// includedFileWords are the problems of an included file without routes.
var includedFileWords = yamlcodec.Words{
	Empty:          "the file is empty; an included file holds a routes list (write routes: [] for none)",
	SecondDocument: "a second YAML document; keep the whole file in one document",
	NotMapping:     "the top level of an included file must be a mapping with a routes list, got ",
}

// included is one file that the main file includes, as read.
type included struct {
	name string // as errors name it
	data []byte
}

// includedFiles reads the files that c.Include names, in order. Problems
// with an include entry are reported at the entry, through d.
func includedFiles(d *yamlcodec.Decoder, src yamlcodec.Source, c *Config) ([]included, yamlcodec.Included) {
	var files []included
	inc := d.Include(src, "include", c.Include, func(data []byte) {
		files = append(files, included{name: d.File(), data: data})
	})
	return files, inc
}

// A fileResult is an included file decoded, given defaults and checked
// on its own (routeOwn), apart from every other file: its routes'
// paths, in pos, secrets and the fields of errs, number them within the
// file ("routes[0]" is its first route). It depends on nothing but the
// file's name and content, the environment variables it refers to
// (env), and the main file's top-level settings (context); a Loader
// keeps it for the next load when its checks read no other file
// (readsFiles). Immutable once made: loads share it.
type fileResult struct {
	name    string
	data    []byte
	context string
	env     []envValue

	routes  []Route
	hasList bool // the file has a routes list (even an empty one)
	pos     *yamlcodec.Positions
	secrets map[string]bool
	bad     map[string]bool
	errs    Errors
	// decodeErrs counts the problems at the start of errs found while
	// decoding, before the checks.
	decodeErrs int
	// exhausted is set when the file was too complex to decode: its
	// routes are not worth checking, nor is the whole.
	exhausted  bool
	readsFiles bool

	// kept is set on the results a Loader keeps: only those, which no
	// caller can reach to change, remember their routes' digests.
	kept       bool
	digestOnce sync.Once
	digests    []RouteDigest
}

// routeDigests returns the digest of each of r's routes, worked out once
// for a kept result.
func (r *fileResult) routeDigests() []RouteDigest {
	if !r.kept {
		return digestsOf(r.routes)
	}
	r.digestOnce.Do(func() { r.digests = digestsOf(r.routes) })
	return r.digests
}

// An envValue is what an environment variable was when a file was read.
type envValue struct {
	name, value string
	set         bool
}

// current reports whether the environment variables r referred to still
// have the values they had.
func (r *fileResult) current(lookup yamlcodec.LookupFunc) bool {
	for _, e := range r.env {
		if v, ok := lookup(e.name); v != e.value || ok != e.set {
			return false
		}
	}
	return true
}

// reusable reports whether r is the result of reading data as name under
// context, with the environment as lookup reads it.
func (r *fileResult) reusable(name string, data []byte, context string, lookup yamlcodec.LookupFunc) bool {
	return r.name == name && r.context == context && bytes.Equal(r.data, data) && r.current(lookup)
}

// recordingLookup wraps lookup so that every variable read is listed in
// *env, once.
func recordingLookup(lookup yamlcodec.LookupFunc, env *[]envValue) yamlcodec.LookupFunc {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		for _, e := range *env {
			if e.name == name {
				return v, ok
			}
		}
		*env = append(*env, envValue{name: name, value: v, set: ok})
		return v, ok
	}
}

// readIncluded decodes the included file f, gives its routes their
// defaults and checks each on its own; ctx holds the main file's
// top-level settings that routes depend on. Safe to run for several
// files at once.
func readIncluded(f included, ctx *routeContext, lookup yamlcodec.LookupFunc) *fileResult {
	r := &fileResult{name: f.name, data: f.data, context: ctx.key}
	root, ferr := yamlcodec.ReadDocumentList(f.data, f.name, includedFileWords, "routes")
	if ferr != nil {
		r.errs, r.decodeErrs = Errors{ferr}, 1
		return r
	}
	d := codec.NewDecoder(f.name, recordingLookup(lookup, &r.env), 2*bytes.Count(f.data, []byte("\n")))
	r.pos, r.secrets, r.bad = d.Pos, d.Secrets, d.Bad
	for _, p := range d.Pairs(root, "") {
		switch key := p.Key.Value; {
		case key == "routes":
			r.decodeRoutes(d, p.Val)
		case strings.HasPrefix(key, "x-"):
			// anchors for this file's routes
		case key == "include":
			d.KeyErrorf(p.Key, "", "an included file cannot include others; list every file or glob in the include of %s", ctx.main)
		case yamlcodec.HasField(configType, key):
			d.KeyErrorf(p.Key, "", "%s is a setting of the main file (%s); an included file holds only routes", key, ctx.main)
		default:
			d.KeyErrorf(p.Key, "", "unknown field %q%s; an included file holds only routes", key, yamlcodec.Suggest(key, "routes"))
		}
	}
	if d.Exhausted() {
		r.errs, r.decodeErrs, r.exhausted = d.Errs, len(d.Errs), true
		return r
	}
	v := ctx.validator(d)
	for i := range r.routes {
		p := "routes[" + strconv.Itoa(i) + "]"
		routeDefaults(&r.routes[i], p, d.Set, ctx.maxBody)
		v.routeOwn(&r.routes[i], p)
	}
	r.decodeErrs = len(d.Errs)
	r.errs = append(d.Errs, v.rep.Errs...)
	r.readsFiles = v.readsFiles
	return r
}

var configType = reflect.TypeFor[Config]()

// decodeRoutes decodes n, the routes list of an included file.
func (r *fileResult) decodeRoutes(d *yamlcodec.Decoder, n *yaml.Node) {
	if !d.Step() {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if yamlcodec.IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		// Not Errorf: "routes" is not bad as a whole, the other files'
		// routes are still checked.
		d.KeyErrorf(n, "routes", "want a list, got %s", yamlcodec.Describe(n))
		return
	}
	r.hasList = true
	r.routes = make([]Route, len(n.Content))
	for i, item := range n.Content {
		d.Decode(item, reflect.ValueOf(&r.routes[i]).Elem(), "routes["+strconv.Itoa(i)+"]")
	}
}

// routeContext is what the routes of an included file depend on besides
// the file: the main file's top-level settings.
type routeContext struct {
	// key identifies the main file read as it was (its name, content and
	// the environment variables it referred to).
	key     string
	main    string // the main file, as errors name it
	maxBody ByteSize
	v       *validator // the main file's, after its settings were checked
}

// validator returns a validator of the routes that d decoded, with the
// main file's settings.
func (ctx *routeContext) validator(d *yamlcodec.Decoder) *validator {
	v := newValidator(ctx.main, d, nil)
	v.disc, v.haveRedis, v.brokerSet, v.providers = ctx.v.disc, ctx.v.haveRedis, ctx.v.brokerSet, ctx.v.providers
	return v
}

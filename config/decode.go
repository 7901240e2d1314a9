package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// position is a 1-based line and column in a file.
type position struct {
	file      string
	line, col int
}

// nodeBudget bounds the nodes visited while decoding, so that YAML aliases
// cannot blow a small file up into an enormous amount of work.
const nodeBudget = 250_000

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	rateType     = reflect.TypeFor[Rate]()
	targetType   = reflect.TypeFor[Target]()
)

// decoder fills the schema structs from a yaml.Node tree by walking it
// alongside the structs' yaml tags. It collects every problem instead of
// stopping at the first, and records where each field path was written.
type decoder struct {
	file    string // the file being decoded
	lookup  lookupFunc
	errs    Errors
	pos     map[string]position // every decoded path, null values included
	set     map[string]bool     // paths that hold a non-null value
	bad     map[string]bool     // paths that failed to decode
	secrets map[string]bool     // paths whose value came from the environment
	// starts is, for each included file, the merged index of its first
	// route: errors count routes within their file.
	starts map[string]int
	budget int
}

// newDecoder returns a decoder for a document of about fields values
// (a size hint for its maps: a large config would grow them many times).
func newDecoder(file string, lookup lookupFunc, fields int) *decoder {
	return &decoder{
		file:    file,
		lookup:  lookup,
		pos:     make(map[string]position, fields),
		set:     make(map[string]bool, fields),
		bad:     make(map[string]bool),
		secrets: make(map[string]bool),
		starts:  make(map[string]int),
		budget:  nodeBudget,
	}
}

// errorf reports that the value at path could not be decoded; validation
// stays quiet about path and everything under it.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.keyErrorf(n, path, format, args...)
}

// keyErrorf reports a problem with a key of the mapping at path (unknown,
// repeated): the mapping itself still decodes and is validated.
func (d *decoder) keyErrorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{
		File: d.file, Line: n.Line, Col: n.Column, Field: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// decode stores n into v, which is addressable. path names v in errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, path, "document too complex (too many nested aliases)")
		}
		return
	}
	d.pos[path] = position{d.file, n.Line, n.Column}
	if n.Kind == yaml.AliasNode {
		if n = n.Alias; n == nil {
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // as if the key were absent
	}
	d.set[path] = true

	switch v.Type() {
	case durationType:
		d.duration(n, v, path)
		return
	case byteSizeType:
		d.byteSize(n, v, path)
		return
	case rateType:
		d.rate(n, v, path)
		return
	case targetType:
		if n.Kind == yaml.SequenceNode {
			d.errorf(n, path, "want a URL or a mapping {url, weight}, got a list")
			return
		}
		if n.Kind == yaml.ScalarNode { // the short form: just the URL
			url := path + ".url"
			d.pos[url] = position{d.file, n.Line, n.Column}
			d.set[url] = true
			if s, _, ok := d.scalar(n, url, "a URL"); ok {
				v.Set(reflect.ValueOf(Target{URL: s}))
			}
			return
		}
	}

	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Pointer:
		// Allocated even when n turns out to be the wrong kind, so that
		// validation does not add "missing" on top of the type error.
		v.Set(reflect.New(v.Type().Elem()))
		d.decode(n, v.Elem(), path)
		d.budget++ // the same node, not a new one
	case reflect.Slice:
		d.list(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	case reflect.String:
		if s, _, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		d.integer(n, v, path)
	case reflect.Bool:
		d.boolean(n, v, path)
	case reflect.Float64:
		d.float(n, v, path)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs lists the entries of mapping n, reporting keys that are not
// scalars or that repeat. Merge keys ("<<: *base") are expanded; keys
// written out win over merged ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.keyErrorf(k, path, "keys must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.keyErrorf(k, path, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	for _, m := range merges {
		out = d.merge(m, path, seen, out)
	}
	return out
}

// merge appends the entries of the merged mapping m (or list of mappings)
// whose keys are not in seen yet.
func (d *decoder) merge(m *yaml.Node, path string, seen map[string]*yaml.Node, out []pair) []pair {
	if d.budget--; d.budget < 0 {
		return out
	}
	if m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	switch m.Kind {
	case yaml.MappingNode:
		for _, p := range d.pairs(m, path) {
			if _, dup := seen[p.key.Value]; !dup {
				seen[p.key.Value] = p.key
				out = append(out, p)
			}
		}
	case yaml.SequenceNode:
		for _, item := range m.Content {
			if item.Kind == yaml.SequenceNode {
				d.keyErrorf(item, path, "a merge (<<) takes a mapping or a list of mappings, got a list in a list")
				continue
			}
			out = d.merge(item, path, seen, out)
		}
	default:
		d.keyErrorf(m, path, "a merge (<<) takes a mapping or a list of mappings, got %s", describe(m))
	}
	return out
}

// structure decodes mapping n into struct v through the fields' yaml tags.
// At the top level, keys that start with "x-" are ignored: they hold YAML
// anchors for reuse elsewhere.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		i := fieldIndex(t, key)
		if i < 0 {
			if path == "" && strings.HasPrefix(key, "x-") {
				continue
			}
			d.keyErrorf(p.key, path, "unknown field %q%s", key, suggest(key, t))
			continue
		}
		d.decode(p.val, v.Field(i), joinPath(path, key))
	}
}

// fieldIndex finds the exported field tagged `yaml:"key"`, or -1.
func fieldIndex(t reflect.Type, key string) int {
	idx, ok := fieldIndexes.Load(t)
	if !ok {
		m := make(map[string]int, t.NumField())
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() {
				m[yamlName(f)] = i
			}
		}
		idx, _ = fieldIndexes.LoadOrStore(t, m)
	}
	if i, ok := idx.(map[string]int)[key]; ok {
		return i
	}
	return -1
}

// fieldIndexes caches, per struct type, the field index of each YAML key:
// a config of ten thousand routes looks them up a hundred thousand times.
var fieldIndexes sync.Map // reflect.Type -> map[string]int

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// suggest names a field of t that key is probably a typo of.
func suggest(key string, t reflect.Type) string {
	best, bestDist := "", 3
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := yamlName(f)
		if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, p := range d.pairs(n, path) {
		elem := reflect.New(t.Elem()).Elem()
		d.decode(p.val, elem, keyPath(path, p.key.Value))
		m.SetMapIndex(reflect.ValueOf(p.key.Value), elem)
	}
	v.Set(m)
}

// joinPath appends a struct field name to a path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// keyPath appends a map key to a path: "set.Authorization", or
// `set["odd key"]` when the key is not a plain token.
func keyPath(path, key string) string {
	if key != "" && isToken(key) && !strings.ContainsAny(key, ".[]\"") {
		return joinPath(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// scalar returns the text of scalar n after environment substitution.
// fromEnv reports that the text came through an environment reference.
func (d *decoder) scalar(n *yaml.Node, path, want string) (text string, fromEnv, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return "", false, false
	}
	s, refs, err := expand(n.Value, d.lookup)
	if refs {
		d.secrets[path] = true
	}
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", refs, false
	}
	return s, refs, true
}

// typed returns the text of a scalar that must be of YAML type tag (such
// as "!!int"), or of any type when it came from the environment.
func (d *decoder) typed(n *yaml.Node, path, want string, tags ...string) (text string, fromEnv, ok bool) {
	s, fromEnv, ok := d.scalar(n, path, want)
	if !ok {
		return "", false, false
	}
	if !fromEnv {
		tag := n.ShortTag()
		for _, t := range tags {
			if tag == t {
				return s, false, true
			}
		}
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return "", false, false
	}
	return strings.TrimSpace(s), true, true
}

// badValue reports a scalar that does not parse as the wanted type. Values
// from the environment are not printed: they may be secrets.
func (d *decoder) badValue(n *yaml.Node, path, want string, fromEnv bool) {
	got := describe(n)
	if fromEnv {
		got = "a value from the environment that is not one"
	}
	d.errorf(n, path, "want %s, got %s", want, got)
}

func (d *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	const want = "an integer"
	s, fromEnv, ok := d.typed(n, path, want, "!!int")
	if !ok {
		return
	}
	base := 0 // YAML integers may be written 0x1F, 0o17 or 1_000
	if fromEnv {
		base = 10
	}
	i, err := strconv.ParseInt(s, base, strconv.IntSize)
	if err != nil {
		d.badValue(n, path, want, fromEnv)
		return
	}
	v.SetInt(i)
}

func (d *decoder) float(n *yaml.Node, v reflect.Value, path string) {
	const want = "a number"
	s, fromEnv, ok := d.typed(n, path, want, "!!int", "!!float")
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.badValue(n, path, want, fromEnv)
		return
	}
	v.SetFloat(f)
}

func (d *decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	const want = "true or false"
	s, fromEnv, ok := d.typed(n, path, want, "!!bool")
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true":
		v.SetBool(true)
	case "false":
		v.SetBool(false)
	default:
		d.badValue(n, path, want, fromEnv)
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	const want = "a duration like 2s"
	s, fromEnv, ok := d.typed(n, path, want, "!!str")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.badValue(n, path, want, fromEnv)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) byteSize(n *yaml.Node, v reflect.Value, path string) {
	const want = "a size like 512, 64KiB or 10MB"
	s, fromEnv, ok := d.typed(n, path, want, "!!int", "!!str")
	if !ok {
		return
	}
	if strings.HasPrefix(s, "-") {
		d.errorf(n, path, "must not be negative")
		return
	}
	b, err := parseByteSize(s)
	if err != nil && n.ShortTag() == "!!int" && !fromEnv {
		// YAML integers may be written 0x10 or 1_000.
		var i int64
		if i, err = strconv.ParseInt(s, 0, 64); err == nil {
			b = ByteSize(i)
		}
	}
	if err != nil {
		d.badValue(n, path, want, fromEnv)
		return
	}
	v.SetInt(int64(b))
}

func (d *decoder) rate(n *yaml.Node, v reflect.Value, path string) {
	const want = "a rate like 100, 0.5, 600/m or 5000/h"
	s, fromEnv, ok := d.typed(n, path, want, "!!int", "!!float", "!!str")
	if !ok {
		return
	}
	r, err := parseRate(s)
	if err != nil {
		d.badValue(n, path, want, fromEnv)
		return
	}
	v.SetFloat(float64(r))
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "nothing"
	}
	s := n.Value
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str", "!!binary", "!!timestamp":
		return strconv.Quote(s)
	}
	if strings.HasPrefix(n.ShortTag(), "!!") {
		return s
	}
	return strconv.Quote(s)
}

package yamlcodec

import (
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeBudget bounds the nodes visited while decoding, so that YAML aliases
// cannot blow a small file up into an enormous amount of work.
const nodeBudget = 250_000

// A Decoder fills structs from yaml.Node trees by walking them alongside
// the structs' yaml tags. It collects every problem instead of stopping at
// the first, and records where each field path was written. One Decoder
// reads one document and the files it includes.
type Decoder struct {
	// Errs are the problems found so far, in the order found.
	Errs Errors
	// Pos is where each decoded path was written, null values included.
	Pos *Positions
	// Set holds the paths that hold a non-null value.
	Set map[string]bool
	// Bad holds the paths that failed to decode: checks of the decoded
	// values stay quiet about them (see Reporter).
	Bad map[string]bool
	// Secrets holds the paths whose value came through an environment
	// reference.
	Secrets map[string]bool

	codec  *Codec
	file   string // the file being decoded
	lookup LookupFunc
	budget int
	// log, when set, takes the records instead of the maps: a decoder
	// of one part of a list (listInParts) writes them down in order, and
	// the list's decoder adds them to its maps.
	log *records
}

// NewDecoder returns a decoder for the document of file, about fields
// values large (a size hint for its set of written paths: a large
// document would grow it many times). lookup reads environment variables.
func (c *Codec) NewDecoder(file string, lookup LookupFunc, fields int) *Decoder {
	return &Decoder{
		codec:   c,
		file:    file,
		lookup:  lookup,
		Pos:     newPositions(file),
		Set:     make(map[string]bool, fields),
		Bad:     make(map[string]bool),
		Secrets: make(map[string]bool),
		budget:  nodeBudget,
	}
}

// File is the name of the file being decoded.
func (d *Decoder) File() string { return d.file }

// Exhausted reports whether the document was too complex to decode (too
// many nodes, through aliases); the problem is in Errs.
func (d *Decoder) Exhausted() bool { return d.budget < 0 }

// Step counts one node visited outside Decode against the budget and
// reports whether there was budget left.
func (d *Decoder) Step() bool {
	d.budget--
	return d.budget >= 0
}

// Errorf reports that the value n at path could not be decoded; Reporter
// stays quiet about path and everything under it.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	d.mark(path, markBad)
	d.KeyErrorf(n, path, format, args...)
}

// KeyErrorf reports a problem at n with a key of the mapping at path
// (unknown, repeated): the mapping itself still decodes and is checked.
func (d *Decoder) KeyErrorf(n *yaml.Node, path, format string, args ...any) {
	d.Errs = append(d.Errs, &FieldError{
		File: d.file, Line: n.Line, Col: n.Column, Field: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// Note records that path was written at n with a value, for a Type's
// Decode that fills a field of its own.
func (d *Decoder) Note(n *yaml.Node, path string) {
	d.at(path, n)
	d.mark(path, markSet)
}

// Decode stores n into v, which is addressable. path names v in errors
// and in the records. At the top level (path ""), keys that start with
// "x-" are ignored: they hold YAML anchors for reuse elsewhere.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value, path string) {
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.Errorf(n, path, "document too complex (too many nested aliases)")
		}
		return
	}
	d.at(path, n)
	if n.Kind == yaml.AliasNode {
		if n = n.Alias; n == nil {
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // as if the key were absent
	}
	d.mark(path, markSet)

	if t := d.codec.typeOf(v.Type()); t != nil && t.Decode != nil && t.Decode(d, n, v, path) {
		return
	}

	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Pointer:
		// Allocated even when n turns out to be the wrong kind, so that
		// validation does not add "missing" on top of the type error.
		v.Set(reflect.New(v.Type().Elem()))
		d.Decode(n, v.Elem(), path)
		d.budget++ // the same node, not a new one
	case reflect.Slice:
		d.list(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	case reflect.String:
		if s, _, ok := d.Scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		d.integer(n, v, path)
	case reflect.Bool:
		d.boolean(n, v, path)
	case reflect.Float64:
		d.float(n, v, path)
	default:
		panic("yamlcodec: no decoder for " + v.Type().String())
	}
}

// A Pair is one key and value of a mapping.
type Pair struct{ Key, Val *yaml.Node }

// Pairs lists the entries of mapping n, the value at path, reporting keys
// that are not scalars or that repeat. Merge keys ("<<: *base") are
// expanded; keys written out win over merged ones.
func (d *Decoder) Pairs(n *yaml.Node, path string) []Pair {
	out := make([]Pair, 0, len(n.Content)/2)
	// Most mappings hold a few keys: repeats are looked for in out, and
	// only a large mapping, or one that merges others, takes a map.
	var seen map[string]*yaml.Node
	if len(n.Content)/2 > smallMapping {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.KeyErrorf(k, path, "keys must be strings, got %s", Describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first := firstKey(out, seen, k.Value); first != nil {
			d.KeyErrorf(k, path, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		if seen != nil {
			seen[k.Value] = k
		}
		out = append(out, Pair{k, v})
	}
	if len(merges) == 0 {
		return out
	}
	if seen == nil {
		seen = make(map[string]*yaml.Node, len(out))
		for _, p := range out {
			seen[p.Key.Value] = p.Key
		}
	}
	for _, m := range merges {
		out = d.merge(m, path, seen, out)
	}
	return out
}

// smallMapping is the number of keys up to which Pairs looks for a
// repeated key by going through the keys before it.
const smallMapping = 16

// firstKey returns the key node of out named key, looked up in seen when
// it is not nil.
func firstKey(out []Pair, seen map[string]*yaml.Node, key string) *yaml.Node {
	if seen != nil {
		return seen[key]
	}
	for _, p := range out {
		if p.Key.Value == key {
			return p.Key
		}
	}
	return nil
}

// merge appends the entries of the merged mapping m (or list of mappings)
// whose keys are not in seen yet.
func (d *Decoder) merge(m *yaml.Node, path string, seen map[string]*yaml.Node, out []Pair) []Pair {
	if d.budget--; d.budget < 0 {
		return out
	}
	if m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	switch m.Kind {
	case yaml.MappingNode:
		for _, p := range d.Pairs(m, path) {
			if _, dup := seen[p.Key.Value]; !dup {
				seen[p.Key.Value] = p.Key
				out = append(out, p)
			}
		}
	case yaml.SequenceNode:
		for _, item := range m.Content {
			if item.Kind == yaml.SequenceNode {
				d.KeyErrorf(item, path, "a merge (<<) takes a mapping or a list of mappings, got a list in a list")
				continue
			}
			out = d.merge(item, path, seen, out)
		}
	default:
		d.KeyErrorf(m, path, "a merge (<<) takes a mapping or a list of mappings, got %s", Describe(m))
	}
	return out
}

// structure decodes mapping n into struct v through the fields' yaml tags.
func (d *Decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "want a mapping, got %s", Describe(n))
		return
	}
	t := v.Type()
	for _, p := range d.Pairs(n, path) {
		key := p.Key.Value
		i := fieldIndex(t, key)
		if i < 0 {
			if path == "" && strings.HasPrefix(key, "x-") {
				continue
			}
			d.KeyErrorf(p.Key, path, "unknown field %q%s", key, suggestField(key, t))
			continue
		}
		d.Decode(p.Val, v.Field(i), JoinPath(path, key))
	}
}

func (d *Decoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, path, "want a list, got %s", Describe(n))
		return
	}
	if s := d.listInParts(n, v.Type(), path, runtime.GOMAXPROCS(0)); s.IsValid() {
		v.Set(s)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.Decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

func (d *Decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "want a mapping, got %s", Describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, p := range d.Pairs(n, path) {
		elem := reflect.New(t.Elem()).Elem()
		d.Decode(p.Val, elem, KeyPath(path, p.Key.Value))
		m.SetMapIndex(reflect.ValueOf(p.Key.Value), elem)
	}
	v.Set(m)
}

// Scalar returns the text of scalar n, the value at path, after
// environment substitution; want names what was expected, for the error
// when n is not a scalar. fromEnv reports that the text came through an
// environment reference.
func (d *Decoder) Scalar(n *yaml.Node, path, want string) (text string, fromEnv, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, path, "want %s, got %s", want, Describe(n))
		return "", false, false
	}
	s, refs, err := Expand(n.Value, d.lookup)
	if refs {
		d.mark(path, markSecret)
	}
	if err != nil {
		d.Errorf(n, path, "%v", err)
		return "", refs, false
	}
	return s, refs, true
}

// Typed returns the text of a scalar that must be of one of the YAML type
// tags (such as "!!int"), or of any type when it came from the
// environment (then trimmed of white space).
func (d *Decoder) Typed(n *yaml.Node, path, want string, tags ...string) (text string, fromEnv, ok bool) {
	s, fromEnv, ok := d.Scalar(n, path, want)
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
		d.Errorf(n, path, "want %s, got %s", want, Describe(n))
		return "", false, false
	}
	return strings.TrimSpace(s), true, true
}

// BadValue reports a scalar that does not parse as the wanted type. Values
// from the environment are not printed: they may be secrets.
func (d *Decoder) BadValue(n *yaml.Node, path, want string, fromEnv bool) {
	got := Describe(n)
	if fromEnv {
		got = "a value from the environment that is not one"
	}
	d.Errorf(n, path, "want %s, got %s", want, got)
}

func (d *Decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	const want = "an integer"
	s, fromEnv, ok := d.Typed(n, path, want, "!!int")
	if !ok {
		return
	}
	base := 0 // YAML integers may be written 0x1F, 0o17 or 1_000
	if fromEnv {
		base = 10
	}
	i, err := strconv.ParseInt(s, base, strconv.IntSize)
	if err != nil {
		d.BadValue(n, path, want, fromEnv)
		return
	}
	v.SetInt(i)
}

func (d *Decoder) float(n *yaml.Node, v reflect.Value, path string) {
	const want = "a number"
	s, fromEnv, ok := d.Typed(n, path, want, "!!int", "!!float")
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.BadValue(n, path, want, fromEnv)
		return
	}
	v.SetFloat(f)
}

func (d *Decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	const want = "true or false"
	s, fromEnv, ok := d.Typed(n, path, want, "!!bool")
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true":
		v.SetBool(true)
	case "false":
		v.SetBool(false)
	default:
		d.BadValue(n, path, want, fromEnv)
	}
}

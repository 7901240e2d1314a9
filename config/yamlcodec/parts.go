package yamlcodec

import (
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// partsMinItems is the length from which a list of structs is decoded in
// parts at once.
const partsMinItems = 512

// listInParts decodes the items of n, a long list of structs, in up to
// procs contiguous parts at once, each by a decoder of its own whose
// problems and records are then added to d's in the order of the items,
// as decoding them one by one would leave them. It returns the decoded
// slice of type t, or an invalid Value when the list is not decoded that
// way: a short list, an alias or an environment reference in it (the
// lookup records what it reads, in order), or the node budget running out.
func (d *Decoder) listInParts(n *yaml.Node, t reflect.Type, path string, procs int) reflect.Value {
	if procs < 2 || len(n.Content) < partsMinItems || t.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	nodes, plain := plainNodes(n.Content)
	if !plain || nodes > d.budget {
		return reflect.Value{}
	}
	s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	parts := make([]*Decoder, min(procs, len(n.Content)/(partsMinItems/2)))
	per := (len(n.Content) + len(parts) - 1) / len(parts)
	var wg sync.WaitGroup
	size := nodes / len(parts) // at most a record of each kind a node
	for p := range parts {
		lo, hi := p*per, min((p+1)*per, len(n.Content))
		k := &Decoder{codec: d.codec, file: d.file, lookup: d.lookup, budget: d.budget,
			log: &records{pos: make([]posRecord, 0, size), marks: make([]markRecord, 0, size)}}
		parts[p] = k
		work := func() {
			for i := lo; i < hi; i++ {
				k.Decode(n.Content[i], s.Index(i), path+"["+strconv.Itoa(i)+"]")
			}
		}
		if p == len(parts)-1 {
			work() // this goroutine's share, after starting the others
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	wg.Wait()
	used := 0
	for _, k := range parts {
		used += d.budget - k.budget
	}
	if used > d.budget { // cannot happen without aliases; decode one by one
		return reflect.Value{}
	}
	d.budget -= used
	recs := 0
	for _, k := range parts {
		recs += len(k.log.pos)
	}
	d.Pos.reserve(recs)
	for _, k := range parts {
		d.Errs = append(d.Errs, k.Errs...)
		d.Pos.addAll(k.log.pos)
		for _, r := range k.log.marks {
			d.mark(r.path, r.kind)
		}
	}
	return s
}

// plainNodes counts the nodes under list, and reports whether none is an
// alias or a scalar with an environment reference.
func plainNodes(list []*yaml.Node) (count int, plain bool) {
	for _, n := range list {
		count++
		if n.Kind == yaml.AliasNode || n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			return count, false
		}
		c, ok := plainNodes(n.Content)
		if count += c; !ok {
			return count, false
		}
	}
	return count, true
}

// records are what a decoder of one part of a list noted, in order.
type records struct {
	pos   []posRecord
	marks []markRecord
}

type markRecord struct {
	path string
	kind markKind
}

// A markKind names one of the Decoder's sets of paths.
type markKind uint8

const (
	markSet markKind = iota
	markBad
	markSecret
)

// at records that path was written at n.
func (d *Decoder) at(path string, n *yaml.Node) {
	if d.log != nil {
		d.log.pos = append(d.log.pos, posRecord{path, lineColOf(n)})
		return
	}
	d.Pos.add(path, lineColOf(n))
}

// mark adds path to the set kind names.
func (d *Decoder) mark(path string, kind markKind) {
	if d.log != nil {
		d.log.marks = append(d.log.marks, markRecord{path, kind})
		return
	}
	switch kind {
	case markSet:
		d.Set[path] = true
	case markBad:
		d.Bad[path] = true
	case markSecret:
		d.Secrets[path] = true
	}
}

package router

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// tmpl is a parsed path template.
type tmpl struct {
	segs  []tseg   // the segments after the leading '/'
	names []string // parameter names in order
}

type tseg struct {
	lit   string
	param bool // "{name}"
	rest  bool // "{name...}", always the last segment
}

// parseTemplate checks a rule's Path. It returns nil for an exact path
// (one without braces).
func parseTemplate(path string) (*tmpl, error) {
	if path[0] != '/' {
		return nil, errors.New("must begin with '/'")
	}
	if !strings.ContainsAny(path, "{}") {
		return nil, nil
	}
	parts := strings.Split(path[1:], "/")
	t := &tmpl{segs: make([]tseg, len(parts))}
	for i, s := range parts {
		if !strings.ContainsAny(s, "{}") {
			t.segs[i].lit = s
			continue
		}
		if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
			return nil, fmt.Errorf("segment %q: a parameter must be a whole segment, as in /users/{id}", s)
		}
		name := s[1 : len(s)-1]
		if n, ok := strings.CutSuffix(name, "..."); ok {
			if i != len(parts)-1 {
				return nil, fmt.Errorf("segment %q: a catch-all parameter must be the last segment", s)
			}
			name = n
			t.segs[i].rest = true
		} else {
			t.segs[i].param = true
		}
		if name == "" || strings.ContainsAny(name, "{}") {
			return nil, fmt.Errorf("segment %q: invalid parameter name", s)
		}
		for _, o := range t.names {
			if o == name {
				return nil, fmt.Errorf("parameter %q appears twice", name)
			}
		}
		t.names = append(t.names, name)
	}
	if len(t.names) > MaxParams {
		return nil, fmt.Errorf("more than %d parameters", MaxParams)
	}
	return t, nil
}

// shape returns the template with parameter names removed; two templates
// with the same shape match the same paths.
func (t *tmpl) shape() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteByte('/')
		switch {
		case s.param:
			b.WriteString("{}")
		case s.rest:
			b.WriteString("{...}")
		default:
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

// tnode is a node of the segment tree of templates. The root stands for
// no segment consumed; every other node for one more segment.
type tnode struct {
	lits    map[string]*tnode // literal children; nil after freeze when few
	keys    []string          // literal children when few, parallel to kids
	kids    []*tnode
	param   *tnode // the "{name}" child
	end     []cand // templates that end here
	rest    []cand // catch-all templates whose "{name...}" follows here
	hasRest bool   // some catch-all is at or below this node
}

// smallFanout is how many literal children are scanned rather than
// looked up in a map.
const smallFanout = 8

// insert returns the candidate list for t, creating nodes.
func (n *tnode) insert(t *tmpl) *[]cand {
	catchAll := t.segs[len(t.segs)-1].rest
	for _, s := range t.segs {
		if catchAll {
			n.hasRest = true
		}
		switch {
		case s.rest:
			return &n.rest
		case s.param:
			if n.param == nil {
				n.param = &tnode{}
			}
			n = n.param
		default:
			if n.lits == nil {
				n.lits = make(map[string]*tnode)
			}
			c := n.lits[s.lit]
			if c == nil {
				c = &tnode{}
				n.lits[s.lit] = c
			}
			n = c
		}
	}
	return &n.end
}

// freeze turns small literal maps into slices, for the whole subtree.
func (n *tnode) freeze() {
	if len(n.lits) <= smallFanout {
		for k := range n.lits {
			n.keys = append(n.keys, k)
		}
		sort.Strings(n.keys)
		for _, k := range n.keys {
			n.kids = append(n.kids, n.lits[k])
		}
		n.lits = nil
	}
	for _, c := range n.kids {
		c.freeze()
	}
	for _, c := range n.lits {
		c.freeze()
	}
	if n.param != nil {
		n.param.freeze()
	}
}

// child returns the literal child for seg, or nil.
func (n *tnode) child(seg []byte) *tnode {
	if n.lits != nil {
		return n.lits[string(seg)]
	}
	for i, k := range n.keys {
		if k == string(seg) {
			return n.kids[i]
		}
	}
	return nil
}

// lookup finds the template rule for path that accepts method bit m:
// first among plain templates, then among catch-alls. At each segment a
// literal is tried before a parameter, and a parameter before a
// catch-all, backtracking when a branch has no rule for the path and
// method. Each node is visited at most once per pass.
func (n *tnode) lookup(m uint64, path []byte, p *Params) *cand {
	if len(path) == 0 || path[0] != '/' {
		return nil
	}
	if c := n.find(m, path, p); c != nil {
		return c
	}
	if n.hasRest {
		return n.findRest(m, path, p)
	}
	return nil
}

// splitSeg splits b at its first '/': the segment, then the tail
// starting with '/' (or empty).
func splitSeg(b []byte) (seg, tail []byte) {
	if i := bytes.IndexByte(b, '/'); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}

// find matches plain templates; tail is the unconsumed path, empty or
// starting with '/'.
func (n *tnode) find(m uint64, tail []byte, p *Params) *cand {
	if len(tail) == 0 {
		c := pick(n.end, m)
		if c != nil {
			p.setNames(c.names)
		}
		return c
	}
	seg, next := splitSeg(tail[1:])
	if c := n.child(seg); c != nil {
		if r := c.find(m, next, p); r != nil {
			return r
		}
	}
	if n.param != nil && len(seg) > 0 {
		p.push(seg)
		if r := n.param.find(m, next, p); r != nil {
			return r
		}
		p.pop()
	}
	return nil
}

// findRest matches catch-all templates, visiting only subtrees that
// hold one.
func (n *tnode) findRest(m uint64, tail []byte, p *Params) *cand {
	if len(tail) == 0 {
		return nil
	}
	seg, next := splitSeg(tail[1:])
	if c := n.child(seg); c != nil && c.hasRest {
		if r := c.findRest(m, next, p); r != nil {
			return r
		}
	}
	if n.param != nil && n.param.hasRest && len(seg) > 0 {
		p.push(seg)
		if r := n.param.findRest(m, next, p); r != nil {
			return r
		}
		p.pop()
	}
	if c := pick(n.rest, m); c != nil {
		p.push(tail[1:])
		p.setNames(c.names)
		return c
	}
	return nil
}

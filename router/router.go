package router

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is one route as the router sees it.
type Rule struct {
	// ID is the caller's index for the route; Match returns it.
	ID int
	// Host is "" for any host, "api.example.com" for one host, or
	// "*.example.com" for every host below example.com (any depth, never
	// example.com itself). Compared case-insensitively; a trailing dot is
	// ignored; a port is an error.
	Host string
	// Methods lists the accepted methods; empty means any method.
	// Names are upper-cased by Compile and compared case-sensitively.
	Methods []string
	// Path is an exact path ("/hello") or a template
	// ("/users/{id}/posts/{post}", "/files/{rest...}"). Exactly one of
	// Path and PathPrefix is set; both begin with '/'.
	Path string
	// PathPrefix matches every path that begins with these bytes. It is a
	// plain byte prefix: "/demo" matches "/demo", "/demo/x" and "/demox";
	// write "/demo/" to stay inside the directory.
	PathPrefix string
}

// ConflictError reports two rules that Compile cannot tell apart: same
// host, same kind of path, same path (templates compared by shape) and at
// least one method in common. A and B are the rules' IDs; A is the earlier.
type ConflictError struct {
	A, B   int
	Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("router: rules %d and %d conflict: %s", e.A, e.B, e.Reason)
}

// RuleError reports a rule that Compile rejects on its own.
type RuleError struct {
	ID     int
	Reason string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("router: rule %d: %s", e.ID, e.Reason)
}

// Table is a compiled, immutable route table. It is safe for concurrent
// use by any number of goroutines. The zero value and a nil *Table match
// nothing.
type Table struct {
	n       int
	methods methodSet
	any     *group            // rules with Host == ""
	hosts   map[string]*group // exact hosts, normalized
	wild    map[string]*group // wildcard hosts by suffix, ".example.com"
	// wildLen has bit L set when some wildcard suffix is L bytes long,
	// so Match skips map look-ups for suffix lengths no rule has.
	wildLen [maxHost/64 + 1]uint64
}

// group holds the rules of one host (or of any host).
type group struct {
	exact  map[string][]cand
	tmpl   *tnode // nil when the group has no templates
	prefix *pnode // nil when the group has no prefixes
}

// cand is one rule at a place in the table; the rules sharing a place
// have disjoint method masks.
type cand struct {
	mask  uint64
	id    int
	names []string // parameter names, templates only
}

// pick returns the candidate accepting method bit m, or nil.
func pick(cs []cand, m uint64) *cand {
	for i := range cs {
		if cs[i].mask&m != 0 {
			return &cs[i]
		}
	}
	return nil
}

// Len returns the number of rules in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Match finds the rule for a request and returns its ID. method is
// compared case-sensitively; host may carry a port and a trailing dot;
// path is matched as given (no decoding or cleaning). When p is not nil it
// is reset and receives the template parameters of the match; the values
// borrow path's bytes. Match does not allocate.
func (t *Table) Match(method, host, path []byte, p *Params) (id int, ok bool) {
	if p != nil {
		p.Reset()
	}
	if t == nil {
		return 0, false
	}
	m := t.methods.bit(method)
	if t.hosts != nil || t.wild != nil {
		var buf [maxHost]byte
		if h, hok := requestHost(host, &buf); hok {
			if g := t.hosts[string(h)]; g != nil {
				if id, ok := g.match(m, path, p); ok {
					return id, true
				}
			}
			if t.wild != nil {
				if id, ok := t.matchWild(h, m, path, p); ok {
					return id, true
				}
			}
		}
	}
	if t.any != nil {
		return t.any.match(m, path, p)
	}
	return 0, false
}

// matchWild tries the wildcard groups whose suffix ends h, longest first.
func (t *Table) matchWild(h []byte, m uint64, path []byte, p *Params) (int, bool) {
	// i starts at 1: a wildcard needs a non-empty label before its suffix.
	for i := 1; i < len(h); i++ {
		if h[i] != '.' {
			continue
		}
		l := len(h) - i
		if t.wildLen[l/64]&(1<<(l%64)) == 0 {
			continue
		}
		if g := t.wild[string(h[i:])]; g != nil {
			if id, ok := g.match(m, path, p); ok {
				return id, true
			}
		}
	}
	return 0, false
}

// match applies the in-group precedence: exact, template, catch-all,
// longest prefix.
func (g *group) match(m uint64, path []byte, p *Params) (int, bool) {
	if c := pick(g.exact[string(path)], m); c != nil {
		return c.id, true
	}
	if g.tmpl != nil {
		if c := g.tmpl.lookup(m, path, p); c != nil {
			return c.id, true
		}
	}
	if g.prefix != nil {
		if c := g.prefix.longest(m, path); c != nil {
			return c.id, true
		}
	}
	return 0, false
}

// Compile builds a Table from rules. It checks every rule and reports all
// problems at once, joined with errors.Join: a *RuleError for a rule that
// is invalid on its own, a *ConflictError for each rule that overlaps an
// earlier one. The rules slice is not retained.
func Compile(rules []Rule) (*Table, error) {
	b := builder{t: &Table{n: len(rules)}}
	var errs []error
	bad := make([]bool, len(rules))
	for i := range rules {
		if err := b.methods(&rules[i]); err != nil {
			errs = append(errs, err)
			bad[i] = true
		}
	}
	for i := range rules {
		if bad[i] {
			continue
		}
		if err := b.add(&rules[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.t.freeze()
	return b.t, nil
}

type builder struct {
	t *Table
}

// methods registers the rule's method names so that every rule can be
// given its mask.
func (b *builder) methods(r *Rule) error {
	for _, name := range r.Methods {
		if err := b.t.methods.add(strings.ToUpper(name)); err != nil {
			return &RuleError{ID: r.ID, Reason: err.Error()}
		}
	}
	return nil
}

// spec is a rule after checking.
type spec struct {
	id   int
	mask uint64
	host hostKey
	path string // Path or PathPrefix
	tmpl *tmpl  // nil unless Path is a template
	pre  bool   // path is a PathPrefix
}

// what names the rule's path in a conflict: worked out only for one, as
// a table of many rules is compiled at every reload.
func (s *spec) what() string {
	switch {
	case s.pre:
		return fmt.Sprintf("path prefix %q", s.path)
	case s.tmpl == nil:
		return fmt.Sprintf("path %q", s.path)
	default:
		return fmt.Sprintf("template %q", s.tmpl.shape())
	}
}

// check validates one rule on its own.
func (b *builder) check(r *Rule) (spec, error) {
	ruleErr := func(format string, args ...any) error {
		return &RuleError{ID: r.ID, Reason: fmt.Sprintf(format, args...)}
	}
	s := spec{id: r.ID}
	var err error
	if s.mask, err = b.t.methods.mask(r.Methods); err != nil {
		return s, ruleErr("%v", err)
	}
	if s.host, err = ruleHost(r.Host); err != nil {
		return s, ruleErr("host %q: %v", r.Host, err)
	}
	switch {
	case r.Path != "" && r.PathPrefix != "":
		return s, ruleErr("set only one of path and path prefix")
	case r.Path != "":
		s.path = r.Path
		if s.tmpl, err = parseTemplate(r.Path); err != nil {
			return s, ruleErr("path %q: %v", r.Path, err)
		}
	case r.PathPrefix != "":
		s.path, s.pre = r.PathPrefix, true
		if r.PathPrefix[0] != '/' {
			return s, ruleErr("path prefix %q: must begin with '/'", r.PathPrefix)
		}
	default:
		return s, ruleErr("set one of path and path prefix")
	}
	return s, nil
}

// add checks one rule and inserts it, unless it conflicts with a rule
// already there.
func (b *builder) add(r *Rule) error {
	s, err := b.check(r)
	if err != nil {
		return err
	}
	g := b.t.group(s.host)
	c := cand{mask: s.mask, id: s.id}
	var (
		slot *[]cand // where the rule goes; nil for exact paths (a map value)
		list []cand  // the rules already there
	)
	switch {
	case s.pre:
		if g.prefix == nil {
			g.prefix = &pnode{}
		}
		slot = g.prefix.insert(s.path)
	case s.tmpl == nil:
		if g.exact == nil {
			g.exact = make(map[string][]cand)
		}
		list = g.exact[s.path]
	default:
		if g.tmpl == nil {
			g.tmpl = &tnode{}
		}
		c.names = s.tmpl.names
		slot = g.tmpl.insert(s.tmpl)
	}
	if slot != nil {
		list = *slot
	}
	for _, o := range list {
		if o.mask&s.mask != 0 {
			return &ConflictError{A: o.id, B: s.id, Reason: fmt.Sprintf("both match %s, %s and %s",
				s.host.describe(), s.what(), b.t.methods.describe(o.mask&s.mask))}
		}
	}
	if slot != nil {
		*slot = append(list, c)
	} else {
		g.exact[s.path] = append(list, c)
	}
	return nil
}

// group returns the group for a rule host, creating it.
func (t *Table) group(h hostKey) *group {
	var m *map[string]*group
	switch h.kind {
	case hostAny:
		if t.any == nil {
			t.any = &group{}
		}
		return t.any
	case hostExact:
		m = &t.hosts
	default:
		m = &t.wild
		l := len(h.name)
		t.wildLen[l/64] |= 1 << (l % 64)
	}
	if *m == nil {
		*m = make(map[string]*group)
	}
	g := (*m)[h.name]
	if g == nil {
		g = &group{}
		(*m)[h.name] = g
	}
	return g
}

// freeze prepares the lookup structures once all rules are in.
func (t *Table) freeze() {
	groups := make([]*group, 0, 1+len(t.hosts)+len(t.wild))
	if t.any != nil {
		groups = append(groups, t.any)
	}
	for _, g := range t.hosts {
		groups = append(groups, g)
	}
	for _, g := range t.wild {
		groups = append(groups, g)
	}
	for _, g := range groups {
		if g.tmpl != nil {
			g.tmpl.freeze()
		}
	}
}

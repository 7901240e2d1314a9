package router

import "bytes"

// pnode is a node of a radix trie of path prefixes. The path from the
// root to a node spells that node's prefix; cands are the rules whose
// PathPrefix is exactly that prefix.
type pnode struct {
	label string   // bytes of the edge from the parent
	cands []cand   // rules ending here
	idx   []byte   // first byte of each child's label, parallel to kids
	kids  []*pnode // children, their labels' first bytes all different
}

// insert returns the candidate list of prefix s, creating nodes.
func (n *pnode) insert(s string) *[]cand {
	for s != "" {
		i := bytes.IndexByte(n.idx, s[0])
		if i < 0 {
			c := &pnode{label: s}
			n.idx = append(n.idx, s[0])
			n.kids = append(n.kids, c)
			return &c.cands
		}
		c := n.kids[i]
		l := commonPrefix(s, c.label)
		if l < len(c.label) {
			mid := &pnode{label: c.label[:l], idx: []byte{c.label[l]}, kids: []*pnode{c}}
			c.label = c.label[l:]
			n.kids[i] = mid
			c = mid
		}
		s, n = s[l:], c
	}
	return &n.cands
}

// longest returns the rule with the longest prefix of path that accepts
// method bit m, walking the trie once: O(len(path)).
func (n *pnode) longest(m uint64, path []byte) *cand {
	var best *cand
	for {
		if c := pick(n.cands, m); c != nil {
			best = c
		}
		if len(path) == 0 {
			return best
		}
		i := bytes.IndexByte(n.idx, path[0])
		if i < 0 {
			return best
		}
		n = n.kids[i]
		if len(path) < len(n.label) || string(path[:len(n.label)]) != n.label {
			return best
		}
		path = path[len(n.label):]
	}
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

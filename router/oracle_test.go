package router

import (
	"slices"
	"strings"
)

// This file is the router's documented semantics written the slow and
// obvious way: every rule is tried and scored, the best score wins. The
// fuzz test holds Table.Match to it.

// refLower lower-cases ASCII letters only, as Match does.
func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// refRequestHost normalizes a request host; ok is false when only
// any-host rules may match.
func refRequestHost(h string) (string, bool) {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i >= 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return refLower(h), h != "" && len(h) <= 255
}

// refHostRank returns how specific the rule's host match is (lower is
// more specific), or false when the rule's host does not accept host.
func refHostRank(r Rule, host string) (int, bool) {
	if r.Host == "" {
		return 1000, true
	}
	h, ok := refRequestHost(host)
	if !ok {
		return 0, false
	}
	rh := refLower(strings.TrimSuffix(r.Host, "."))
	if suffix, wild := strings.CutPrefix(rh, "*"); wild {
		return 1 + 300 - len(suffix), len(h) > len(suffix) && strings.HasSuffix(h, suffix)
	}
	return 0, h == rh
}

func refMethodOK(r Rule, method string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if strings.ToUpper(m) == method {
			return true
		}
	}
	return false
}

// refPath returns the rank of the rule's path match (kind, then the
// tie-break within the kind) and its parameters as name, value pairs.
func refPath(r Rule, path string) (rank []int, params []string, ok bool) {
	if r.PathPrefix != "" {
		return []int{3, -len(r.PathPrefix)}, nil, strings.HasPrefix(path, r.PathPrefix)
	}
	if !strings.ContainsAny(r.Path, "{}") {
		return []int{0}, nil, path == r.Path
	}
	if !strings.HasPrefix(path, "/") {
		return nil, nil, false
	}
	segs := strings.Split(r.Path[1:], "/")
	ps := strings.Split(path[1:], "/")
	last := segs[len(segs)-1]
	catchAll := strings.HasSuffix(last, "...}")
	n := len(segs)
	if catchAll {
		n--
		if len(ps) <= n {
			return nil, nil, false
		}
	} else if len(ps) != n {
		return nil, nil, false
	}
	rank = []int{1}
	if catchAll {
		rank[0] = 2
	}
	for i, s := range segs[:n] {
		if strings.HasPrefix(s, "{") {
			if ps[i] == "" {
				return nil, nil, false
			}
			rank = append(rank, 1)
			params = append(params, s[1:len(s)-1], ps[i])
			continue
		}
		if s != ps[i] {
			return nil, nil, false
		}
		rank = append(rank, 0)
	}
	if catchAll {
		rank = append(rank, 2)
		params = append(params, strings.TrimSuffix(last[1:len(last)-1], "..."), strings.Join(ps[n:], "/"))
	}
	return rank, params, true
}

// refMatch returns the rule the documented precedence picks. The rules
// must compile.
func refMatch(rules []Rule, method, host, path string) (result, bool) {
	var (
		best      result
		bestScore []int
	)
	for _, r := range rules {
		hr, ok := refHostRank(r, host)
		if !ok || !refMethodOK(r, method) {
			continue
		}
		pr, params, ok := refPath(r, path)
		if !ok {
			continue
		}
		score := append([]int{hr}, pr...)
		if bestScore == nil || slices.Compare(score, bestScore) < 0 {
			best, bestScore = hit(r.ID, params...), score
		}
	}
	return best, best.ok
}

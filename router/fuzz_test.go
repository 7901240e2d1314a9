package router

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Small alphabets so that random rules overlap, nest and conflict often.
var (
	fuzzHosts   = []string{"", "a.com", "*.a.com", "b.a.com", "*.b.a.com", "A.COM.", "[::1]"}
	fuzzMethods = [][]string{nil, {"GET"}, {"POST"}, {"GET", "POST"}, {"PURGE"}, {"get"}}
	fuzzSegs    = []string{"a", "b", "", "{p}", "{q}", "{r...}"}
	fuzzReqs    = []string{"GET", "POST", "PURGE", "HEAD", "get"}
	fuzzReqHost = []string{"", "a.com", "A.com:80", "x.a.com", "x.b.a.com.", "b.a.com", "[::1]:1", "c.com"}
)

// fuzzRules decodes rules from spec, plus one rule whose path is extra.
func fuzzRules(spec []byte, extra string) []Rule {
	next := func() int {
		if len(spec) == 0 {
			return 0
		}
		b := spec[0]
		spec = spec[1:]
		return int(b)
	}
	var rules []Rule
	for len(spec) > 0 && len(rules) < 12 {
		r := Rule{Host: fuzzHosts[next()%len(fuzzHosts)], Methods: fuzzMethods[next()%len(fuzzMethods)]}
		kind := next() % 3
		var b strings.Builder
		for i, n := 0, 1+next()%3; i < n; i++ {
			s := fuzzSegs[next()%len(fuzzSegs)]
			if strings.HasPrefix(s, "{") && s != "{r...}" {
				s = fmt.Sprintf("{%c%d}", s[1], i) // unique names per template
			}
			b.WriteString("/" + s)
		}
		if kind == 1 {
			r.PathPrefix = b.String()
		} else {
			r.Path = b.String()
		}
		rules = append(rules, r)
	}
	if extra != "" {
		rules = append(rules, Rule{Path: extra}, Rule{PathPrefix: extra})
	}
	return rules
}

// keepCompilable returns the rules that compile together, in order, with
// IDs set to their index; it checks the errors on the way.
func keepCompilable(t *testing.T, rules []Rule) []Rule {
	var kept []Rule
	for _, r := range rules {
		r.ID = len(kept)
		_, err := Compile(append(kept, r))
		for _, e := range errorsOf(err) {
			var ce *ConflictError
			var re *RuleError
			if !errors.As(e, &ce) && !errors.As(e, &re) {
				t.Fatalf("Compile returned %T: %v", e, e)
			}
		}
		if err == nil {
			kept = append(kept, r)
		}
	}
	return kept
}

// samplePath turns a rule's path into a request path it accepts.
func samplePath(r Rule) string {
	if r.PathPrefix != "" {
		return r.PathPrefix + "z/y"
	}
	segs := strings.Split(r.Path, "/")
	for i, s := range segs {
		switch {
		case strings.HasSuffix(s, "...}"):
			segs[i] = "v/w"
		case strings.HasPrefix(s, "{"):
			segs[i] = "v"
		}
	}
	return strings.Join(segs, "/")
}

func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3}, "a.com", "/a", "")
	f.Add([]byte{2, 1, 0, 1, 3, 0, 2, 2, 0, 1, 0, 5}, "x.a.com:8080", "/a/b", "/{x}")
	f.Add([]byte{1, 3, 1, 2, 0, 1, 6, 4, 2, 2, 3, 5, 4}, "[::1]", "/b/a/", "/a/{r...}")
	f.Fuzz(func(t *testing.T, spec []byte, host, path, extra string) {
		rules := keepCompilable(t, fuzzRules(spec, extra))
		tab := mustCompile(t, rules)
		paths := []string{path}
		for _, r := range rules {
			paths = append(paths, samplePath(r))
		}
		hosts := append([]string{host}, fuzzReqHost...)
		for _, path := range paths {
			for _, host := range hosts {
				for _, method := range fuzzReqs {
					checkAgainstRef(t, tab, rules, request{method, host, path})
				}
			}
		}
	})
}

// checkAgainstRef compares Match with the reference matcher, and checks
// that a matched rule really accepts the request.
func checkAgainstRef(t *testing.T, tab *Table, rules []Rule, give request) {
	t.Helper()
	var p Params
	id, ok := tab.Match([]byte(give.method), []byte(give.host), []byte(give.path), &p)
	if ok {
		r := rules[id]
		_, hostOK := refHostRank(r, give.host)
		_, _, pathOK := refPath(r, give.path)
		if !hostOK || !pathOK || !refMethodOK(r, give.method) {
			t.Fatalf("Match(%q) = rule %d %+v, which does not accept the request", give, id, r)
		}
	}
	want, _ := refMatch(rules, give.method, give.host, give.path)
	got := result{id: id, ok: ok}
	for i := 0; i < p.Len(); i++ {
		name, value := p.At(i)
		got.params = append(got.params, name, string(value))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Match(%q) = %v, reference says %v\nrules: %+v", give, got, want, rules)
	}
}

// TestMatchAgainstReference runs the fuzz check on pseudo-random inputs,
// so that plain `go test` covers many rule mixes too.
func TestMatchAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var hits, checks int
	for range 300 {
		spec := make([]byte, 4*(1+rng.IntN(12)))
		for i := range spec {
			spec[i] = byte(rng.IntN(256))
		}
		rules := keepCompilable(t, fuzzRules(spec, ""))
		tab := mustCompile(t, rules)
		for _, r := range rules {
			for _, host := range fuzzReqHost {
				for _, method := range fuzzReqs {
					give := request{method, host, samplePath(r)}
					checkAgainstRef(t, tab, rules, give)
					if _, ok := tab.Match([]byte(method), []byte(host), []byte(give.path), nil); ok {
						hits++
					}
					checks++
				}
			}
		}
	}
	if hits < checks/10 {
		t.Fatalf("only %d of %d requests matched: the generator is too sparse", hits, checks)
	}
	t.Logf("%d of %d requests matched", hits, checks)
}

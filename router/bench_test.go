package router

import (
	"fmt"
	"testing"
)

// benchRules returns n rules of a realistic mix: 40% exact paths, 30%
// templates (one in three a catch-all), 20% prefixes, 10% host-specific
// (exact and wildcard hosts); some with methods. It also returns one
// request that each rule accepts.
func benchRules(n int) ([]Rule, []request) {
	rules := make([]Rule, 0, n)
	reqs := make([]request, 0, n)
	methods := [][]string{nil, {"GET"}, {"GET", "POST"}}
	for i := range n {
		r := Rule{ID: i, Methods: methods[i%3]}
		q := request{method: "GET", host: "api.example.com"}
		switch i % 10 {
		case 0, 1, 2, 3:
			r.Path = fmt.Sprintf("/api/v%d/svc%d/items", i%3, i)
			q.path = r.Path
		case 4:
			r.Path = fmt.Sprintf("/api/v1/res%d/{id}", i)
			q.path = fmt.Sprintf("/api/v1/res%d/12345", i)
		case 5:
			r.Path = fmt.Sprintf("/api/v2/users/{user}/res%d/{id}", i)
			q.path = fmt.Sprintf("/api/v2/users/alice/res%d/42", i)
		case 6:
			r.Path = fmt.Sprintf("/files%d/{bucket}/{key...}", i)
			q.path = fmt.Sprintf("/files%d/b1/a/b/c.txt", i)
		case 7, 8:
			r.PathPrefix = fmt.Sprintf("/static/app%d/", i)
			q.path = fmt.Sprintf("/static/app%d/js/main.js", i)
		case 9:
			if i%20 == 9 {
				r.Host = fmt.Sprintf("h%d.example.com", i)
				r.PathPrefix = "/"
				q.host = fmt.Sprintf("H%d.example.com:8443", i)
			} else {
				r.Host = fmt.Sprintf("*.t%d.example.com", i)
				r.Path = "/v1/{op}"
				q.host = fmt.Sprintf("x.t%d.example.com", i)
			}
			q.path = "/v1/status"
		}
		rules = append(rules, r)
		reqs = append(reqs, q)
	}
	return rules, reqs
}

func BenchmarkRouter(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			rules, all := benchRules(n)
			tab, err := Compile(rules)
			if err != nil {
				b.Fatal(err)
			}
			// 256 requests spread evenly over the table, one in 16 a miss.
			type breq struct{ method, host, path []byte }
			reqs := make([]breq, 256)
			for j := range reqs {
				q := all[j*n/len(reqs)]
				if j%16 == 15 {
					q = request{"GET", "unknown.org", "/api/v1/nothing/here"}
				}
				reqs[j] = breq{[]byte(q.method), []byte(q.host), []byte(q.path)}
			}
			var p Params
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				q := &reqs[i%len(reqs)]
				tab.Match(q.method, q.host, q.path, &p)
			}
		})
	}
}

func TestBenchRulesMatch(t *testing.T) {
	rules, reqs := benchRules(1000)
	tab := mustCompile(t, rules)
	for i, q := range reqs {
		if id, ok := tab.Match([]byte(q.method), []byte(q.host), []byte(q.path), nil); !ok || id != i {
			t.Fatalf("request %v matched %d, %v; want %d", q, id, ok, i)
		}
	}
}

package cache

import (
	"bytes"
	"testing"
)

func TestAppendKey(t *testing.T) {
	type parts struct {
		method, host, path, query string
		vary                      []string
	}
	key := func(p parts) []byte {
		var vary [][]byte
		for _, v := range p.vary {
			vary = append(vary, []byte(v))
		}
		return AppendKey(nil, []byte(p.method), []byte(p.host), []byte(p.path), []byte(p.query), vary...)
	}
	tests := []struct {
		desc string
		give [2]parts
		want bool // same key
	}{
		{desc: "same request", give: [2]parts{{"GET", "a.example", "/x", "q=1", nil}, {"GET", "a.example", "/x", "q=1", nil}}, want: true},
		{desc: "host case ignored", give: [2]parts{{"GET", "A.Example", "/x", "", nil}, {"GET", "a.example", "/x", "", nil}}, want: true},
		{desc: "path case kept", give: [2]parts{{"GET", "a", "/X", "", nil}, {"GET", "a", "/x", "", nil}}, want: false},
		{desc: "method", give: [2]parts{{"GET", "a", "/x", "", nil}, {"HEAD", "a", "/x", "", nil}}, want: false},
		{desc: "bytes moved from path to query", give: [2]parts{{"GET", "a", "/xq", "", nil}, {"GET", "a", "/x", "q", nil}}, want: false},
		{desc: "bytes moved from host to path", give: [2]parts{{"GET", "ab", "/x", "", nil}, {"GET", "a", "b/x", "", nil}}, want: false},
		{desc: "empty query and no query", give: [2]parts{{"GET", "a", "/x", "", nil}, {"GET", "a", "/x", "", []string{""}}}, want: false},
		{desc: "vary values differ", give: [2]parts{{"GET", "a", "/x", "", []string{"gzip"}}, {"GET", "a", "/x", "", []string{"br"}}}, want: false},
		{desc: "vary values split differently", give: [2]parts{{"GET", "a", "/x", "", []string{"ab", ""}}, {"GET", "a", "/x", "", []string{"a", "b"}}}, want: false},
		{desc: "query into vary", give: [2]parts{{"GET", "a", "/x", "q", nil}, {"GET", "a", "/x", "", []string{"q"}}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := bytes.Equal(key(tt.give[0]), key(tt.give[1])); got != tt.want {
				t.Errorf("same key = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAppendKeyAppends(t *testing.T) {
	dst := []byte("prefix")
	got := AppendKey(dst, []byte("GET"), []byte("h"), []byte("/"), nil)
	if !bytes.HasPrefix(got, []byte("prefix")) || len(got) != len("prefix")+4+len("GETh/") {
		t.Errorf("AppendKey = %q", got)
	}
}

package gateway

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestRewriteURI(t *testing.T) {
	tests := []struct {
		desc   string
		give   string // request target as the client sent it
		prefix string
		want   string // request target sent upstream
	}{
		{desc: "plain path kept byte for byte", give: "/users/7?b=2&a=1", want: "/users/7?b=2&a=1"},
		{desc: "prefix stripped, query kept", give: "/api/users?id=7", prefix: "/api", want: "/users?id=7"},
		{desc: "prefix that is the whole path", give: "/api", prefix: "/api", want: "/"},
		{desc: "prefix without its slash", give: "/apix", prefix: "/api", want: "/x"},
		{desc: "dot segments sent in normal form", give: "/api/a/../b", prefix: "/api", want: "/b"},
		{desc: "doubled slashes sent in normal form", give: "//api//x", want: "/api/x"},
		{desc: "absolute form becomes origin form", give: "http://other.example/api/z?q=1", prefix: "/api", want: "/z?q=1"},
		{desc: "encoded space stays encoded", give: "/a%20b", want: "/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var req fasthttp.Request
			raw := "GET " + tt.give + " HTTP/1.1\r\nHost: h\r\n\r\n"
			if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
			path := append([]byte(nil), req.URI().Path()...)
			var scratch [scratchSize]byte
			rewriteURI(&req, path, []byte(tt.prefix), scratch[:0])
			req.UseHostHeader = true
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			if err := req.Write(w); err != nil {
				t.Fatal(err)
			}
			_ = w.Flush()
			line, _, _ := strings.Cut(out.String(), "\r\n")
			if want := "GET " + tt.want + " HTTP/1.1"; line != want {
				t.Errorf("request line %q, want %q", line, want)
			}
		})
	}
}

package auth

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func request(t testing.TB, head string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	raw := strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n") + "\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	return req
}

const everywhere = `
GET /orders?access_token=from-query&x=1 HTTP/1.1
Host: api.example.com
Authorization: Bearer  from-bearer 
X-Api-Key: from-header
Cookie: theme=dark; session=from-cookie
`

func TestExtract(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give Extractor
		head string
		want string
	}{
		{desc: "bearer (the zero value)", head: everywhere, want: "from-bearer"},
		{desc: "header", give: Extractor{Source: FromHeader, Name: "X-Api-Key"}, head: everywhere, want: "from-header"},
		{desc: "query", give: Extractor{Source: FromQuery, Name: "access_token"}, head: everywhere, want: "from-query"},
		{desc: "cookie", give: Extractor{Source: FromCookie, Name: "session"}, head: everywhere, want: "from-cookie"},
		{desc: "bearer scheme in lower case", head: "GET / HTTP/1.1\nHost: a\nAuthorization: bearer tok\n", want: "tok"},
		{desc: "basic is not bearer", head: "GET / HTTP/1.1\nHost: a\nAuthorization: Basic dTpw\n"},
		{desc: "bearer without token", head: "GET / HTTP/1.1\nHost: a\nAuthorization: Bearer \n"},
		{desc: "bearer glued", head: "GET / HTTP/1.1\nHost: a\nAuthorization: Bearertok\n"},
		{desc: "absent header", give: Extractor{Source: FromHeader, Name: "X-Key"}, head: everywhere},
		{desc: "absent query", give: Extractor{Source: FromQuery, Name: "token"}, head: everywhere},
		{desc: "absent cookie", give: Extractor{Source: FromCookie, Name: "sid"}, head: everywhere},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			got := tt.give.Extract(request(t, tt.head))
			if string(got) != tt.want || (tt.want == "" && got != nil) {
				t.Fatalf("Extract = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtractorValidate(t *testing.T) {
	if err := (Extractor{}).Validate(); err != nil {
		t.Fatalf("bearer: %v", err)
	}
	if err := (Extractor{Source: FromCookie}).Validate(); err == nil {
		t.Fatal("a cookie without a name validated")
	}
	if err := (Extractor{Source: 9, Name: "x"}).Validate(); err == nil {
		t.Fatal("an unknown source validated")
	}
}

func TestSchemeValue(t *testing.T) {
	for _, tt := range []struct{ give, scheme, want string }{
		{"Basic abc", "basic", "abc"},
		{"BASIC abc", "basic", "abc"},
		{"Basicabc", "basic", ""},
		{"Bearer abc", "basic", ""},
		{"Basic", "basic", ""},
	} {
		if got := string(SchemeValue([]byte(tt.give), tt.scheme)); got != tt.want {
			t.Errorf("SchemeValue(%q, %q) = %q, want %q", tt.give, tt.scheme, got, tt.want)
		}
	}
}

func TestReasonNames(t *testing.T) {
	want := []string{"allowed", "missing", "invalid", "expired", "forbidden", "error", "unknown"}
	for i, w := range want {
		if got := Reason(i).String(); got != w {
			t.Errorf("Reason(%d) = %q, want %q", i, got, w)
		}
	}
}

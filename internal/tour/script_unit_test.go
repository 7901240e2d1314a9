package tour

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		desc string
		give string
		want []string
	}{
		{desc: "quotes", give: `curl -H 'X-A: b c' -d "{\"a\": 1}" x`, want: []string{"curl", "-H", "X-A: b c", "-d", `{"a": 1}`, "x"}},
		{desc: "pipes and background", give: `head -c 5 /dev/zero | curl x|wc -c &`, want: []string{"head", "-c", "5", "/dev/zero", "|", "curl", "x", "|", "wc", "-c", "&"}},
		{desc: "a quoted pipe is a character", give: `grep 'a|b'`, want: []string{"grep", "a|b"}},
		{desc: "a comment", give: `bin/x -a b   # says 'what # it is`, want: []string{"bin/x", "-a", "b"}},
		{desc: "a # inside a word or quotes", give: `curl a#b '#c' "#d"`, want: []string{"curl", "a#b", "#c", "#d"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := splitWords(tt.give)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("splitWords(%q) = %q, %v; want %q", tt.give, got, err, tt.want)
			}
		})
	}
	if _, err := splitWords(`curl 'x`); err == nil {
		t.Error("an unclosed quote went unnoticed")
	}
}

func TestLineMatches(t *testing.T) {
	tests := []struct {
		desc         string
		expect, line string
		want         bool
	}{
		{desc: "same text", expect: "HTTP/1.1 200 OK", line: "HTTP/1.1 200 OK", want: true},
		{desc: "other text", expect: "HTTP/1.1 200 OK", line: "HTTP/1.1 404 Not Found"},
		{desc: "indent and trailing comma", expect: `    "a": "b",`, line: `  "a": "b"`, want: true},
		{desc: "ellipsis", expect: `{"id":"…-0"}`, line: `{"id":"1796-0","x":1}`, want: true},
		{desc: "ellipsis does not match other text", expect: `{"id":"…-0"}`, line: `{"id":"1796-1"}`},
		{desc: "any number", expect: `{"sequence":1,"duplicate":false}`, line: `{"sequence":17,"duplicate":false}`, want: true},
		{desc: "booleans exact", expect: `{"duplicate":false}`, line: `{"duplicate":true}`},
		{desc: "missing field", expect: `{"broker":"amqp","stream":"S"}`, line: `{"broker":"amqp"}`},
		{desc: "arrays in order", expect: `{"tags":["a","b"]}`, line: `{"tags":["b","a"]}`},
		{desc: "JSON against text", expect: `{"a":1}`, line: `a: 1`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := lineMatches(tt.expect, tt.line); got != tt.want {
				t.Errorf("lineMatches(%q, %q) = %v, want %v", tt.expect, tt.line, got, tt.want)
			}
		})
	}
}

func TestTourCommands(t *testing.T) {
	text := strings.Join([]string{
		"# x", "", "## Tour", "", "text", "```sh", "# a description",
		"curl -i a \\", "  -d b", "# HTTP/1.1 200 OK", "# body", "",
		"# the next one", "curl c", "```", "", "```yaml", "curl d", "```",
		"## Other", "```sh", "curl e", "```", "",
	}, "\n")
	got := tourCommands(t, "F.md", text, "Tour")
	if len(got) != 2 {
		t.Fatalf("%d commands, want 2: %+v", len(got), got)
	}
	if got[0].line != "curl -i a   -d b" || !slices.Equal(got[0].expect, []string{"HTTP/1.1 200 OK", "body"}) || got[0].pos != "F.md:8" {
		t.Errorf("first command %+v", got[0])
	}
	if got[1].line != "curl c" || len(got[1].expect) != 0 {
		t.Errorf("second command %+v", got[1])
	}
	// Without a title the whole file is the tour.
	got = tourCommands(t, "F.md", text, "")
	if len(got) != 3 || got[0].pos != "F.md:8" || got[2].line != "curl e" || got[2].pos != "F.md:22" {
		t.Errorf("whole file: %+v", got)
	}
}

func TestFilters(t *testing.T) {
	const headers = "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Bearer\nDate: x\n"
	const body = `{"headers": {"X-User-Id": "alice", "X-Tenant": "acme"}, "instance": "a"}`
	for _, tt := range []struct {
		desc  string
		stage []string
		in    string
		want  string
	}{
		{desc: "grep", stage: []string{"grep", "-i", "x-request-id"}, in: "X-Request-Id: 1\nB: 2\n", want: "X-Request-Id: 1\n"},
		{desc: "grep -e -e", stage: []string{"grep", "-i", "-e", "^HTTP", "-e", "www-authenticate"}, in: headers, want: "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Bearer\n"},
		{desc: "jq .", stage: []string{"jq", "."}, in: `{"a": 1}`, want: "{\n  \"a\": 1\n}\n"},
		{desc: "jq .field", stage: []string{"jq", ".instance"}, in: body, want: "\"a\"\n"},
		{desc: "jq keys and a list", stage: []string{"jq", `.headers["X-User-Id"], .headers["X-Tenant"], .headers["X-Consumer"]`}, in: body, want: "\"alice\"\n\"acme\"\nnull\n"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := filter(tt.stage, []byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Errorf("filter(%q) = %q, %v; want %q", tt.stage, got, err, tt.want)
			}
		})
	}
	if _, err := filter([]string{"jq", ".a | .b"}, []byte(`{}`)); err == nil {
		t.Error("jq with a pipe: no error")
	}
}

package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestLargeFileProblems loads a file of routes enough to be decoded,
// defaulted and checked in parts, with problems spread over it: every one
// is reported, once, at its place, in order.
func TestLargeFileProblems(t *testing.T) {
	t.Parallel()
	var b, want strings.Builder
	b.WriteString("routes:\n")
	line := 2
	for i := range 1200 {
		fmt.Fprintf(&b, "  - name: r%d\n    match: { path: /p/%d }\n", i, i)
		line += 2
		switch i % 100 {
		case 3: // a decode error
			fmt.Fprintf(&b, "    colour: red\n")
			fmt.Fprintf(&want, "big.yaml:%d:5: routes[%d]: unknown field \"colour\"\n", line, i)
			line++
		case 7: // a check of the route on its own
			fmt.Fprintf(&b, "    response_headers: { set: { \"Bad Name\": x } }\n")
			fmt.Fprintf(&want, "big.yaml:%d:44: routes[%d].response_headers.set[\"Bad Name\"]: \"Bad Name\": not a valid header name\n", line, i)
			line++
		}
		fmt.Fprintf(&b, "    respond: { body: r%d }\n", i)
		line++
	}
	_, err := Parse([]byte(b.String()), "big.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	if got := err.Error() + "\n"; got != want.String() {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want.String())
	}
}

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		give    string
		want    ByteSize
		wantErr bool
	}{
		{desc: "plain bytes", give: "512", want: 512},
		{desc: "zero", give: "0", want: 0},
		{desc: "bytes unit", give: "100B", want: 100},
		{desc: "kilobytes are 1000", give: "64KB", want: 64_000},
		{desc: "kibibytes are 1024", give: "64KiB", want: 64 << 10},
		{desc: "megabytes", give: "10MB", want: 10_000_000},
		{desc: "mebibytes", give: "10MiB", want: 10 << 20},
		{desc: "gigabytes", give: "2GB", want: 2_000_000_000},
		{desc: "gibibytes", give: "1GiB", want: 1 << 30},
		{desc: "unit ignores case", give: "8kib", want: 8 << 10},
		{desc: "space before unit", give: "8 KiB", want: 8 << 10},
		{desc: "surrounding space", give: " 8KiB ", want: 8 << 10},
		{desc: "largest that fits", give: "8589934591GiB", want: 8589934591 << 30},
		{desc: "overflow", give: "8589934592GiB", wantErr: true},
		{desc: "overflow of the number", give: "99999999999999999999", wantErr: true},
		{desc: "negative", give: "-1", wantErr: true},
		{desc: "fraction", give: "1.5MiB", wantErr: true},
		{desc: "unknown unit", give: "10XB", wantErr: true},
		{desc: "terabytes not supported", give: "1TB", wantErr: true},
		{desc: "unit without number", give: "MiB", wantErr: true},
		{desc: "empty", give: "", wantErr: true},
		{desc: "two units", give: "1KiB 2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := parseByteSize(tt.give)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseByteSize(%q) = %d, want an error", tt.give, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseByteSize(%q) = %d, %v; want %d", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		give ByteSize
		want string
	}{
		{desc: "zero", give: 0, want: "0"},
		{desc: "odd bytes", give: 1500, want: "1500B"},
		{desc: "kibibytes", give: 8 << 10, want: "8KiB"},
		{desc: "kilobytes", give: 3000, want: "3KB"},
		{desc: "mebibytes", give: 10 << 20, want: "10MiB"},
		{desc: "binary wins when both divide", give: 1 << 30, want: "1GiB"},
		{desc: "largest unit that divides", give: 2_000_000_000, want: "2GB"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := formatSize(tt.give)
			if got != tt.want {
				t.Fatalf("formatSize(%d) = %q, want %q", tt.give, got, tt.want)
			}
			if tt.give == 0 {
				return
			}
			if back, err := parseByteSize(got); err != nil || back != tt.give {
				t.Fatalf("parseByteSize(%q) = %d, %v; want %d", got, back, err, tt.give)
			}
		})
	}
}

// TestEnvValues checks the values the environment put in, which the golden
// file of the same config only shows redacted.
func TestEnvValues(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "env.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	a := parseArchive(data)
	input, _ := a.get("config.yaml")
	envData, _ := a.get("env")
	c, err := parse(input, "config.yaml", envLookup(t, envData))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	u := r.Upstream
	checks := []struct {
		desc string
		got  any
		want any
	}{
		{"default used", c.Listen, ":8081"},
		{"size from env", r.MaxBodySize, ByteSize(2 << 20)},
		{"default for empty var", r.RequestHeaders.Set["X-Env"], "fallback"},
		{"escape", r.RequestHeaders.Set["X-Literal"], "cost: ${PRICE} and $$"},
		{"empty default", r.RequestHeaders.Set["X-Plain"], ""},
		{"scalar target", u.Targets[0], Target{URL: "http://10.0.0.5:8080", Weight: 1}},
		{"weight default", u.Targets[1].Weight, 2},
		{"int", u.MaxConns, 128},
		{"duration", u.Timeout, 1500 * time.Millisecond},
		{"bool", u.RetryNonIdempotent, true},
		{"*int", *u.Retries, 3},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %#v, want %#v", ch.desc, ch.got, ch.want)
		}
	}
	for _, secret := range []string{"listen", "routes[0].upstream.targets[0].url", "routes[0].upstream.max_conns"} {
		if !c.secrets[secret] {
			t.Errorf("%s not recorded as coming from the environment", secret)
		}
	}
	if c.secrets["routes[0].request_headers.set.X-Literal"] {
		t.Error(`an escaped "$${" counted as an environment reference`)
	}
}

// TestParseReadsEnvironment checks that Parse uses the process environment.
func TestParseReadsEnvironment(t *testing.T) {
	t.Setenv("FASTGATE_TEST_TARGET", "http://127.0.0.1:7000")
	c, err := Parse([]byte(`
routes:
  - name: a
    match: { path: /a }
    upstream: { targets: ["${FASTGATE_TEST_TARGET}"] }
`), "env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Routes[0].Upstream.Targets[0].URL; got != "http://127.0.0.1:7000" {
		t.Fatalf("target = %q", got)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	const text = `listen: ":9000"
routes:
  - name: hello
    match: { path: /hello }
    respond: { body: hi }
  - name: api
    match: { path_prefix: /api/ }
    upstream:
      targets: [http://127.0.0.1:9001]
      timeout: 2s
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.File() != path {
		t.Errorf("File() = %q, want %q", c.File(), path)
	}
	positions := []struct {
		desc      string
		give      string
		line, col int
		ok        bool
	}{
		{desc: "top-level field", give: "listen", line: 1, col: 9, ok: true},
		{desc: "route", give: "routes[1]", line: 6, col: 5, ok: true},
		{desc: "nested field", give: "routes[1].upstream.timeout", line: 10, col: 16, ok: true},
		{desc: "target in short form", give: "routes[1].upstream.targets[0].url", line: 9, col: 17, ok: true},
		{desc: "defaulted field", give: "routes[1].upstream.max_conns"},
		{desc: "no such field", give: "routes[7]"},
	}
	for _, tt := range positions {
		line, col, ok := c.Position(tt.give)
		if line != tt.line || col != tt.col || ok != tt.ok {
			t.Errorf("%s: Position(%q) = %d, %d, %v; want %d, %d, %v",
				tt.desc, tt.give, line, col, ok, tt.line, tt.col, tt.ok)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error = %v, want one that is fs.ErrNotExist", err)
	}
}

// TestErrorsAs checks what callers rely on to count and print problems.
func TestErrorsAs(t *testing.T) {
	t.Parallel()
	_, err := parse([]byte("routes:\n  - name: a\n    match: { paht: /a }\n    respond: {status: 1}\n"), "bad.yaml", noEnv)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not an Errors", err)
	}
	if len(errs) != 3 {
		t.Fatalf("got %d problems, want 3:\n%v", len(errs), err)
	}
	want := FieldError{File: "bad.yaml", Line: 3, Col: 14, Field: "routes[0].match", Msg: `unknown field "paht" (did you mean "path"?)`}
	if *errs[1] != want {
		t.Errorf("second problem = %+v, want %+v", *errs[1], want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe != errs[0] {
		t.Errorf("errors.As(*FieldError) = %v, want the first problem", fe)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("Error() has %d lines, want 3", len(lines))
	}
}

// TestSyntaxErrorLine checks that a YAML syntax error names the line where
// the file stops making sense, not the line the YAML parser reports (often
// the line before the enclosing block).
func TestSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		give string
		want string
	}{
		{"bad indent", "routes:\n  - name: a\n    match: { path: /a }\n     respond: {}\n", "x.yaml:4: invalid YAML: did not find expected key"},
		{"unclosed flow", "a: 1\nb: 2\nc: [1, 2\nd: 4\n", "x.yaml:3: invalid YAML: did not find expected ',' or ']'"},
		{"tab", "a: 1\nb: 2\n\tc: 3\n", "x.yaml:3: invalid YAML: found a tab character that violates indentation"},
		{"unclosed quote", "a: 1\nb: \"abc\nc: 3\n", "x.yaml:2: invalid YAML: found unexpected end of stream"},
		{"list in mapping", "a: 1\nb: 2\nc: 3\n- d\n", "x.yaml:4: invalid YAML: did not find expected key"},
		{"unknown anchor", "a: 1\nb: *nope\n", "x.yaml:2: invalid YAML: unknown anchor 'nope' referenced"},
		{"after a closed flow", "a: [1,\n  2]\nb: 2\n c: 3\n", "x.yaml:4: invalid YAML: mapping values are not allowed in this context"},
	}
	for _, tt := range tests {
		_, err := parse([]byte(tt.give), "x.yaml", noEnv)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %s", tt.desc, err, tt.want)
		}
	}
}

// TestRedactedRoundTrip reads the effective config back: it must give the
// same config again.
func TestRedactedRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"full", "minimal", "anchors"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".txtar"))
		if err != nil {
			t.Fatal(err)
		}
		input, _ := parseArchive(data).get("config.yaml")
		c, err := parse(input, "in.yaml", func(string) (string, bool) { return "x", true })
		if err != nil {
			t.Fatal(err)
		}
		c.secrets = nil // compare the values themselves
		first, _ := c.Redacted()
		c2, err := parse(first, "out.yaml", noEnv)
		if err != nil {
			t.Fatalf("%s: effective config does not parse: %v\n%s", name, err, first)
		}
		second, _ := c2.Redacted()
		if string(first) != string(second) {
			t.Errorf("%s: round trip changed the config\n--- first:\n%s--- second:\n%s", name, first, second)
		}
	}
}

// TestAliasExpansionBounded checks that a small document whose aliases
// expand into millions of nodes is refused quickly.
func TestAliasExpansionBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-h: &h {")
	for i := range 2000 {
		fmt.Fprintf(&b, "h%d: v, ", i)
	}
	b.WriteString("}\nx-r: &r { name: r, match: { path: /r }, respond: { headers: *h } }\n")
	b.WriteString("routes: [" + strings.Repeat("*r, ", 2000) + "]\n")
	// The bound is the decoder's node budget, seen in its error; no wall
	// clock, which a loaded machine stretches.
	_, err := parse([]byte(b.String()), "bomb.yaml", noEnv)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "too many nested aliases") {
		t.Errorf("got %v, want one too-complex error", err)
	}
}

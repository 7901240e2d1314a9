package tour

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A command of a tour: one shell line (continuations joined) and
// the `# ` lines right below it, which say what it prints.
type command struct {
	line   string
	expect []string
	pos    string // file:line of the command, as README.md:42
}

// tourCommands returns the commands of the sh blocks of the section titled
// title (a "## " heading) of text, the file named file; with no title, of
// the whole file (a page of docs/ that is one tour).
func tourCommands(t *testing.T, file, text, title string) []command {
	t.Helper()
	section, start := text, 1
	if title != "" {
		_, rest, ok := strings.Cut(text, "\n## "+title+"\n")
		if !ok {
			t.Fatalf("%s has no section %q", file, title)
		}
		start = strings.Count(text[:len(text)-len(rest)], "\n") + 1
		section, _, _ = strings.Cut(rest, "\n## ")
	}
	var cmds []command
	inBlock := false
	last := -1 // index of the command the next # line belongs to
	lines := strings.Split(section, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock && strings.TrimPrefix(line, "```") == "sh"
			last = -1
		case !inBlock:
		case strings.TrimSpace(line) == "":
			last = -1
		case strings.HasPrefix(line, "#"):
			if last >= 0 {
				cmds[last].expect = append(cmds[last].expect, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
			}
		default:
			c := command{pos: file + ":" + strconv.Itoa(start+i)}
			for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
				c.line += strings.TrimSuffix(line, "\\")
				i++
				line = lines[i]
			}
			c.line += line
			cmds = append(cmds, c)
			last = len(cmds) - 1
		}
	}
	return cmds
}

// splitWords splits a shell line into words and pipeline stages: single
// and double quotes and backslash escapes as sh reads them; a "|" or "&"
// outside quotes is a word of its own; a "#" that starts a word starts a
// comment, to the end of the line.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '|' || c == '&':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			words = append(words, string(c))
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unclosed '")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New(`unclosed "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// stages splits words at "|".
func stages(words []string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		if w == "|" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, w)
	}
	return append(out, cur)
}

// filter applies one pipeline stage after curl (grep, wc -c, jq) to out.
func filter(stage []string, out []byte) ([]byte, error) {
	switch {
	case len(stage) >= 2 && stage[0] == "grep":
		var pats []string
		fold := false
		for i := 1; i < len(stage); i++ {
			switch a := stage[i]; {
			case a == "-i":
				fold = true
			case a == "-e" && i+1 < len(stage):
				i++
				pats = append(pats, stage[i])
			case !strings.HasPrefix(a, "-") && i == len(stage)-1 && pats == nil:
				pats = append(pats, a)
			default:
				return nil, fmt.Errorf("grep: only -i, -e PATTERN and one PATTERN are known: %q", stage)
			}
		}
		if len(pats) == 0 {
			return nil, fmt.Errorf("grep without a pattern: %q", stage)
		}
		pat := "(?:" + strings.Join(pats, ")|(?:") + ")"
		if fold {
			pat = "(?i)" + pat
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		for _, l := range strings.Split(string(out), "\n") {
			if re.MatchString(l) {
				b.WriteString(l + "\n")
			}
		}
		return b.Bytes(), nil
	case len(stage) == 2 && stage[0] == "wc" && stage[1] == "-c":
		return []byte(strconv.Itoa(len(out)) + "\n"), nil
	case len(stage) == 2 && stage[0] == "jq" && strings.HasPrefix(stage[1], "."):
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("jq: %w", err)
		}
		var b bytes.Buffer
		for _, path := range strings.Split(stage[1], ", ") {
			got, err := jqPath(v, path)
			if err != nil {
				return nil, err
			}
			j, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				return nil, err
			}
			b.Write(append(j, '\n'))
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("a pipeline stage the tour test does not know: %q", stage)
}

// jqPathRE is one step of a jq path: .field or ["key"].
var jqPathRE = regexp.MustCompile(`^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\["([^"]*)"\])`)

// jqPath follows path (".", ".a.b", `.headers["X-Id"]`) into v, as jq
// does; a field of a missing object is null.
func jqPath(v any, path string) (any, error) {
	if path == "." {
		return v, nil
	}
	for rest := path; rest != ""; {
		m := jqPathRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("jq: only ., .field and [\"key\"] paths are known: %q", path)
		}
		rest = rest[len(m[0]):]
		key := m[1] + m[2]
		if v == nil {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("jq: %q: not an object at %q", path, key)
		}
		v = obj[key]
	}
	return v, nil
}

// matchOutput checks that every expected line matches a line of out.
// A line that is a JSON value matches a JSON line holding at least its
// fields, with any number where it has a number; otherwise lines match
// after trimming spaces and a trailing comma. In both, "…" in an
// expected string stands for any text.
func matchOutput(expect []string, out string) []string {
	lines := strings.Split(out, "\n")
	var missing []string
	for _, e := range expect {
		found := false
		for _, l := range lines {
			if lineMatches(e, l) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, e)
		}
	}
	return missing
}

func lineMatches(expect, line string) bool {
	e := strings.TrimSuffix(strings.TrimSpace(expect), ",")
	l := strings.TrimSuffix(strings.TrimSpace(line), ",")
	if strings.HasPrefix(e, "{") || strings.HasPrefix(e, "[") {
		var ev, lv any
		if json.Unmarshal([]byte(e), &ev) == nil {
			return json.Unmarshal([]byte(l), &lv) == nil && jsonMatches(ev, lv)
		}
	}
	return globMatch(e, l)
}

// jsonMatches reports whether got holds want: every field of an object,
// every element of an array in order, any number for a number, strings
// by globMatch.
func jsonMatches(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !jsonMatches(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonMatches(w[i], g[i]) {
				return false
			}
		}
		return true
	case float64:
		_, ok := got.(float64)
		return ok
	case string:
		g, ok := got.(string)
		return ok && globMatch(w, g)
	default:
		return want == got
	}
}

// globMatch matches s against pattern, where "…" stands for any text.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// readDoc returns the text of file, a path from the repository's root
// (README.md, docs/grpc.md).
func readDoc(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

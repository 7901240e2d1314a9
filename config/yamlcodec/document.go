package yamlcodec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Words are the messages ReadDocument gives for a file that holds no
// usable document, in the terms of the schema ("a config needs at least a
// routes list").
type Words struct {
	// Empty is the problem with a file without a document, or whose
	// document is null.
	Empty string
	// SecondDocument is the problem with a file of more than one document.
	SecondDocument string
	// NotMapping is the problem with a top level that is not a mapping;
	// a description of what it is follows ("a list").
	NotMapping string
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ReadDocument reads the single document of data and returns its
// top-level mapping. file names data in the problem it returns.
func ReadDocument(data []byte, file string, words Words) (root *yaml.Node, ferr *FieldError) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not take the gateway down
			root, ferr = nil, &FieldError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Msg: words.Empty}
		}
		return nil, syntaxError(file, err, data)
	}
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(file, err, data)
		}
		if n := extra.Content; len(n) > 0 && !IsNull(n[0]) {
			return nil, &FieldError{File: file, Line: n[0].Line, Col: n[0].Column,
				Msg: words.SecondDocument}
		}
	}
	if len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		return nil, &FieldError{File: file, Line: doc.Line, Col: doc.Column,
			Msg: words.Empty}
	}
	root = doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: root.Line, Col: root.Column,
			Msg: words.NotMapping + Describe(root)}
	}
	return root, nil
}

// IsNull reports whether n is a null scalar ("~", "null", or nothing).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names what a node holds, for "want X, got Y" messages: "a
// mapping", "a list", "null", 42, "text" (quoted, cut after 40
// characters).
func Describe(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "nothing"
	}
	s := n.Value
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str", "!!binary", "!!timestamp":
		return strconv.Quote(s)
	}
	if strings.HasPrefix(n.ShortTag(), "!!") {
		return s
	}
	return strconv.Quote(s)
}

// syntaxError turns "yaml: line 3: did not find expected key" into a
// FieldError. The YAML parser reports no column, and for many errors a
// line before the problem (where the enclosing block began), so the line
// is found again: it is the one after the longest run of leading lines
// that still parses.
func syntaxError(file string, err error, data []byte) *FieldError {
	msg := err.Error()
	line := 0
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if l := brokenLine(data); l > 0 {
		line = l
	}
	return &FieldError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// Limits of brokenLine's search, which parses a prefix of the file per
// line tried.
const (
	brokenLineMaxBytes = 256 << 10
	brokenLineMaxTries = 2000
)

// brokenLine returns the 1-based line past the longest prefix of whole
// lines of data that is valid YAML, or 0 when the search would cost too
// much.
func brokenLine(data []byte) int {
	if len(data) > brokenLineMaxBytes {
		return 0
	}
	var ends []int // ends[i] is the offset just past line i+1
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	for n, tries := len(ends)-1, 0; n >= 0 && tries < brokenLineMaxTries; n, tries = n-1, tries+1 {
		end := 0
		if n > 0 {
			end = ends[n-1]
		}
		if validYAML(data[:end]) {
			return n + 1
		}
	}
	return 0
}

// validYAML reports whether every document in data parses.
func validYAML(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

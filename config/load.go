package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the configuration file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a configuration, substitutes environment variables,
// applies defaults and validates the result. filename is used in error
// messages. When the configuration is invalid the error is an Errors that
// lists every problem found, each with its position.
func Parse(data []byte, filename string) (*Config, error) {
	return parse(data, filename, os.LookupEnv)
}

func parse(data []byte, file string, lookup lookupFunc) (*Config, error) {
	root, ferr := parseYAML(data, file)
	if ferr != nil {
		return nil, Errors{ferr}
	}
	d := newDecoder(file, lookup)
	c := &Config{}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if d.budget < 0 {
		return nil, d.errs.sorted() // what was decoded is not worth checking
	}
	applyDefaults(c, d.set)
	v := &validator{file: file, pos: d.pos, bad: d.bad, secrets: d.secrets}
	v.config(c)
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return nil, errs.sorted()
	}
	c.file, c.pos, c.secrets = file, d.pos, d.secrets
	return c, nil
}

// File is the name the configuration was loaded from.
func (c *Config) File() string { return c.file }

// Position reports where the file wrote a field, by its path as errors
// name it: "routes[3]", "routes[3].upstream.timeout",
// "routes[0].request_headers.set.Authorization". ok is false for a field
// that the file left out (and for a Config not made by Parse or Load).
func (c *Config) Position(field string) (line, col int, ok bool) {
	p, ok := c.pos[field]
	return p.line, p.col, ok
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads the single document of data and returns its top-level
// mapping.
func parseYAML(data []byte, file string) (root *yaml.Node, ferr *FieldError) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not take the gateway down
			root, ferr = nil, &FieldError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Msg: "the file is empty; a config needs at least a routes list"}
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
		if n := extra.Content; len(n) > 0 && !isNull(n[0]) {
			return nil, &FieldError{File: file, Line: n[0].Line, Col: n[0].Column,
				Msg: "a second YAML document; keep the whole config in one document"}
		}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &FieldError{File: file, Line: doc.Line, Col: doc.Column,
			Msg: "the file is empty; a config needs at least a routes list"}
	}
	root = doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: root.Line, Col: root.Column,
			Msg: "the top level must be a mapping of settings (listen, routes, ...), got " + describe(root)}
	}
	return root, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
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

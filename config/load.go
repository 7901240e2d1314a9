package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the configuration file at path, and the files it
// includes; see Parse.
func Load(path string, checks ...Check) (*Config, error) {
	return load(osSource{}, path, os.LookupEnv, checks...)
}

// A Check is a rule on a whole configuration that needs more than this
// package knows, such as route conflicts, which the router decides. Load
// and Parse run it after their own validation, even when that found
// problems, so that every problem is reported at once. It returns each
// problem with Field (routes counted across all files, as in
// Config.Routes) and Msg set; Load adds the file and position. It must
// not keep or change the Config.
type Check func(*Config) []*FieldError

// LoadFS is Load reading from fsys: name and the files it includes are
// paths inside fsys (slash-separated, without a leading "/"), and include
// patterns must stay inside it. Errors and Config.File name files by their
// paths in fsys.
func LoadFS(fsys fs.FS, name string) (*Config, error) {
	return load(fsSource{fsys}, name, os.LookupEnv)
}

// Parse decodes a configuration, substitutes environment variables,
// applies defaults and validates the result. filename is used in error
// messages. The files that data includes are read from the operating
// system's file system, relative to filepath.Dir(filename) (so
// Parse(data, "gateway.yaml") reads them relative to the working
// directory). When the configuration is invalid the error is an Errors
// that lists every problem found, each with its file and position.
func Parse(data []byte, filename string, checks ...Check) (*Config, error) {
	return parseFrom(osSource{}, data, filename, os.LookupEnv, checks...)
}

func load(src source, name string, lookup lookupFunc, checks ...Check) (*Config, error) {
	data, err := src.readFile(name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseFrom(src, data, name, lookup, checks...)
}

func parse(data []byte, file string, lookup lookupFunc) (*Config, error) {
	return parseFrom(osSource{}, data, file, lookup)
}

// parseFrom parses data, the main file named file; src is where its
// includes are read from.
func parseFrom(src source, data []byte, file string, lookup lookupFunc, checks ...Check) (*Config, error) {
	root, ferr := parseYAML(data, file, mainFile)
	if ferr != nil {
		return nil, Errors{ferr}
	}
	// Most lines of a config hold one value, a flow mapping a few.
	d := newDecoder(file, lookup, 2*bytes.Count(data, []byte("\n")))
	c := &Config{}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if d.budget < 0 {
		return nil, d.errs.sorted(nil) // what was decoded is not worth checking
	}
	inc := d.include(src, c)
	if d.budget < 0 {
		return nil, d.errs.localRoutes(d.starts).sorted(inc.names)
	}
	applyDefaults(c, d.set)
	v := &validator{file: file, pos: d.pos, bad: d.bad, secrets: d.secrets, starts: d.starts}
	v.config(c)
	c.file, c.pos, c.starts = file, d.pos, d.starts // for RouteRef
	for _, check := range checks {
		for _, fe := range check(c) {
			v.errorf(fe.Field, "%s", fe.Msg)
		}
	}
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return nil, errs.localRoutes(d.starts).sorted(inc.names)
	}
	c.file, c.pos, c.secrets = file, d.pos, d.secrets
	c.files, c.includes = inc.files, inc.patterns
	return c, nil
}

// LocalField turns a field path that numbers routes across all files, as
// Routes does ("routes[5].upstream"), into the path that errors show, which
// numbers them within the route's file ("routes[0].upstream" for the first
// route of an included file).
func (c *Config) LocalField(field string) string {
	end := strings.IndexByte(field, ']')
	if !strings.HasPrefix(field, "routes[") || end < 0 {
		return field
	}
	if start := c.starts[c.pos[field[:end+1]].file]; start > 0 {
		return localRoute(field, start)
	}
	return field
}

// RouteRef names Routes[i] in a message about Routes[from]: "routes[2]
// (users)", with its index within its own file, and that file when it is
// not the file of Routes[from]: "routes[0] (users, in routes.d/a.yaml)".
func (c *Config) RouteRef(i, from int) string {
	file := c.pos["routes["+strconv.Itoa(i)+"]"].file
	ref := "routes[" + strconv.Itoa(i-c.starts[file]) + "] (" + c.Routes[i].Name
	if file != "" && file != c.pos["routes["+strconv.Itoa(from)+"]"].file {
		ref += ", in " + file
	}
	return ref + ")"
}

// File is the name the configuration was loaded from: the main file.
func (c *Config) File() string { return c.file }

// Files lists every file the configuration was read from: the main file
// first, then the included files in the order their routes were appended.
// Names are absolute (paths inside the fs.FS for LoadFS); for Parse, the
// main file is filename as if it were on disk. A reloader watches these,
// and the directories of Includes for files that appear.
func (c *Config) Files() []string { return slices.Clone(c.files) }

// Includes lists the entries of Config.Include joined to the main file's
// directory and made absolute (inside the fs.FS for LoadFS), in order, glob
// characters kept: "/etc/gateway/routes.d/*.yaml". Globs that match
// nothing are listed too, so that a reloader can watch their directories.
// The main file's directory is written plainly, even if its name holds glob
// characters; the pattern's own directory part may hold some
// ("teams/*/routes.yaml").
func (c *Config) Includes() []string { return slices.Clone(c.includes) }

// Position reports where a field was written, by its path as errors name
// it: "routes[3]", "routes[3].upstream.timeout",
// "routes[0].request_headers.set.Authorization". Routes are numbered across
// all files, as in Routes (errors number them within their file: see
// LocalField). ok is false for a field that no file wrote
// (and for a Config not made by Parse or Load). The line and column are in
// the file PositionOf reports, which is not File for a route from an
// included file.
func (c *Config) Position(field string) (line, col int, ok bool) {
	_, line, col, ok = c.PositionOf(field)
	return line, col, ok
}

// PositionOf reports the file, line and column where a field was written;
// see Position.
func (c *Config) PositionOf(field string) (file string, line, col int, ok bool) {
	p, ok := c.pos[field]
	return p.file, p.line, p.col, ok
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// fileRole tells the main file from an included one, whose top level
// holds only routes.
type fileRole int

const (
	mainFile fileRole = iota
	includedFile
)

// emptyMsg is the problem with an empty file.
func (r fileRole) emptyMsg() string {
	if r == includedFile {
		return "the file is empty; an included file holds a routes list (write routes: [] for none)"
	}
	return "the file is empty; a config needs at least a routes list"
}

// secondDocMsg is the problem with a file of more than one YAML document.
func (r fileRole) secondDocMsg() string {
	if r == includedFile {
		return "a second YAML document; keep the whole file in one document"
	}
	return "a second YAML document; keep the whole config in one document"
}

// topMsg is the problem with a top level that is not a mapping.
func (r fileRole) topMsg() string {
	if r == includedFile {
		return "the top level of an included file must be a mapping with a routes list, got "
	}
	return "the top level must be a mapping of settings (listen, routes, ...), got "
}

// parseYAML reads the single document of data and returns its top-level
// mapping.
func parseYAML(data []byte, file string, role fileRole) (root *yaml.Node, ferr *FieldError) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not take the gateway down
			root, ferr = nil, &FieldError{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: file, Msg: role.emptyMsg()}
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
				Msg: role.secondDocMsg()}
		}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &FieldError{File: file, Line: doc.Line, Col: doc.Column,
			Msg: role.emptyMsg()}
	}
	root = doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: root.Line, Col: root.Column,
			Msg: role.topMsg() + describe(root)}
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

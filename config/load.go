package config

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// Load reads and parses the configuration file at path, and the files it
// includes; see Parse.
func Load(path string, checks ...Check) (*Config, error) {
	return load(yamlcodec.OS(), path, os.LookupEnv, checks...)
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
// paths in fsys. checks run as for Load.
func LoadFS(fsys fs.FS, name string, checks ...Check) (*Config, error) {
	return load(yamlcodec.FS(fsys), name, os.LookupEnv, checks...)
}

// Parse decodes a configuration, substitutes environment variables,
// applies defaults and validates the result. filename is used in error
// messages. The files that data includes are read from the operating
// system's file system, relative to filepath.Dir(filename) (so
// Parse(data, "gateway.yaml") reads them relative to the working
// directory). When the configuration is invalid the error is an Errors
// that lists every problem found, each with its file and position.
func Parse(data []byte, filename string, checks ...Check) (*Config, error) {
	return parseFrom(yamlcodec.OS(), data, filename, os.LookupEnv, nil, checks...)
}

func load(src yamlcodec.Source, name string, lookup yamlcodec.LookupFunc, checks ...Check) (*Config, error) {
	data, err := src.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseFrom(src, data, name, lookup, nil, checks...)
}

func parse(data []byte, file string, lookup yamlcodec.LookupFunc) (*Config, error) {
	return parseFrom(yamlcodec.OS(), data, file, lookup, nil)
}

// mainFileWords are the problems of a main file without settings.
var mainFileWords = yamlcodec.Words{
	Empty:          "the file is empty; a config needs at least a routes list",
	SecondDocument: "a second YAML document; keep the whole config in one document",
	NotMapping:     "the top level must be a mapping of settings (listen, routes, ...), got ",
}

// parseFrom parses data, the main file named file; src is where its
// includes are read from. The results of included files are looked up in
// kept, and what was read is returned in it; kept may be nil.
func parseFrom(src yamlcodec.Source, data []byte, file string, lookup yamlcodec.LookupFunc, kept *keptFiles, checks ...Check) (*Config, error) {
	root, ferr := yamlcodec.ReadDocumentList(data, file, mainFileWords, "routes")
	if ferr != nil {
		return nil, Errors{ferr}
	}
	var env []envValue
	// Most lines of a config hold one value, a flow mapping a few.
	d := codec.NewDecoder(file, recordingLookup(lookup, &env), 2*bytes.Count(data, []byte("\n")))
	c := &Config{}
	d.Decode(root, reflect.ValueOf(c).Elem(), "")
	if d.Exhausted() {
		return nil, d.Errs.Sorted(nil) // what was decoded is not worth checking
	}
	files, inc := includedFiles(d, src, c)
	applyDefaults(c, d.Set) // the main file's settings and routes
	starts := make(map[string]int)
	v := newValidator(file, d, starts)
	v.settings(c)
	ctx := &routeContext{key: contextKey(file, data, env), main: file, maxBody: c.Server.MaxBodySize, v: v}
	results := kept.read(files, ctx, lookup)
	v.routesOwn(c.Routes)
	var fileErrs, decodeErrs Errors // their fields number routes within their file
	exhausted := false
	n := len(c.Routes)
	for _, r := range results {
		n += len(r.routes)
	}
	c.Routes = slices.Grow(c.Routes, n-len(c.Routes))
	for _, r := range results {
		fileErrs = append(fileErrs, r.errs...)
		decodeErrs = append(decodeErrs, r.errs[:r.decodeErrs]...)
		exhausted = exhausted || r.exhausted
		if !r.hasList {
			continue
		}
		starts[r.name] = len(c.Routes)
		c.parts = append(c.parts, part{start: len(c.Routes), file: r})
		c.Routes = append(c.Routes, r.routes...)
	}
	v.rep.More = c.more
	if exhausted { // what was decoded is not worth checking
		return nil, append(d.Errs, decodeErrs...).Sorted(inc.Names)
	}
	c.file, c.pos, c.starts = file, d.Pos, starts // for RouteRef
	v.across(c)
	for _, check := range checks {
		for _, fe := range check(c) {
			v.errorf(fe.Field, "%s", fe.Msg)
		}
	}
	if errs := append(d.Errs, v.rep.Errs...); len(errs) > 0 || len(fileErrs) > 0 {
		return nil, append(localRoutes(errs, starts), fileErrs...).Sorted(inc.Names)
	}
	c.file, c.pos, c.secrets = file, d.Pos, d.Secrets
	c.files, c.includes = inc.Files, inc.Patterns
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
	if start := c.starts[c.posOf(field[:end+1]).File]; start > 0 {
		return localRoute(field, start)
	}
	return field
}

// RouteRef names Routes[i] in a message about Routes[from]: "routes[2]
// (users)", with its index within its own file, and that file when it is
// not the file of Routes[from]: "routes[0] (users, in routes.d/a.yaml)".
func (c *Config) RouteRef(i, from int) string {
	file := c.posOf("routes[" + strconv.Itoa(i) + "]").File
	ref := "routes[" + strconv.Itoa(i-c.starts[file]) + "] (" + c.Routes[i].Name
	if file != "" && file != c.posOf("routes["+strconv.Itoa(from)+"]").File {
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
	p, ok := c.position(field)
	return p.File, p.Line, p.Col, ok
}

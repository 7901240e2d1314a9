package config

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// included is what reading the include list found.
type included struct {
	names    []string // every file read, main first, as errors name them
	files    []string // the same, in the source's absolute form
	patterns []string // Config.Include joined to the main file's directory, absolute
}

// include reads the files that c.Include names, in order, and appends the
// routes of each to c.Routes. Problems with an include entry are reported
// at the entry; problems inside a file, in that file.
func (d *decoder) include(src source, c *Config) included {
	main := d.file
	inc := included{names: []string{main}, files: []string{src.abs(main)}}
	seen := map[string]bool{inc.files[0]: true}
	for i, pattern := range c.Include {
		entry := "include[" + strconv.Itoa(i) + "]"
		if d.bad["include"] || d.bad[entry] {
			continue // already reported
		}
		names, resolved, err := resolveInclude(src, main, pattern)
		if resolved != "" {
			inc.patterns = append(inc.patterns, src.abs(resolved))
		}
		if err != nil {
			d.entryError(entry, pattern, err)
			continue
		}
		for _, name := range names {
			abs := src.abs(name)
			if seen[abs] {
				continue
			}
			seen[abs] = true
			inc.names = append(inc.names, name)
			inc.files = append(inc.files, abs)
			data, err := src.readFile(name)
			if err != nil {
				d.entryError(entry, pattern, fmt.Errorf("cannot read %s: %w", name, bareError(err)))
				continue
			}
			d.file = name
			d.includedFile(data, c, main)
			d.file = main
		}
	}
	return inc
}

// includeError is a problem with an include entry.
type includeError struct {
	msg      string
	resolved string // the file looked for, when it was not found
	hint     string // what to write instead; it repeats the entry
}

func (e *includeError) Error() string { return e.msg }

// resolveInclude lists the files that one include entry names, in the
// order they are read. resolved is the pattern placed in the main file's
// directory, "" when the pattern cannot be used.
func resolveInclude(src source, main, pattern string) (names []string, resolved string, err error) {
	if pattern == "" {
		return nil, "", &includeError{msg: "must not be empty"}
	}
	resolved, glob, err := src.join(main, pattern)
	if err != nil {
		return nil, "", &includeError{msg: err.Error()}
	}
	if !src.hasMeta(pattern) {
		info, err := src.stat(resolved)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, resolved, &includeError{msg: "no such file", resolved: resolved}
		case err != nil:
			return nil, resolved, &includeError{msg: "cannot read: " + bareError(err).Error()}
		case info.IsDir():
			return nil, resolved, &includeError{msg: "is a directory",
				hint: fmt.Sprintf("to include the files in it, write a glob such as %q", strings.TrimSuffix(pattern, "/")+"/*.yaml")}
		}
		return []string{resolved}, resolved, nil
	}
	matches, err := src.glob(glob)
	if err != nil {
		return nil, resolved, &includeError{msg: "not a valid glob pattern (see filepath.Match)"}
	}
	hidden := strings.HasPrefix(src.base(pattern), ".")
	for _, m := range matches {
		if !hidden && strings.HasPrefix(src.base(m), ".") {
			continue // editors' lock and swap files
		}
		if info, err := src.stat(m); err == nil && info.IsDir() {
			continue
		}
		names = append(names, m)
	}
	sort.Strings(names)
	return names, resolved, nil
}

// bareError drops the operation and file name that err repeats.
func bareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// entryError reports a problem with the include entry at path, in the main
// file. An entry that came from the environment is not quoted.
func (d *decoder) entryError(path, pattern string, err error) {
	var msg string
	var ie *includeError
	switch {
	case d.secrets[path]:
		msg = "the value from the environment: " + err.Error()
	case errors.As(err, &ie) && ie.hint != "":
		msg = fmt.Sprintf("%q: %s; %s", pattern, ie.msg, ie.hint)
	case errors.As(err, &ie) && ie.resolved != "" && ie.resolved != pattern:
		msg = fmt.Sprintf("%q: %s (looked for %s)", pattern, ie.msg, ie.resolved)
	default:
		msg = strconv.Quote(pattern) + ": " + err.Error()
	}
	at := d.pos[path]
	d.errs = append(d.errs, &FieldError{File: at.file, Line: at.line, Col: at.col, Field: path, Msg: msg})
}

// includedFile decodes an included file, named d.file, whose routes are
// appended to c.Routes. main names the file that included it.
func (d *decoder) includedFile(data []byte, c *Config, main string) {
	root, ferr := parseYAML(data, d.file, includedFile)
	if ferr != nil {
		d.errs = append(d.errs, ferr)
		return
	}
	for _, p := range d.pairs(root, "") {
		switch key := p.key.Value; {
		case key == "routes":
			d.appendRoutes(p.val, c)
		case strings.HasPrefix(key, "x-"):
			// anchors for this file's routes
		case key == "include":
			d.keyErrorf(p.key, "", "an included file cannot include others; list every file or glob in the include of %s", main)
		case fieldIndex(configType, key) >= 0:
			d.keyErrorf(p.key, "", "%s is a setting of the main file (%s); an included file holds only routes", key, main)
		default:
			hint := ""
			if editDistance(strings.ToLower(key), "routes") < 3 {
				hint = ` (did you mean "routes"?)`
			}
			d.keyErrorf(p.key, "", "unknown field %q%s; an included file holds only routes", key, hint)
		}
	}
}

var configType = reflect.TypeFor[Config]()

// appendRoutes decodes the routes list n of an included file and appends
// it to c.Routes, numbering the routes after those already there.
func (d *decoder) appendRoutes(n *yaml.Node, c *Config) {
	if d.budget--; d.budget < 0 {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		// Not errorf: "routes" is not bad as a whole, the other files'
		// routes are still checked.
		d.keyErrorf(n, "routes", "want a list, got %s", describe(n))
		return
	}
	start := len(c.Routes)
	d.starts[d.file] = start
	routes := make([]Route, len(n.Content))
	for i, item := range n.Content {
		d.decode(item, reflect.ValueOf(&routes[i]).Elem(), "routes["+strconv.Itoa(start+i)+"]")
	}
	c.Routes = append(c.Routes, routes...)
}

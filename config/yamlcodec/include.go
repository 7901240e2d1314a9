package yamlcodec

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Included is what Decoder.Include read.
type Included struct {
	// Names lists every file read, the main file first, as errors name
	// them.
	Names []string
	// Files lists the same files in the source's absolute form.
	Files []string
	// Patterns are the include patterns joined to the main file's
	// directory, in the source's absolute form, glob characters kept.
	Patterns []string
}

// Include reads the files that patterns, the list at path in the file
// being decoded (the main file), name: each entry is a path or a glob
// relative to the main file's directory unless absolute. A glob's matches
// are taken in name order, leaving out directories and names that start
// with "." (unless the pattern's last element does too); a glob may match
// nothing. A path without glob characters must name an existing file. A
// file is read once however often it is matched, and the main file never
// again.
//
// For each file, in order, Include makes it the decoder's File and calls
// read with its content, then makes the main file the File again. A
// problem with an entry (no such file, a malformed glob, an unreadable
// file) is reported at the entry, path[i]; entries that failed to decode
// are skipped.
func (d *Decoder) Include(src Source, path string, patterns []string, read func(data []byte)) Included {
	main := d.file
	inc := Included{Names: []string{main}, Files: []string{src.Abs(main)}}
	seen := map[string]bool{inc.Files[0]: true}
	for i, pattern := range patterns {
		entry := path + "[" + strconv.Itoa(i) + "]"
		if d.Bad[path] || d.Bad[entry] {
			continue // already reported
		}
		names, resolved, err := resolve(src, main, pattern)
		if resolved != "" {
			inc.Patterns = append(inc.Patterns, src.Abs(resolved))
		}
		if err != nil {
			d.entryError(entry, pattern, err)
			continue
		}
		for _, name := range names {
			abs := src.Abs(name)
			if seen[abs] {
				continue
			}
			seen[abs] = true
			inc.Names = append(inc.Names, name)
			inc.Files = append(inc.Files, abs)
			data, err := src.ReadFile(name)
			if err != nil {
				d.entryError(entry, pattern, fmt.Errorf("cannot read %s: %w", name, bareError(err)))
				continue
			}
			d.file = name
			read(data)
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

// resolve lists the files that one include pattern of the file main names,
// in the order they are read (see Decoder.Include). resolved is the
// pattern placed in main's directory, "" when the pattern cannot be used.
// A problem is an *includeError.
func resolve(src Source, main, pattern string) (names []string, resolved string, err error) {
	if pattern == "" {
		return nil, "", &includeError{msg: "must not be empty"}
	}
	resolved, glob, err := src.Join(main, pattern)
	if err != nil {
		return nil, "", &includeError{msg: err.Error()}
	}
	if !src.HasMeta(pattern) {
		info, err := src.Stat(resolved)
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
	matches, err := src.Glob(glob)
	if err != nil {
		return nil, resolved, &includeError{msg: "not a valid glob pattern (see filepath.Match)"}
	}
	hidden := strings.HasPrefix(src.Base(pattern), ".")
	for _, m := range matches {
		if !hidden && strings.HasPrefix(src.Base(m), ".") {
			continue // editors' lock and swap files
		}
		if info, err := src.Stat(m); err == nil && info.IsDir() {
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
func (d *Decoder) entryError(path, pattern string, err error) {
	var msg string
	var ie *includeError
	switch {
	case d.Secrets[path]:
		msg = "the value from the environment: " + err.Error()
	case errors.As(err, &ie) && ie.hint != "":
		msg = fmt.Sprintf("%q: %s; %s", pattern, ie.msg, ie.hint)
	case errors.As(err, &ie) && ie.resolved != "" && ie.resolved != pattern:
		msg = fmt.Sprintf("%q: %s (looked for %s)", pattern, ie.msg, ie.resolved)
	default:
		msg = strconv.Quote(pattern) + ": " + err.Error()
	}
	at, _ := d.Pos.Get(path)
	d.Errs = append(d.Errs, &FieldError{File: at.File, Line: at.Line, Col: at.Col, Field: path, Msg: msg})
}

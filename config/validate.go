package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// validator checks a decoded, defaulted Config and collects every problem,
// placing each at the position of its field (or of the nearest enclosing
// field the file wrote, for a missing one). Each feature's checks are
// methods in the feature's file; validator.config runs them.
type validator struct {
	rep     yamlcodec.Reporter // where problems go
	file    string             // the main file
	pos     *yamlcodec.Positions
	secrets map[string]bool // paths whose value came from the environment
	disc    *Discovery      // the configured registries
	// haveRedis is true when the top-level redis is set.
	haveRedis bool
	brokerSet map[string]*Broker      // the configured brokers
	providers map[string]*JWTProvider // the declared JWT providers
	starts    map[string]int          // each included file's first route
	// readsFiles is set once a check read a file the configuration names
	// (a body_file, a key file): see resolve.
	readsFiles bool
}

// newValidator returns a validator for the configuration that d decoded
// from the main file file; starts gives each included file's first route.
func newValidator(file string, d *yamlcodec.Decoder, starts map[string]int) *validator {
	return &validator{
		rep:     yamlcodec.Reporter{File: file, Pos: d.Pos, Bad: d.Bad, Secrets: d.Secrets},
		file:    file,
		pos:     d.Pos,
		secrets: d.Secrets,
		starts:  starts,
	}
}

// errorf reports a problem with the field at path, unless the field or
// one that holds it failed to decode (that is reported already).
func (v *validator) errorf(path, format string, args ...any) {
	v.rep.Errorf(path, format, args...)
}

// invalid reports a bad value, quoting it unless it came from the
// environment: such values may be secrets, and errors end up in logs.
func (v *validator) invalid(path string, value any, msg string) {
	v.rep.Invalid(path, value, msg)
}

// at is where path was written, or the nearest enclosing field that was;
// the main file without a line when there is none.
func (v *validator) at(path string) yamlcodec.Position { return v.rep.At(path) }

// where is " (line N)" for a recorded path in the file that from is in,
// " (file:N)" for one in another file, or "".
func (v *validator) where(path, from string) string { return v.rep.Where(path, from) }

// routeRef names routes[i] for an error about another route: its index
// within its own file, and where it is (see where) as seen from the field
// at from.
func (v *validator) routeRef(i int, field, from string) string {
	p := "routes[" + strconv.Itoa(i) + "]"
	at := v.at(p)
	if start, ok := v.starts[at.File]; ok {
		p = localRoute(p, start)
	}
	return p + v.where("routes["+strconv.Itoa(i)+"]"+field, from)
}

func (v *validator) headerNames(names []string, p string) {
	for i, name := range names {
		if !isToken(name) {
			v.errorf(p+"["+strconv.Itoa(i)+"]", "%q: not a valid header name", name)
		}
	}
}

// errText is an error's message without the path it repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// resolve joins a relative file name to the main file's directory. The
// checks read every file they name through it: it records that they did
// (readsFiles), since what they found then depends on more than the
// configuration's own files.
func (v *validator) resolve(name string) string {
	v.readsFiles = true
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(v.file), name)
}

package config

import (
	"os"
)

// Answers the gateway makes by itself: a route's respond, and a
// fallback's static answer.

// Respond is an answer the gateway makes by itself.
type Respond struct {
	// Status is the HTTP status. Default 200.
	Status int `yaml:"status"`
	// Body is sent as is. Default "".
	Body string `yaml:"body"`
	// BodyFile names a file whose content is the body instead, relative to
	// the main configuration file's directory. It is read when the
	// configuration loads: a changed file is served after the next reload.
	// At most 10MiB. Default "": none.
	BodyFile string `yaml:"body_file"`
	// Headers are added to the answer.
	Headers map[string]string `yaml:"headers"`

	// fileBody is BodyFile's content, read by Load.
	fileBody []byte
}

// Content returns the body to send: BodyFile's content when set, else
// Body. Read-only.
func (r *Respond) Content() []byte {
	if r.BodyFile != "" {
		return r.fileBody
	}
	return []byte(r.Body)
}

const (
	defaultStatus         = 200
	defaultFallbackStatus = 503
)

// respondDefaults gives r, the answer at p, status when the file did not
// set one.
func respondDefaults(r *Respond, p string, set map[string]bool, status int) {
	if !set[p+".status"] {
		r.Status = status
	}
}

func (v *validator) respond(r *Respond, p string) {
	if r.Status < 100 || r.Status > 599 {
		v.invalid(p+".status", r.Status, "must be an HTTP status 100-599")
	}
	v.headers(r.Headers, p+".headers")
	if r.BodyFile == "" {
		return
	}
	if r.Body != "" {
		v.errorf(p+".body_file", "set body or body_file, not both")
		return
	}
	path := v.resolve(r.BodyFile)
	info, err := os.Stat(path)
	switch {
	case err != nil:
		v.invalid(p+".body_file", r.BodyFile, "cannot be read: "+errText(err))
	case !info.Mode().IsRegular():
		v.invalid(p+".body_file", r.BodyFile, "is not a regular file")
	case info.Size() > maxBodyFile:
		v.invalid(p+".body_file", r.BodyFile, "is larger than 10MiB")
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			v.invalid(p+".body_file", r.BodyFile, "cannot be read: "+errText(err))
			return
		}
		r.fileBody = b
	}
}

// maxBodyFile bounds a respond or static body read from a file.
const maxBodyFile = 10 << 20

package reloader

import (
	"path/filepath"

	"github.com/fastgate/gateway/config"
)

// sources is what a configuration was read from, and so what a Reloader
// watches: a change of one of files, or a new file that one of globs
// matches, may change the configuration.
type sources struct {
	// files are the absolute names of every file the configuration was
	// built from: the main file, the included files, and the files its
	// settings name.
	files []string
	// included are the files an include pattern brought in, as
	// config.Config.Files names them: a file change that finds one gone
	// is refused (see Reloader).
	included []string
	// globs are the include patterns, made absolute.
	globs []string
}

// sourcesOf lists what cfg was read from. It is the one place that says
// which files a configuration depends on: a setting that names files the
// configuration is built from (tls certificates, keys and CAs) adds them to
// files here, and the Reloader then watches them as it watches the
// included ones. A change of such a file reaches the Target as a
// FileChange; a Target that leaves a configuration whose Config.Hash is
// unchanged as it is (the gateway's does) must then see that file's
// content in the hash, or its change is taken for nothing.
func sourcesOf(cfg *config.Config) sources {
	var s sources
	for i, f := range cfg.Files() {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		s.files = append(s.files, abs)
		if i > 0 { // Files lists the main file first
			s.included = append(s.included, f)
		}
	}
	// The key, htpasswd and PEM files of access settings; their content is
	// in Config.Hash.
	s.files = append(s.files, cfg.AuthFiles()...)
	s.globs = cfg.Includes()
	// Certificates, keys and CAs: a renewed certificate is loaded by the
	// reload its file's change starts (config.Config.Hash covers their
	// content).
	s.files = append(s.files, cfg.TLSFiles()...)
	return s
}

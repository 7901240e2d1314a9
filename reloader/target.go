package reloader

import "github.com/fastgate/gateway/config"

// Target receives the configurations a Reloader loads. R is the Target's
// report of one reload; the Reloader hands it back to whoever asked for
// the reload (Reload's caller) without looking into it. A Reloader calls
// its Target from one goroutine at a time.
type Target[R any] interface {
	// Apply makes cfg serve. On error nothing changed: the configuration
	// that served keeps serving.
	Apply(cfg *config.Config, req Request) (R, error)
	// Preview says what Apply would do with cfg, changing nothing.
	// req.DryRun is always set.
	Preview(cfg *config.Config, req Request) (R, error)
	// Refuse reports a configuration that did not load, or that a file
	// change may not apply (an included file vanished; see Reloader).
	// err lists every problem; nothing changed.
	Refuse(err error, req Request) R
}

// Request says what asked for a reload.
type Request struct {
	// Trigger names the cause for the log: FileChange's "file change",
	// or what the caller of Reload named ("SIGHUP", "admin").
	Trigger string
	// DryRun is set when nothing is to be applied: the caller wants to
	// know what would change.
	DryRun bool
	// FileChange is set when a change of a watched file started the
	// reload rather than a caller: the Target may leave a configuration
	// that serves already as it is. Never set with DryRun.
	FileChange bool
}

// TriggerFileChange is Request.Trigger of a reload that a change of a
// watched file started.
const TriggerFileChange = "file change"

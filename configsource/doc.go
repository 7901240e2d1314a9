// Package configsource holds what every registry that a fleet's
// configuration is published to shares: a Version (a complete
// configuration as a set of named files), its loading with the checks and
// positions of files (an error names the registry key and the line and
// column inside its value), and the last good version's copy on disk, so
// that an instance restarted while the registry is down still serves.
//
// The registries themselves are adapters below it: configsource/etcd.
package configsource

// Package reloader follows the files a configuration was read from and
// loads it again when one of them changes, or when asked (SIGHUP, the
// admin endpoint). Each configuration that loads goes to a [Target], which
// applies it or, in a dry run, says what applying it would change; one that
// does not load goes to the Target as refused. The package knows files,
// loading and when to reload; what a configuration means, and what a
// reload reports, is the Target's.
//
// What is watched comes from the loaded configuration (see sourcesOf): the
// main file, every included file, the directories of include globs, and
// whatever other file a setting names that the configuration is built
// from. Directories are watched rather than files, so that an editor's
// rename over the old file and a Kubernetes ConfigMap volume's "..data"
// symlink swap are both seen.
package reloader

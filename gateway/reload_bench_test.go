package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/reloader"
)

// bigConfig writes a configuration of n routes: a mix of exact paths,
// templates, prefixes and hosts, half answered by the gateway and half
// proxied to one upstream. gen changes one route's header.
func bigConfig(n, gen int, upstream string) string {
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		writeRoute(&b, i, i == 0, gen, upstream)
	}
	return b.String()
}

// writeRoute writes route number i of bigConfig; with header, it sets
// X-Gen to gen.
func writeRoute(b *strings.Builder, i int, header bool, gen int, upstream string) {
	fmt.Fprintf(b, "  - name: r%d\n", i)
	switch i % 4 {
	case 0:
		fmt.Fprintf(b, "    match: { path: /exact/%d }\n", i)
	case 1:
		fmt.Fprintf(b, "    match: { path: \"/t/%d/{id}\" }\n", i)
	case 2:
		fmt.Fprintf(b, "    match: { path_prefix: /p/%d/ }\n", i)
	default:
		fmt.Fprintf(b, "    match: { host: h%d.example.com, path_prefix: / }\n", i)
	}
	if i%2 == 0 {
		fmt.Fprintf(b, "    respond: { body: \"r%d\" }\n", i)
	} else {
		fmt.Fprintf(b, "    upstream: { targets: [\"%s\"] }\n", upstream)
	}
	if header {
		fmt.Fprintf(b, "    response_headers: { set: { X-Gen: \"%d\" } }\n", gen)
	}
}

// BenchmarkReload10k measures a reload of a 10,000-route configuration
// from its file: read, decode, validate, compile beside the serving one
// (carrying over the unchanged routes), swap.
func BenchmarkReload10k(b *testing.B) {
	const routes = 10000
	dir := b.TempDir()
	up := deadAddr(b)
	paths := [2]string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}
	for i, p := range paths {
		if err := os.WriteFile(p, []byte(bigConfig(routes, i, up)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Load(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	g := serveConfig(b, cfg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		cfg, err := config.Load(paths[i%2])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Apply(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// splitConfig writes a configuration of files×perFile routes into dir: a
// main file that includes routes.d/*.yaml, and files included files of
// perFile routes each, as bigConfig writes them (route names and paths
// numbered across the files). It returns the path of the main file.
func splitConfig(b *testing.B, dir string, files, perFile int, upstream string) string {
	b.Helper()
	if err := os.Mkdir(filepath.Join(dir, "routes.d"), 0o755); err != nil {
		b.Fatal(err)
	}
	for f := 0; f < files; f++ {
		writeIncluded(b, dir, f, perFile, 0, upstream)
	}
	main := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(main, []byte("include: [\"routes.d/*.yaml\"]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	return main
}

// writeIncluded writes included file number f of splitConfig: routes
// f*perFile and on, as bigConfig writes them, the first with X-Gen gen.
func writeIncluded(b *testing.B, dir string, f, perFile, gen int, upstream string) {
	b.Helper()
	var body strings.Builder
	body.WriteString("routes:\n")
	for i := f * perFile; i < (f+1)*perFile; i++ {
		writeRoute(&body, i, i == f*perFile, gen, upstream)
	}
	name := filepath.Join(dir, "routes.d", fmt.Sprintf("r%03d.yaml", f))
	if err := os.WriteFile(name, []byte(body.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReload10kOneFileChanged measures the reload an operator makes
// most: 10,000 routes in 100 included files, one of which changed (one
// route's header), loaded through the reloader as SIGHUP or a file change
// would (route conflicts checked) and applied.
func BenchmarkReload10kOneFileChanged(b *testing.B) { benchmarkSplitReload(b, 1) }

// BenchmarkReload10kAllFilesChanged is BenchmarkReload10kOneFileChanged
// with every file changed (one route's header in each): nothing can be
// kept, every file is parsed, a few at once.
func BenchmarkReload10kAllFilesChanged(b *testing.B) { benchmarkSplitReload(b, 100) }

// benchmarkSplitReload reloads 10,000 routes in 100 included files of
// which changed files changed.
func benchmarkSplitReload(b *testing.B, changed int) {
	const files, perFile = 100, 100
	dir := b.TempDir()
	up := deadAddr(b)
	main := splitConfig(b, dir, files, perFile, up)
	// As cmd/gateway does: the reloader loads through the Loader that
	// loaded the serving configuration.
	loader := &config.Loader{}
	cfg, err := loader.Load(main, RouteConflicts)
	if err != nil {
		b.Fatal(err)
	}
	g := serveConfig(b, cfg)
	r, err := reloader.New(reloader.Settings[ReloadResult]{Config: cfg, Target: g.ReloadTarget(),
		Checks: []config.Check{g.RouteConflicts}, Loader: loader})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		for f := range changed {
			writeIncluded(b, dir, (files/2+f)%files, perFile, i, up)
		}
		res, err := r.Reload("bench", false)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Changed) != changed || res.Unchanged != files*perFile-changed {
			b.Fatalf("changed %d, %d unchanged; want %d changed", len(res.Changed), res.Unchanged, changed)
		}
	}
}

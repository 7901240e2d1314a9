package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
)

// bigConfig writes a configuration of n routes: a mix of exact paths,
// templates, prefixes and hosts, half answered by the gateway and half
// proxied to one upstream. gen changes one route's header.
func bigConfig(n, gen int, upstream string) string {
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "    match: { path: /exact/%d }\n", i)
		case 1:
			fmt.Fprintf(&b, "    match: { path: \"/t/%d/{id}\" }\n", i)
		case 2:
			fmt.Fprintf(&b, "    match: { path_prefix: /p/%d/ }\n", i)
		default:
			fmt.Fprintf(&b, "    match: { host: h%d.example.com, path_prefix: / }\n", i)
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, "    respond: { body: \"r%d\" }\n", i)
		} else {
			fmt.Fprintf(&b, "    upstream: { targets: [\"%s\"] }\n", upstream)
		}
		if i == 0 {
			fmt.Fprintf(&b, "    response_headers: { set: { X-Gen: \"%d\" } }\n", gen)
		}
	}
	return b.String()
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

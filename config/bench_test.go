package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse10k measures the config's share of a reload of 10,000
// routes: decode, defaults and validation (the gateway's BenchmarkReload10k
// adds compiling and swapping).
func BenchmarkParse10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("routes:\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "  - name: r%d\n", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "    match: { path: /exact/%d, methods: [GET] }\n", i)
		case 1:
			fmt.Fprintf(&sb, "    match: { path: \"/t/%d/{id}\" }\n", i)
		case 2:
			fmt.Fprintf(&sb, "    match: { path_prefix: /p/%d/ }\n", i)
		default:
			fmt.Fprintf(&sb, "    match: { host: h%d.example.com, path_prefix: / }\n", i)
		}
		if i%2 == 0 {
			fmt.Fprintf(&sb, "    respond: { body: \"r%d\" }\n", i)
		} else {
			sb.WriteString("    upstream: { targets: [\"http://127.0.0.1:9001\"], timeout: 2s }\n")
			sb.WriteString("    rate_limit: { rate: 100/s, burst: 50 }\n")
		}
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(data, "bench.yaml", noEnv); err != nil {
			b.Fatal(err)
		}
	}
}

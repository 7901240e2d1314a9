//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryRaisesFileLimit: started under a low soft open-file limit (as
// a shell's ulimit or a service manager may leave it), the binary raises
// it to the hard limit, logs both with the concurrency that follows from
// them, and warns when server.concurrency is set above the limit.
func TestBinaryRaisesFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The child gets a hard limit of its own, lowered (which needs no
	// privilege) to at most 20,000 so that the figures do not depend on
	// the machine, and a soft one below it.
	hardN := min(lim.Max, 20_000)
	softN := min(256, hardN/2)
	hard := strconv.FormatUint(hardN, 10)
	// What concurrencyFor gives: three quarters of the limit less 128,
	// 64 to 256Ki.
	want := min(max((max(hardN, 128)-128)/4*3, 64), 256<<10)
	bin := buildBinary(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		desc, server    string
		wantConcurrency string
		warn            bool
	}{
		{desc: "default concurrency", wantConcurrency: strconv.FormatUint(want, 10)},
		{desc: "concurrency above the limit", server: "server: { concurrency: 10000000 }\n", wantConcurrency: "10000000", warn: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(tt.desc, " ", "-")+".yaml")
			if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "off"
`+tt.server+`routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`), 0o644); err != nil {
				t.Fatal(err)
			}
			lines := startLowLimit(t, bin, cfg, softN, hardN)
			limitRE := regexp.MustCompile(`msg="gateway: open file limit" soft=(\d+) hard=(\d+) concurrency=(\d+)`)
			var got []string
			warned := false
			for _, l := range lines {
				if m := limitRE.FindStringSubmatch(l); m != nil {
					got = m[1:]
				}
				warned = warned || strings.Contains(l, "server.concurrency is above the open file limit")
			}
			if got == nil {
				t.Fatalf("no open file limit line in the log:\n%s", strings.Join(lines, "\n"))
			}
			if got[0] != hard || got[1] != hard || got[2] != tt.wantConcurrency {
				t.Errorf("logged soft=%s hard=%s concurrency=%s, want soft and hard %s, concurrency %s",
					got[0], got[1], got[2], hard, tt.wantConcurrency)
			}
			if warned != tt.warn {
				t.Errorf("warning about server.concurrency logged: %v, want %v", warned, tt.warn)
			}
		})
	}
}

// startLowLimit runs `gateway run -config cfg` under the given soft and
// hard open-file limits and returns the lines it logged up to saying where it
// listens; the process is stopped at the end of the test.
func startLowLimit(t *testing.T, bin, cfg string, soft, hard uint64) []string {
	t.Helper()
	script := fmt.Sprintf(`ulimit -H -n %d && ulimit -S -n %d && exec "$0" run -config "$1"`, hard, soft)
	cmd := exec.Command("sh", "-c", script, bin, cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "listen=127.0.0.1:") {
				break
			}
		}
		found <- lines
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case lines := <-found:
		return lines
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not say where it listens within 10s")
		return nil
	}
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		desc       string
		give       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			desc:       "valid file",
			give:       []string{"../../configs/gateway.yaml"},
			wantCode:   0,
			wantStdout: []string{"configs/gateway.yaml: ok (2 routes)"},
		},
		{
			desc:     "every error with file, line and field",
			give:     []string{"testdata/bad.yaml"},
			wantCode: 1,
			wantStderr: []string{
				`testdata/bad.yaml:4:24: routes[0].match: unknown field "paht"`,
				`testdata/bad.yaml:8:59: routes[1].upstream.timeout: want a duration like 2s`,
			},
		},
		{
			desc:       "conflicting routes named by position",
			give:       []string{"testdata/conflict.yaml"},
			wantCode:   1,
			wantStderr: []string{"testdata/conflict.yaml:7:5: routes[1]: conflicts with routes[0] (one)"},
		},
		{
			desc:       "one bad file among good ones fails the run",
			give:       []string{"../../configs/gateway.yaml", "testdata/missing.yaml"},
			wantCode:   1,
			wantStdout: []string{"ok"},
			wantStderr: []string{"missing.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMain(append([]string{"validate"}, tt.give...), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

func TestRunFailsFast(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken.yaml")
	if err := os.WriteFile(taken, []byte("listen: "+busy.Addr().String()+"\nadmin: \"off\"\nroutes:\n  - { name: a, match: { path: /a }, respond: {} }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc       string
		give       []string
		wantStderr string
	}{
		{desc: "invalid config", give: []string{"run", "-config", "testdata/bad.yaml"}, wantStderr: "routes[0].match: unknown field"},
		{desc: "missing config", give: []string{"run", "-config", "testdata/nope.yaml"}, wantStderr: "nope.yaml"},
		{desc: "listen address taken", give: []string{"run", "-config", taken}, wantStderr: "listen"},
		{desc: "unknown command", give: []string{"serve"}, wantStderr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runMain(tt.give, &out, &errOut); code == 0 {
				t.Fatalf("exit code 0, want non-zero")
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, errOut.String())
			}
		})
	}
}

// buildBinary builds the gateway binary once per test binary run; every
// test that runs the real process shares that build.
func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gateway-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryDir = dir
		bin := filepath.Join(dir, "gateway")
		// -pgo=off: what is tested is behaviour, and a build with
		// default.pgo compiles every dependency again.
		build := exec.Command("go", "build", "-pgo=off", "-ldflags", "-X main.version=v9.9.9-test -X main.commit=0123abcd", "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		binaryPath = bin
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	// binaryDir holds the shared build; TestMain removes it.
	binaryDir string
)

// startBinary runs `gateway run -config cfg` and returns the process and
// the address it says it listens on.
func startBinary(t *testing.T, bin, cfg string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	addrRE := regexp.MustCompile(`listen=(127\.0\.0\.1:\d+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" && time.Now().Before(deadline) && lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the gateway never said where it listens")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	return cmd, addr
}

// get sends one GET on a new connection and returns the whole answer.
func get(t *testing.T, addr, path string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(c)
	// The head as sent, the body decoded: a chunked body's chunk sizes
	// must not split its lines.
	head, _, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		return string(raw)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return string(raw)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return head + "\r\n\r\n" + string(body)
}

// TestBinaryServesAndDrains builds the real binary, serves a request,
// reloads on SIGHUP, and stops with SIGTERM: it must exit 0.
func TestBinaryServesAndDrains(t *testing.T) {
	bin := buildBinary(t)
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "gateway v9.9.9-test (commit 0123abcd, go") {
		t.Errorf("version: %q %v", out, err)
	}
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "off"
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "`+body+`" } }
`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hi")
	cmd, addr := startBinary(t, bin, cfg)
	if resp := get(t, addr, "/hello"); !strings.HasPrefix(resp, "HTTP/1.1 200") || !strings.HasSuffix(resp, "hi") {
		t.Errorf("answer:\n%s", resp)
	}

	write("again")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasSuffix(get(t, addr, "/hello"), "again") {
		if time.Now().After(deadline) {
			t.Fatal("the new configuration did not serve within 5s of SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("still running 10s after SIGTERM")
	}
}

// TestExampleConfigsValidate keeps every example under configs/ valid.
func TestExampleConfigsValidate(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		var out, errOut bytes.Buffer
		if code := runMain([]string{"validate", f}, &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d\n%s", f, code, errOut.String())
		}
	}
}

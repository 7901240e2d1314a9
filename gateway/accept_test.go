//go:build linux

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fastgate/gateway/config"
)

// emfileChildEnv makes TestAcceptOutOfDescriptors the gateway process
// with a low open-file limit instead of the test that drives it.
const emfileChildEnv = "GATEWAY_TEST_EMFILE_CHILD"

// emfileFree is how many descriptors the child leaves itself above those
// it has open when it starts serving.
const emfileFree = 12

// TestAcceptOutOfDescriptors: a gateway that runs out of file descriptors
// because clients opened connections keeps serving those connections,
// waits, and accepts again once descriptors free up, instead of exiting
// (fasthttp ends Serve on EMFILE). The gateway runs in a child process
// (this test binary again) whose RLIMIT_NOFILE is lowered to what it has
// open plus a few.
func TestAcceptOutOfDescriptors(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "1" {
		emfileChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptOutOfDescriptors$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var logText strings.Builder
	lines := make(chan string, 100)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logText.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	outLines := make(chan string, 10)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			outLines <- sc.Text()
		}
		close(outLines)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		readers.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("child's log:\n%s", logText.String())
			logMu.Unlock()
		}
	}()
	go func() { readers.Wait(); exited <- cmd.Wait() }()

	var addr string
	select {
	case addr = <-outLines:
	case <-time.After(20 * time.Second):
		t.Fatal("the child did not start serving within 20s")
	}
	addr = strings.TrimPrefix(addr, "addr ")

	// More connections than the child has descriptors: those past the
	// limit wait in the listen backlog.
	conns := make([]net.Conn, 0, emfileFree+10)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range emfileFree + 10 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	waitLine(t, lines, "cannot accept connections", 10*time.Second)

	// A connection accepted before is still served.
	if status := rawGet(t, conns[0]); status != 200 {
		t.Fatalf("an open connection got %d while accepts fail, want 200", status)
	}
	// Descriptors free up: the connection still waiting is accepted.
	for _, c := range conns[:emfileFree] {
		c.Close()
	}
	conns = conns[emfileFree:]
	if status := rawGet(t, conns[len(conns)-1]); status != 200 {
		t.Fatalf("a connection from the backlog got %d once descriptors freed up, want 200", status)
	}
	waitLine(t, lines, "accepting connections again", 10*time.Second)

	stdin.Close()
	var result []string
	for l := range outLines {
		result = append(result, l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the child failed: %v (said %q)", err, result)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the child did not exit within 20s of its stdin closing")
	}
	if len(result) != 1 || !strings.HasPrefix(result[0], "emfile ") || result[0] == "emfile 0" {
		t.Errorf("child reported %q, want gateway_accept_errors_total{kind=\"emfile\"} > 0", result)
	}
	logMu.Lock()
	defer logMu.Unlock()
	// Each episode is logged once as it starts and once as it ends, not
	// per failed accept. There may be two: a descriptor the child closes
	// on its own after the first lets one more connection in.
	starts := strings.Count(logText.String(), "cannot accept connections")
	ends := strings.Count(logText.String(), "accepting connections again")
	if starts == 0 || starts != ends {
		t.Errorf("%d episode starts and %d ends logged, want each episode logged once at its start and once at its end", starts, ends)
	}
}

// emfileChild serves on loopback under a low open-file limit until its
// stdin closes, then prints the EMFILE count and exits.
func emfileChild() {
	gw, served := serveLimited(`
admin: "off"
routes:
  - { name: hello, match: { path_prefix: / }, respond: { body: "hi" } }
`, emfileFree)
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case err := <-served:
		childFail(fmt.Errorf("serve returned: %v", err))
	case <-stdinClosed:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = gw.Shutdown(ctx)
	fmt.Printf("emfile %v\n", testutil.ToFloat64(gw.acceptErrs.emfile))
	os.Exit(0)
}

// waitLine waits up to d for a line containing s.
func waitLine(t *testing.T, lines <-chan string, s string, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, s) {
				return
			}
		case <-deadline.C:
			t.Fatalf("no log line with %q within %v", s, d)
		}
	}
}

// rawGet sends a GET on c and returns the answer's status (0 when none
// came within 10s).
func rawGet(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Logf("write: %v", err)
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Logf("read: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// limitOpenFiles sets the process's soft open-file limit to the
// descriptors it has open now plus free, so that accepting free more
// connections runs it out of descriptors.
func limitOpenFiles(free int) error {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = uint64(len(fds) + free)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// serveLimited is a child process's start: it builds the gateway of yaml,
// serves it on a loopback port with the open-file limit set free
// descriptors above what is open, and prints "addr ADDR" for the parent.
func serveLimited(yaml string, free int) (*Gateway, <-chan error) {
	cfg, err := config.Parse([]byte(yaml), "child.yaml")
	if err != nil {
		childFail(err)
	}
	gw, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		childFail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		childFail(err)
	}
	if err := limitOpenFiles(free); err != nil {
		childFail(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	fmt.Println("addr " + ln.Addr().String())
	return gw, served
}

// childFail ends a child process on an error the parent reads from its
// stderr.
func childFail(err error) {
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(3)
}

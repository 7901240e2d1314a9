package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Descriptor exhaustion in the soak: a second gateway runs in a child
// process (this test binary again) whose RLIMIT_NOFILE is lowered to what
// it has open plus soakFDFree, so that bursts of idle connections run it
// out of descriptors without touching the soak's own clients.
const (
	soakFDChildEnv = "GATEWAY_SOAK_FD_CHILD"
	soakFDFree     = 24
	// soakFDBurst connections per episode: more than the child has
	// descriptors for; the rest wait in the listen backlog.
	soakFDBurst = soakFDFree + 16
	// soakFDEvery is the pause between episodes.
	soakFDEvery = 3 * time.Second
)

// fdSoak drives the child gateway: episodes of descriptor exhaustion, and
// the child's own goroutines and heap.
type fdSoak struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	out   chan string // the child's answers on stdout

	mu       sync.Mutex
	lastLogs []string // the child's last log lines, for a failure
	exited   chan error
	statsMu  sync.Mutex // one question to the child at a time

	episodes, failures int
	sampled            bool
	g0, maxG           int
	h0, maxH           uint64
}

// startFDSoak starts the child gateway proxying to upstream, or fails the
// test.
func startFDSoak(t *testing.T, upstream string) *fdSoak {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSoak$", "-test.count=1")
	cmd.Env = append(os.Environ(), soakFDChildEnv+"=1", "GATEWAY_SOAK_FD_UPSTREAM="+upstream)
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
	f := &fdSoak{cmd: cmd, stdin: stdin, out: make(chan string, 4), exited: make(chan error, 1)}
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			f.mu.Lock()
			if len(f.lastLogs) == 20 {
				f.lastLogs = f.lastLogs[1:]
			}
			f.lastLogs = append(f.lastLogs, sc.Text())
			f.mu.Unlock()
		}
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.out <- sc.Text()
		}
		close(f.out)
	})
	go func() { readers.Wait(); f.exited <- cmd.Wait() }()
	t.Cleanup(func() { f.stop(t) })

	select {
	case l := <-f.out:
		f.addr = strings.TrimPrefix(l, "addr ")
	case <-time.After(30 * time.Second):
		t.Fatalf("the descriptor-limited gateway did not start within 30s%s", f.logs())
	}
	return f
}

// stop ends the child: it shuts down when its stdin closes.
func (f *fdSoak) stop(t *testing.T) {
	if f.stdin == nil {
		return
	}
	f.stdin.Close()
	f.stdin = nil
	for range f.out { // drain: the stdout reader must finish for Wait
	}
	select {
	case err := <-f.exited:
		if err != nil {
			t.Errorf("the descriptor-limited gateway failed: %v%s", err, f.logs())
		}
	case <-time.After(20 * time.Second):
		_ = f.cmd.Process.Kill()
		t.Errorf("the descriptor-limited gateway did not exit within 20s")
	}
}

func (f *fdSoak) logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "; its last log lines:\n" + strings.Join(f.lastLogs, "\n")
}

// stats asks the child for its EMFILE count, goroutines and heap in use.
func (f *fdSoak) stats() (emfile float64, goroutines int, heap uint64, err error) {
	f.statsMu.Lock()
	defer f.statsMu.Unlock()
	if _, err := io.WriteString(f.stdin, "stats\n"); err != nil {
		return 0, 0, 0, err
	}
	select {
	case l, ok := <-f.out:
		if !ok {
			return 0, 0, 0, errors.New("the child exited")
		}
		if _, err := fmt.Sscanf(l, "stats %g %d %d", &emfile, &goroutines, &heap); err != nil {
			return 0, 0, 0, fmt.Errorf("child said %q: %w", l, err)
		}
		return emfile, goroutines, heap, nil
	case <-time.After(10 * time.Second):
		return 0, 0, 0, errors.New("no stats from the child within 10s")
	}
}

// sample records the child's goroutines and heap after an episode; the
// first one sets the baseline.
func (f *fdSoak) sample() error {
	_, g, h, err := f.stats()
	if err != nil {
		return err
	}
	if !f.sampled {
		f.sampled = true
		f.g0, f.h0 = g, h
	}
	f.maxG, f.maxH = max(f.maxG, g), max(f.maxH, h)
	return nil
}

// run repeats episodes until stop is closed, on one goroutine.
func (f *fdSoak) run(t *testing.T, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(soakFDEvery):
		}
		f.episodes++
		err := f.episode()
		if err == nil {
			err = f.sample()
		}
		if err != nil {
			f.failures++
			if f.failures <= 3 {
				t.Errorf("descriptor episode %d: %v%s", f.episodes, err, f.logs())
			}
		}
	}
}

// episode opens idle connections until the child's accept fails with
// EMFILE, checks that a connection opened before is still served, closes
// them, and checks that a new connection is served through the upstream.
func (f *fdSoak) episode() error {
	before, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer before.Close()
	if status, _ := fdSoakGet(before, "/hello"); status != 200 {
		return fmt.Errorf("before the burst: status %d", status)
	}
	e0, _, _, err := f.stats()
	if err != nil {
		return err
	}
	burst := make([]net.Conn, 0, soakFDBurst)
	defer func() {
		for _, c := range burst {
			c.Close()
		}
	}()
	for range soakFDBurst {
		c, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
		if err != nil {
			return err
		}
		burst = append(burst, c)
	}
	// Bounded wait for the child to run out of descriptors.
	for i := 0; ; i++ {
		e, _, _, err := f.stats()
		if err != nil {
			return err
		}
		if e > e0 {
			break
		}
		if i == 200 {
			return fmt.Errorf("gateway_accept_errors_total{kind=\"emfile\"} stayed at %g after %d connections", e, soakFDBurst)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := fdSoakGet(before, "/hello"); status != 200 {
		return fmt.Errorf("an open connection got %d while out of descriptors", status)
	}
	for _, c := range burst {
		c.Close()
	}
	burst = burst[:0]
	after, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer after.Close()
	if status, body := fdSoakGet(after, "/up/fd"); status != 200 || !strings.HasPrefix(body, "ok /up/fd") {
		return fmt.Errorf("a new connection after the burst got %d %.60q", status, body)
	}
	return nil
}

// fdSoakGet sends a GET for path on c and returns the status and body
// (0 when no answer came within 10s).
func fdSoakGet(c net.Conn, path string) (int, string) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode, string(b)
}

// report logs the episodes and checks that the child stayed flat.
func (f *fdSoak) report(t *testing.T) {
	t.Logf("descriptor exhaustion: %d episodes, %d failed; child goroutines %d → max %d, heap %d KiB → max %d KiB",
		f.episodes, f.failures, f.g0, f.maxG, f.h0>>10, f.maxH>>10)
	if f.episodes == 0 {
		t.Error("no descriptor exhaustion episode ran")
	}
	if f.maxG > f.g0+50 {
		t.Errorf("the descriptor-limited gateway's goroutines grew from %d to %d", f.g0, f.maxG)
	}
	if f.maxH > 2*f.h0+16<<20 {
		t.Errorf("the descriptor-limited gateway's heap grew from %d KiB to %d KiB", f.h0>>10, f.maxH>>10)
	}
}

// soakFDChild is the child: it serves on loopback under a low open-file
// limit, answers "stats" lines on stdin, and exits when stdin closes.
func soakFDChild() bool {
	if os.Getenv(soakFDChildEnv) != "1" {
		return false
	}
	gw, served := serveLimited(`
admin: "off"
access_log: { output: /dev/null }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
  - { name: up, match: { path_prefix: /up/ }, upstream: { targets: ["`+os.Getenv("GATEWAY_SOAK_FD_UPSTREAM")+`"] } }
`, soakFDFree)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case err := <-served:
			childFail(fmt.Errorf("serve returned: %v", err))
		case l, ok := <-lines:
			if !ok {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = gw.Shutdown(ctx)
				cancel()
				os.Exit(0)
			}
			if l != "stats" {
				continue
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Println("stats " + strconv.FormatFloat(testutil.ToFloat64(gw.acceptErrs.emfile), 'g', -1, 64) +
				" " + strconv.Itoa(runtime.NumGoroutine()) + " " + strconv.FormatUint(ms.HeapInuse, 10))
		}
	}
}

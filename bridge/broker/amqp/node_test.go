package amqp

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// rabbitNode is a RabbitMQ node the test runs itself, on loopback ports
// of its own, with its own epmd, cookie, data and logs in a temporary
// directory, so that it can stop, freeze and restart it without
// disturbing the shared server.
type rabbitNode struct {
	t        testing.TB
	bin      string
	dir      string
	name     string
	port     int
	env      []string
	epmd     *exec.Cmd
	cmd      *exec.Cmd
	waitDone chan struct{}
	log      bytes.Buffer
}

// rabbitServerBin finds rabbitmq-server's own script (not the
// /usr/sbin wrapper, which switches to the rabbitmq user).
func rabbitServerBin() (string, error) {
	if bin := os.Getenv("RABBITMQ_SERVER_BIN"); bin != "" {
		return bin, nil
	}
	if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); err == nil {
		return "/usr/lib/rabbitmq/bin/rabbitmq-server", nil
	}
	return exec.LookPath("rabbitmq-server")
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newRabbitNode prepares a node, started by its start method and
// stopped at cleanup. Without rabbitmq-server and epmd the test fails
// when REQUIRE_SERVICES is set and is skipped otherwise.
func newRabbitNode(t testing.TB) *rabbitNode {
	t.Helper()
	bin, err := rabbitServerBin()
	if err == nil {
		_, err = exec.LookPath("epmd")
	}
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("rabbitmq-server: %v (REQUIRE_SERVICES is set)", err)
		}
		t.Skipf("rabbitmq-server: %v", err)
	}
	dir := t.TempDir()
	n := &rabbitNode{t: t, bin: bin, dir: dir, port: freePort(t)}
	n.name = fmt.Sprintf("gwtest-%d@localhost", n.port)
	epmdPort, distPort := freePort(t), freePort(t)
	conf := filepath.Join(dir, "rabbitmq.conf")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(conf, fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\n", n.port))
	write(filepath.Join(dir, "env.conf"), "")
	write(filepath.Join(dir, "enabled_plugins"), "[].\n")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "ERL_") && !strings.HasPrefix(kv, "HOME=") {
			n.env = append(n.env, kv)
		}
	}
	n.env = append(n.env,
		"HOME="+dir, // the Erlang cookie
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_NODENAME="+n.name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_CONFIG_FILE="+conf,
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	)
	// The node's own epmd, in the foreground, so that the node does not
	// start a daemon that outlives the test.
	n.epmd = exec.Command("epmd", "-address", "127.0.0.1", "-port", strconv.Itoa(epmdPort))
	n.epmd.Env = n.env
	if err := n.epmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.epmd.Process.Kill()
		_ = n.epmd.Wait()
	})
	t.Cleanup(n.stop)
	return n
}

func (n *rabbitNode) url() string {
	return "amqp://guest:guest@127.0.0.1:" + strconv.Itoa(n.port) + "/"
}

// start starts the node and waits until it takes an AMQP connection.
func (n *rabbitNode) start() {
	n.t.Helper()
	began := time.Now()
	n.cmd = exec.Command(n.bin)
	n.cmd.Dir = n.dir
	n.cmd.Env = n.env
	n.cmd.Stdout = &n.log
	n.cmd.Stderr = &n.log
	// A process group of its own: stop signals the script and the VM.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitDone = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(n.cmd, n.waitDone)
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := amqp091.DialConfig(n.url(), amqp091.Config{Dial: amqp091.DefaultDial(time.Second)})
		if err == nil {
			_ = c.Close()
			n.t.Logf("rabbitmq node %s up on port %d after %v", n.name, n.port, time.Since(began).Round(time.Millisecond))
			return
		}
		select {
		case <-n.waitDone:
			n.cmd = nil
			n.t.Fatalf("rabbitmq node exited: %s", n.log.String())
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			n.t.Fatalf("rabbitmq node not up after 90s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the node with SIGTERM (SIGKILL after 20s) and waits for it.
func (n *rabbitNode) stop() {
	if n.cmd == nil {
		return
	}
	began := time.Now()
	pgid := n.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGCONT) // in case it is frozen
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-n.waitDone:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-n.waitDone
	}
	// The VM may outlive the script by a moment; wait until the group
	// is gone.
	for i := 0; i < 200 && syscall.Kill(-pgid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(-pgid, 0) == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	n.t.Logf("rabbitmq node stopped after %v", time.Since(began).Round(time.Millisecond))
	n.cmd = nil
}

// ctl runs rabbitmqctl against the node.
func (n *rabbitNode) ctl(args ...string) {
	n.t.Helper()
	cmd := exec.Command(filepath.Join(filepath.Dir(n.bin), "rabbitmqctl"), append([]string{"-n", n.name}, args...)...)
	cmd.Dir = n.dir
	cmd.Env = n.env
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("rabbitmqctl %v: %v: %s", args, err, out)
	}
}

// freeze stops the node's processes (SIGSTOP): connections stay open
// but nothing answers. A signal is delivered asynchronously, so it
// returns only once every process of the node's group is seen stopped,
// or the test fails. thaw resumes them.
func (n *rabbitNode) freeze() {
	n.t.Helper()
	pgid := n.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !groupStopped(pgid) {
		if time.Now().After(deadline) {
			n.t.Fatal("rabbitmq node not stopped 5s after SIGSTOP")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (n *rabbitNode) thaw() { _ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGCONT) }

// groupStopped reports whether every process of process group pgid is
// stopped (state T in /proc/PID/stat).
func groupStopped(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // no /proc: trust the signal
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split
		// after its closing parenthesis.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) || pid == os.Getpid() {
			continue
		}
		if f[0] != "T" && f[0] != "t" && f[0] != "Z" {
			return false
		}
	}
	return true
}

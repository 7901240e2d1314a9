package tour

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The tours: the README sections or the page of docs/ (the whole page when
// sections is empty) whose sh blocks are a tour, run in the order listed;
// how many of their commands at least must have answers to check (so that
// a tour cannot lose its checks unnoticed); and swap, pairs of texts each
// command line has replaced first (to run the same commands on another
// file, as the README says they run).
var tours = []struct {
	file     string
	sections []string
	checked  int
	swap     []string
	setup    func(t *testing.T, r *run)
}{
	{file: "README.md", sections: []string{"A quick tour"}, checked: 8, setup: quickTour},
	{file: "docs/grpc.md", checked: 4},
	{file: "docs/publish.md", checked: 5, setup: publishTour},
	{file: "docs/auth.md", checked: 14},
	{file: "README.md", sections: []string{"Running a fleet"}, checked: 3, setup: etcdFleet},
	{file: "README.md", sections: []string{"Running a fleet"}, checked: 3, setup: consulFleet,
		swap: []string{"configs/fleet.yaml", "configs/fleet-consul.yaml"}},
	{file: "docs/fleet.md", sections: []string{"An instance", "Publishing", "The layout in etcd"}, checked: 12, setup: etcdFleet},
	{file: "docs/fleet.md", sections: []string{"Consul KV"}, checked: 8, setup: consulFleet},
}

// quickTour starts what `make run` (scripts/run.sh) starts: the demo
// upstream on :9001 and :9002 and the gateway with configs/gateway.yaml.
func quickTour(t *testing.T, r *run) {
	r.exec(t, command{line: "bin/demo-upstream -listen 127.0.0.1:9001,127.0.0.1:9002 &"})
	r.exec(t, command{line: "bin/gateway run -config configs/gateway.yaml &"})
}

// TestTour runs every command of the tours against the real
// binaries on free ports (a temporary copy of each configuration with its
// ports rewritten), and checks the lines the tours say they print.
func TestTour(t *testing.T) {
	bin := buildBinaries(t)
	for _, tt := range tours {
		var cmds []command
		text := readDoc(t, tt.file)
		if len(tt.sections) == 0 {
			cmds = tourCommands(t, tt.file, text, "")
		}
		for _, s := range tt.sections {
			cmds = append(cmds, tourCommands(t, tt.file, text, s)...)
		}
		checked := 0
		for i, c := range cmds {
			cmds[i].line = strings.NewReplacer(tt.swap...).Replace(c.line)
			if len(c.expect) > 0 {
				checked++
			}
		}
		name := strings.Join(append([]string{tt.file}, tt.sections...), " ")
		if len(tt.swap) > 0 {
			name += " with " + filepath.Base(tt.swap[len(tt.swap)-1])
		}
		if checked < tt.checked {
			t.Errorf("%s: %d commands with answers, want at least %d", name, checked, tt.checked)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRun(t, bin)
			if tt.setup != nil {
				tt.setup(t, r)
			}
			for _, c := range cmds {
				r.exec(t, c)
			}
		})
	}
}

// buildBinaries builds the commands the tours run. They go to a
// directory of the user's cache, one per checkout, where go build finds
// them up to date and does not link them again (linking the four takes
// about half a minute here); without a cache directory, to a temporary one.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if cache, err := os.UserCacheDir(); err == nil {
		sum := sha256.Sum256([]byte(root))
		d := filepath.Join(cache, "gateway-tour", hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(d, 0o755); err == nil {
			dir = d
		}
	}
	// -pgo=off: the gateway's default.pgo would have every dependency
	// compiled again for what only checks behaviour.
	cmd := exec.Command("go", "build", "-pgo=off", "-o", dir+string(filepath.Separator),
		"./cmd/gateway", "./cmd/demo-upstream", "./cmd/demo-grpc", "./cmd/demo-setup", "./cmd/demo-token")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// run is one tour: its processes, its ports and its temporary files.
type run struct {
	bin, dir string
	// ports maps each port the tours use to a free one.
	ports map[string]string
	// env is added to the environment of every process.
	env []string
	// replace rewrites service addresses in configurations.
	replace []string
	// idSuffix makes each Idempotency-Key of this run new to the brokers.
	idSuffix string
	// vars are the shell variables the tour set (TOKEN=$(...)).
	vars   map[string]string
	client *http.Client
	// fleet is what the fleet tours published and run.
	fleet fleetState
	// answers are the JSON bodies the gateway answered, for cleanups.
	mu      sync.Mutex
	answers []map[string]any
}

// readmePorts are the ports of the tours' examples.
var readmePorts = []string{"8080", "9901", "9001", "9002", "50051", "50052", "9092"}

func newRun(t *testing.T, bin string) *run {
	r := &run{bin: bin, dir: t.TempDir(), ports: map[string]string{}, vars: map[string]string{},
		idSuffix: "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	for _, p := range readmePorts {
		r.ports[p] = freePort(t)
	}
	tr := &http.Transport{ExpectContinueTimeout: time.Second, DisableCompression: true}
	r.client = &http.Client{Timeout: 20 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(tr.CloseIdleConnections)
	return r
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

var portRE = regexp.MustCompile(`(localhost|127\.0\.0\.1)?:(\d+)\b`)

// rewrite replaces the tours' ports by this run's.
func (r *run) rewrite(s string) string {
	return portRE.ReplaceAllStringFunc(s, func(m string) string {
		host, port, _ := strings.Cut(m, ":")
		if p, ok := r.ports[port]; ok {
			port = p
		}
		if host == "localhost" {
			host = "127.0.0.1"
		}
		return host + ":" + port
	})
}

// config writes a copy of the repository's configuration file with this
// run's ports and services, and returns its path.
func (r *run) config(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `listen: ":8080"`, `listen: "127.0.0.1:8080"`)
	s = strings.NewReplacer(r.replace...).Replace(r.rewrite(s))
	path := filepath.Join(r.dir, filepath.Base(file))
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exec runs one command of a tour and checks what it printed.
func (r *run) exec(t *testing.T, c command) {
	t.Helper()
	if m := assignRE.FindStringSubmatch(c.line); m != nil {
		r.vars[m[1]] = strings.TrimSpace(string(r.output(t, c, m[2])))
		return
	}
	words, err := splitWords(r.expand(t, c, c.line))
	if err != nil || len(words) == 0 {
		t.Fatalf("%s: %q: %v", c.pos, c.line, err)
	}
	var out []byte
	switch {
	case words[0] == "make":
		r.make(t, c, words[1:])
		return
	case words[0] == "go" && len(words) == 5 && words[1] == "build" && words[2] == "-o":
		// go build -o bin/NAME ./cmd/NAME: built with the others.
		name, _ := strings.CutPrefix(words[3], "bin/")
		if words[4] != "./cmd/"+name {
			t.Fatalf("%s: %q: only go build -o bin/NAME ./cmd/NAME is known", c.pos, c.line)
		}
		if _, err := os.Stat(filepath.Join(r.bin, name)); err != nil {
			t.Fatalf("%s: %s is not among the binaries the tour test builds: %v", c.pos, name, err)
		}
		return
	case words[len(words)-1] == "&":
		r.start(t, c, words[:len(words)-1])
		return
	case words[0] == "etcdctl" || words[0] == "consul" ||
		words[0] == "bin/gateway" && len(words) > 1 && words[1] == "publish":
		out = r.fleetCommand(t, c, words)
	case words[0] == "bin/gateway" && len(words) > 1 && (words[1] == "validate" || words[1] == "hash-key"):
		cmd := exec.Command(filepath.Join(r.bin, "gateway"), words[1:]...)
		cmd.Dir = "../.."
		if out, err = cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %s: %v\n%s", c.pos, c.line, err, out)
		}
	default:
		out = r.pipeline(t, c, stages(words))
	}
	if missing := matchOutput(r.expected(c), string(out)); len(missing) > 0 {
		t.Errorf("%s: %s\nprinted:\n%s\nlacks the lines:\n%s", c.pos, c.line, out, strings.Join(missing, "\n"))
	}
}

// assignRE is a tour line that sets a shell variable to what a command
// prints: NAME=$(bin/... ARGS).
var assignRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=\$\((bin/[^()]*)\)$`)

// substRE is a command substitution inside a line: $(bin/... ARGS).
var substRE = regexp.MustCompile(`\$\((bin/[^()]*)\)`)

// varRE is a shell variable inside a line: $NAME.
var varRE = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand replaces the command substitutions of line by what they print,
// and then the variables the tour set by their values, as sh does for
// the values the tours use (tokens: no spaces, no quotes).
func (r *run) expand(t *testing.T, c command, line string) string {
	t.Helper()
	line = substRE.ReplaceAllStringFunc(line, func(m string) string {
		return strings.TrimSpace(string(r.output(t, c, substRE.FindStringSubmatch(m)[1])))
	})
	return varRE.ReplaceAllStringFunc(line, func(m string) string {
		v, ok := r.vars[m[1:]]
		if !ok {
			t.Fatalf("%s: %q: the tour did not set %s", c.pos, c.line, m)
		}
		return v
	})
}

// output runs "bin/NAME ARGS" (a command the tour test built) and
// returns what it printed on stdout.
func (r *run) output(t *testing.T, c command, line string) []byte {
	t.Helper()
	words, err := splitWords(line)
	if err != nil || len(words) == 0 {
		t.Fatalf("%s: %q: %v", c.pos, line, err)
	}
	name, _ := strings.CutPrefix(words[0], "bin/")
	cmd := exec.Command(filepath.Join(r.bin, name), words[1:]...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %s: %v", c.pos, line, err)
	}
	return out
}

// expected returns c's expected lines with this run's ports.
func (r *run) expected(c command) []string {
	out := make([]string, len(c.expect))
	for i, e := range c.expect {
		out[i] = r.rewrite(e)
	}
	return out
}

// make runs the targets a tour names: build is done already, and
// demo-brokers runs demo-setup.
func (r *run) make(t *testing.T, c command, targets []string) {
	t.Helper()
	for _, target := range targets {
		switch target {
		case "build":
		case "demo-brokers":
			cmd := exec.Command(filepath.Join(r.bin, "demo-setup"))
			cmd.Env = append(os.Environ(), r.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: demo-setup: %v\n%s", c.pos, err, out)
			}
			t.Logf("%s", out)
		default:
			t.Fatalf("%s: make %s: a target the tour test does not know", c.pos, target)
		}
	}
}

// start starts one of the binaries in the background, as the tours'
// "bin/NAME ... &" does, and waits (bounded) until it serves.
func (r *run) start(t *testing.T, c command, words []string) {
	t.Helper()
	name, ok := strings.CutPrefix(words[0], "bin/")
	if !ok {
		t.Fatalf("%s: %q: only bin/ commands run in the background", c.pos, c.line)
	}
	args := make([]string, 0, len(words)-1)
	for i, w := range words[1:] {
		if i > 0 && words[i] == "-config" {
			w = r.config(t, w)
		}
		args = append(args, r.rewrite(w))
	}
	var out syncBuffer
	cmd := exec.Command(filepath.Join(r.bin, name), args...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", c.pos, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s said:\n%s", name, out.String())
		}
	})
	var ready func() bool
	follows := false
	switch name {
	case "gateway":
		url := "http://127.0.0.1:" + r.ports["9901"] + "/readyz"
		// An instance of a fleet is not ready before a first version
		// serves: it has started once its admin listener answers.
		follows = r.follows(t, args)
		ready = func() bool {
			resp, err := r.client.Get(url)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200 || follows
		}

	default:
		var addrs []string
		for i, a := range args {
			if a == "-listen" && i+1 < len(args) {
				addrs = strings.Split(args[i+1], ",")
			}
		}
		if addrs == nil {
			t.Fatalf("%s: %s without -listen", c.pos, name)
		}
		ready = func() bool {
			for _, a := range addrs {
				conn, err := net.DialTimeout("tcp", a, time.Second)
				if err != nil {
					return false
				}
				conn.Close()
			}
			return true
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case <-exited:
			t.Fatalf("%s: %s exited:\n%s", c.pos, name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not serving after 30s:\n%s", c.pos, name, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if follows {
		r.instanceStarted(t, c)
	}
}

// pipeline runs "[head -c N /dev/zero |] curl ... [| filter ...]" and
// returns what it prints.
func (r *run) pipeline(t *testing.T, c command, st [][]string) []byte {
	t.Helper()
	var stdin []byte
	if h := st[0]; len(h) == 4 && h[0] == "head" && h[1] == "-c" && h[3] == "/dev/zero" {
		n, err := strconv.Atoi(h[2])
		if err != nil {
			t.Fatalf("%s: %v", c.pos, err)
		}
		stdin = make([]byte, n)
		st = st[1:]
	}
	if len(st[0]) == 0 || st[0][0] != "curl" {
		t.Fatalf("%s: %q: a command the tour test does not know", c.pos, c.line)
	}
	out, status, err := r.curl(st[0][1:], stdin)
	if err != nil {
		t.Fatalf("%s: %s: %v", c.pos, c.line, err)
	}
	if len(c.expect) == 0 && status >= 400 {
		t.Errorf("%s: %s: status %d\n%s", c.pos, c.line, status, out)
	}
	for _, f := range st[1:] {
		if out, err = filter(f, out); err != nil {
			t.Fatalf("%s: %v", c.pos, err)
		}
	}
	return out
}

// curl does what curl does with the options the tours use (-i, -s, -X,
// -H, -d, --data-binary, @- for stdin, -u, -o /dev/null, -w with
// %{http_code}) and returns what it prints.
func (r *run) curl(args []string, stdin []byte) ([]byte, int, error) {
	var method, url, writeOut, user string
	var body []byte
	hasBody, include, discard := false, false, false
	hdr := http.Header{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			i++
			if i < len(args) {
				return args[i]
			}
			return ""
		}
		switch a {
		case "-s":
		case "-i", "-si", "-is":
			include = true
		case "-X":
			method = next()
		case "-H":
			name, value, _ := strings.Cut(next(), ":")
			value = strings.TrimSpace(value)
			if strings.EqualFold(name, "Idempotency-Key") {
				value += r.idSuffix
			}
			hdr.Add(name, value)
		case "-o":
			if o := next(); o != "/dev/null" {
				return nil, 0, fmt.Errorf("curl -o %q: only /dev/null is known to the tour test", o)
			}
			discard = true
		case "-w":
			writeOut = next()
		case "-u":
			user = next()
		case "-d", "--data-binary":
			hasBody = true
			if d := next(); d == "@-" {
				body = stdin
			} else {
				body = []byte(d)
			}
		default:
			if strings.HasPrefix(a, "-") || url != "" {
				return nil, 0, fmt.Errorf("curl option %q: unknown to the tour test", a)
			}
			url = a
		}
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	if method == "" {
		method = "GET"
		if hasBody {
			method = "POST"
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), method, r.rewrite(url), bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header = hdr
	if user != "" {
		name, password, _ := strings.Cut(user, ":")
		req.SetBasicAuth(name, password)
	}
	if hasBody && hdr.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if len(body) > 1<<20 {
		req.Header.Set("Expect", "100-continue") // as curl does for large bodies
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	r.note(b)
	var out bytes.Buffer
	if include {
		fmt.Fprintf(&out, "%s %s\n", resp.Proto, resp.Status)
		for name, vs := range resp.Header {
			for _, v := range vs {
				fmt.Fprintf(&out, "%s: %s\n", name, v)
			}
		}
		out.WriteString("\n")
	}
	if !discard {
		out.Write(b)
	}
	if writeOut != "" {
		// The -w variables the tours use.
		out.WriteString(strings.NewReplacer(`%{http_code}`, strconv.Itoa(resp.StatusCode), `\n`, "\n").Replace(writeOut))
	}
	return out.Bytes(), resp.StatusCode, nil
}

// note keeps a JSON answer for the cleanups.
func (r *run) note(body []byte) {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		r.mu.Lock()
		r.answers = append(r.answers, m)
		r.mu.Unlock()
	}
}

// syncBuffer is a bytes.Buffer two processes' outputs may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

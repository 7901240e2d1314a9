package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestMakeBuildStatic: `make build` builds the binaries the README and
// the tours run (bin/gateway, bin/demo-upstream, bin/demo-grpc), each
// without cgo (one static binary, as the README says) and stripped;
// `make build DEBUG=1` keeps the symbols. Read from `make -n`, which
// builds nothing.
func TestMakeBuildStatic(t *testing.T) {
	makeN := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-n", "--no-print-directory", "build"}, args...)...)
		cmd.Dir = "../.."
		// What make build does by default, not what this test's
		// environment (which -race needs with cgo) may say.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CGO_ENABLED=") && !strings.HasPrefix(kv, "DEBUG=") && !strings.HasPrefix(kv, "MAKEFLAGS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var builds []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, " go build ") {
				builds = append(builds, line)
			}
		}
		if len(builds) == 0 {
			t.Fatalf("make -n build %s runs no go build:\n%s", strings.Join(args, " "), out)
		}
		return builds
	}
	stripped := regexp.MustCompile(`-ldflags "-s -w `)
	builds := makeN()
	for _, bin := range []string{"bin/gateway", "bin/demo-upstream", "bin/demo-grpc"} {
		found := false
		for _, line := range builds {
			found = found || strings.Contains(line, " -o "+bin+" ")
		}
		if !found {
			t.Errorf("make build does not build %s", bin)
		}
	}
	for _, line := range builds {
		if !strings.HasPrefix(line, "CGO_ENABLED=0 ") {
			t.Errorf("make build: %q is not built with CGO_ENABLED=0", line)
		}
		if !stripped.MatchString(line) {
			t.Errorf("make build: %q is not stripped (-s -w)", line)
		}
	}
	for _, line := range makeN("DEBUG=1") {
		if !strings.HasPrefix(line, "CGO_ENABLED=0 ") || strings.Contains(line, "-s -w") {
			t.Errorf("make build DEBUG=1: %q, want CGO_ENABLED=0 and the symbols kept", line)
		}
	}
}

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// configs/auth.yaml trusts the demo key: its public half is there.
func TestExampleTrustsTheDemoKey(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-public"}, &out, &errOut, time.Now()); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	cfg, err := os.ReadFile("../../configs/auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var flat strings.Builder
	for _, line := range strings.Split(string(cfg), "\n") {
		flat.WriteString(strings.TrimSpace(line) + "\n")
	}
	if !strings.Contains(flat.String(), out.String()) {
		t.Errorf("configs/auth.yaml lacks the demo public key:\n%s", out.String())
	}
}

func TestMint(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-sub", "bob", "-claim", "tenant=acme"}, &out, &errOut, time.Now()); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if parts := strings.Split(strings.TrimSpace(out.String()), "."); len(parts) != 3 {
		t.Errorf("not a compact JWS: %q", out.String())
	}
	if code := run([]string{"-claim", "novalue"}, &out, &errOut, time.Now()); code != 2 {
		t.Errorf("a claim without = : exit %d, want 2", code)
	}
}

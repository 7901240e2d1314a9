package upstream

import (
	"strings"
	"testing"
)

func TestIsHopByHop(t *testing.T) {
	for _, name := range HopByHop() {
		for _, give := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			if !IsHopByHop([]byte(give)) {
				t.Errorf("IsHopByHop(%q) = false, want true", give)
			}
		}
	}
	for _, give := range []string{"", "Host", "User-Agent", "Content-Length", "Transfer-Encoding",
		"Keep-Alivex", "T", "Upgrade-Insecure-Requests", "Proxy-Authorization-X", strings.Repeat("a", 100)} {
		if IsHopByHop([]byte(give)) {
			t.Errorf("IsHopByHop(%q) = true, want false", give)
		}
	}
}

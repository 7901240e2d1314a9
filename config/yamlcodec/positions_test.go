package yamlcodec

import (
	"sync"
	"testing"
)

// TestPositions checks what the lookups of a Decoder's positions rely on:
// the last record of a path wins, records added after a lookup (an error
// reported while decoding) are found too, lookups from several goroutines
// at once agree, and a nil Positions holds nothing.
func TestPositions(t *testing.T) {
	t.Parallel()
	p := newPositions("shop.yaml")
	p.add("open", lineCol{1, 7})
	p.reserve(2)
	p.addAll([]posRecord{{"open", lineCol{3, 7}}, {"owner", lineCol{4, 1}}})
	if got, ok := p.Get("open"); !ok || got != (Position{"shop.yaml", 3, 7}) {
		t.Errorf("open at %v (%v), want the later record, shop.yaml:3:7", got, ok)
	}
	p.add("notes", lineCol{9, 1})
	p.addAll([]posRecord{{"owner", lineCol{5, 2}}})
	for _, tt := range []struct {
		path string
		want Position
		ok   bool
	}{
		{"notes", Position{"shop.yaml", 9, 1}, true},
		{"owner", Position{"shop.yaml", 5, 2}, true},
		{"shelves", Position{}, false},
	} {
		if got, ok := p.Get(tt.path); ok != tt.ok || got != tt.want {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}

	fresh := newPositions("shop.yaml")
	fresh.add("open", lineCol{2, 3})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got, ok := fresh.Get("open"); !ok || got.Line != 2 {
				t.Errorf("concurrent Get = %v, %v", got, ok)
			}
		})
	}
	wg.Wait()

	var none *Positions
	if got, ok := none.Get("open"); ok || got != (Position{}) {
		t.Errorf("nil Positions: Get = %v, %v", got, ok)
	}
}

// all returns every recorded path and its position.
func (p *Positions) all() map[string]Position {
	p.once.Do(p.index)
	out := make(map[string]Position, len(p.m))
	for path, lc := range p.m {
		out[path] = Position{p.file, int(lc.line), int(lc.col)}
	}
	return out
}

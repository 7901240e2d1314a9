package yamlcodec

import (
	"slices"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Positions records where a Decoder wrote each path of one file. Writing
// one down is an append; the map that looks them up is made on the first
// lookup. Most configurations load without a problem and nothing asks
// where their fields were, so a reload of ten thousand routes does not
// fill a map of a hundred thousand paths it never reads. Lookups are safe
// from several goroutines once decoding is done; a nil *Positions holds
// nothing.
type Positions struct {
	file string
	recs []posRecord // in the order written: a later record of a path wins
	once sync.Once
	m    map[string]lineCol
}

// A posRecord is where path was written, in the file of its Positions.
type posRecord struct {
	path string
	at   lineCol
}

type lineCol struct{ line, col int32 }

func lineColOf(n *yaml.Node) lineCol { return lineCol{int32(n.Line), int32(n.Column)} }

// newPositions returns the positions of file.
func newPositions(file string) *Positions { return &Positions{file: file} }

// add records that path was written at lc. Only the decoding goroutine
// adds, and it may have looked one up already (an error's position).
func (p *Positions) add(path string, lc lineCol) {
	if p.m != nil {
		p.m[path] = lc
		return
	}
	p.recs = append(p.recs, posRecord{path, lc})
}

// reserve makes room for n more records.
func (p *Positions) reserve(n int) {
	if p.m == nil {
		p.recs = slices.Grow(p.recs, n)
	}
}

// addAll adds recs, in order.
func (p *Positions) addAll(recs []posRecord) {
	if p.m != nil {
		for _, r := range recs {
			p.m[r.path] = r.at
		}
		return
	}
	p.recs = append(p.recs, recs...)
}

// Get reports where path was written.
func (p *Positions) Get(path string) (Position, bool) {
	if p == nil {
		return Position{}, false
	}
	p.once.Do(p.index)
	lc, ok := p.m[path]
	if !ok {
		return Position{}, false
	}
	return Position{p.file, int(lc.line), int(lc.col)}, true
}

// index makes the lookup map from the records, which it then lets go.
func (p *Positions) index() {
	p.m = make(map[string]lineCol, len(p.recs))
	for _, r := range p.recs {
		p.m[r.path] = r.at
	}
	p.recs = nil
}

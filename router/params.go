package router

import "bytes"

// MaxParams is the most parameters one template may have (a catch-all
// counts as one). Compile rejects templates with more.
const MaxParams = 8

// Params holds the parameters of a template match. It has a fixed
// capacity and never allocates; the caller owns it and may reuse it for
// many requests (Match resets it). A Params is not safe for concurrent
// use.
//
// The values are borrowed slices of the path passed to Match: they are
// valid until that buffer is changed or reused (with fasthttp, until the
// handler returns). Copy them to keep them longer.
type Params struct {
	n     int
	names [MaxParams]string
	vals  [MaxParams][]byte
}

// Reset empties p.
func (p *Params) Reset() {
	p.n = 0
}

// Len returns the number of parameters.
func (p *Params) Len() int {
	if p == nil {
		return 0
	}
	return p.n
}

// Get returns the value of the named parameter, or nil when there is no
// such parameter. A parameter that is present is never empty, except a
// catch-all ("{rest...}"), which may be.
func (p *Params) Get(name string) []byte {
	if p == nil {
		return nil
	}
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.vals[i]
		}
	}
	return nil
}

// At returns the i-th parameter in template order; it panics unless
// 0 <= i < Len().
func (p *Params) At(i int) (name string, value []byte) {
	if i < 0 || i >= p.n {
		panic("router: Params.At index out of range")
	}
	return p.names[i], p.vals[i]
}

// push appends a value; p may be nil (the caller wants no parameters).
func (p *Params) push(v []byte) {
	if p != nil && p.n < MaxParams {
		p.vals[p.n] = v
		p.n++
	}
}

// pop drops the last value pushed.
func (p *Params) pop() {
	if p != nil && p.n > 0 {
		p.n--
	}
}

// setNames names the values pushed, once the matching rule is known.
func (p *Params) setNames(names []string) {
	if p != nil {
		copy(p.names[:p.n], names)
	}
}

// Segment returns the i-th segment of path, counted from 0 after the
// leading "/": the unit a path parameter names. It is borrowed from path;
// nil when path has fewer segments.
func Segment(path []byte, i int) []byte {
	path = bytes.TrimPrefix(path, []byte{'/'})
	for ; i > 0; i-- {
		j := bytes.IndexByte(path, '/')
		if j < 0 {
			return nil
		}
		path = path[j+1:]
	}
	if j := bytes.IndexByte(path, '/'); j >= 0 {
		path = path[:j]
	}
	return path
}

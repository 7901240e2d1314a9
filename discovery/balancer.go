package discovery

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
)

// Balancer kinds, as NewBalancer and the config's upstream.balance name them.
const (
	RoundRobin   = "round_robin"
	Weighted     = "weighted"
	LeastRequest = "least_request"
)

// ErrUnknownBalancer is returned (wrapped) by NewBalancer for a kind it
// does not know.
var ErrUnknownBalancer = errors.New("discovery: unknown balancer")

// Balancer picks the instance of a Set that serves the next request.
// One Balancer belongs to one route or upstream and keeps its pick state
// (counters) across Sets, so the caller may swap the Set under it.
// Implementations are safe for concurrent use, take no lock and allocate
// nothing.
type Balancer interface {
	// Pick returns the instance for a request at now (Unix nanoseconds).
	// skip is the instance the previous attempt of this request failed
	// on (nil on a first attempt); Pick avoids it whenever another
	// instance exists. Pick returns nil only when set is empty or nil.
	// See the package doc for the panic mode used when all are down.
	Pick(set *Set, now int64, skip *Instance) *Instance
}

var (
	_ Balancer = (*roundRobin)(nil)
	_ Balancer = (*weighted)(nil)
	_ Balancer = (*leastRequest)(nil)
)

// NewBalancer returns a new balancer of the given kind: RoundRobin,
// Weighted or LeastRequest. Any other kind, "" included, is an error
// wrapping ErrUnknownBalancer that names it; defaults are the config's
// business.
func NewBalancer(kind string) (Balancer, error) {
	switch kind {
	case RoundRobin:
		return new(roundRobin), nil
	case Weighted:
		return new(weighted), nil
	case LeastRequest:
		return new(leastRequest), nil
	}
	return nil, fmt.Errorf("%w %q: use %s, %s or %s",
		ErrUnknownBalancer, kind, RoundRobin, Weighted, LeastRequest)
}

// counter is an atomic pick counter alone on its cache line, so that the
// counters of different balancers, written on every pick, do not slow
// each other down.
type counter struct {
	_ [cacheLine]byte
	n atomic.Uint64
	_ [cacheLine - 8]byte
}

// next returns the counter's value and advances it; the first call
// returns 0.
func (c *counter) next() uint64 { return c.n.Add(1) - 1 }

// roundRobin hands out the instances in the Set's order, one after the
// other, passing over those that are not candidates. The picks that would
// have gone to a down instance go to the next candidate after it.
type roundRobin struct{ c counter }

func (b *roundRobin) Pick(s *Set, now int64, skip *Instance) *Instance {
	ins := s.Instances()
	if len(ins) == 0 {
		return nil
	}
	return walk(ins, b.c.next(), now, skip)
}

// weighted walks the Set's weighted schedule, built once per Set (see
// buildSchedule): over a cycle each instance gets exactly its weight's
// share of picks, interleaved. The picks of a down instance go to the next
// candidate in the schedule. With equal weights it is round robin.
type weighted struct{ c counter }

func (b *weighted) Pick(s *Set, now int64, skip *Instance) *Instance {
	if s == nil || len(s.instances) == 0 {
		return nil
	}
	ring := s.schedule
	if ring == nil {
		ring = s.instances // equal weights
	}
	return walk(ring, b.c.next(), now, skip)
}

// walk returns the first candidate of ring at or after position idx
// (modulo its length, wrapping around), or in panic mode the first entry
// that is not skip, or ring[idx] when every entry is skip. ring is not
// empty.
func walk(ring []*Instance, idx uint64, now int64, skip *Instance) *Instance {
	n := uint64(len(ring))
	start := idx % n
	for i, k := start, uint64(0); k < n; k++ {
		if in := ring[i]; in.candidate(now, skip) {
			return in
		}
		if i++; i == n {
			i = 0
		}
	}
	// Panic mode: no candidate.
	for i, k := start, uint64(0); k < n; k++ {
		if in := ring[i]; !in.same(skip) {
			return in
		}
		if i++; i == n {
			i = 0
		}
	}
	return ring[start]
}

// extraDraws bounds the further random draws least_request makes when one
// or both of its first two draws are not candidates, before it falls back
// to walking the list.
const extraDraws = 8

// leastRequest is the power of two choices: it draws two distinct
// instances at random and picks the one with fewer requests in flight per
// unit of weight. It needs no shared counter; its random source is the
// runtime's per-thread generator (math/rand/v2's top-level functions),
// which neither locks nor allocates.
//
// When a draw is not a candidate, up to extraDraws more draws look for
// one; failing that, the list is walked from a random position (and the
// panic rule applies when no candidate exists).
type leastRequest struct{}

func (*leastRequest) Pick(s *Set, now int64, skip *Instance) *Instance {
	ins := s.Instances()
	n := len(ins)
	switch n {
	case 0:
		return nil
	case 1:
		return ins[0]
	}
	i, j := twoDistinct(n)
	a, b := ins[i], ins[j]
	switch aok, bok := a.candidate(now, skip), b.candidate(now, skip); {
	case aok && bok:
		return lighter(a, b)
	case aok:
		return pairWith(ins, a, now, skip)
	case bok:
		return pairWith(ins, b, now, skip)
	}
	for range extraDraws {
		if c := ins[rand.IntN(n)]; c.candidate(now, skip) {
			return pairWith(ins, c, now, skip)
		}
	}
	return walk(ins, rand.Uint64(), now, skip)
}

// twoDistinct returns two distinct random indexes below n (2 <= n < 2^32)
// from one 64-bit draw, each half mapped onto its range by a multiply and
// shift (Lemire's reduction; its bias, below n/2^32, does not matter
// here). One draw costs half of two rand.IntN calls.
func twoDistinct(n int) (i, j int) {
	r := rand.Uint64()
	i = int((r & (1<<32 - 1)) * uint64(n) >> 32)
	j = int((r >> 32) * uint64(n-1) >> 32)
	if j >= i {
		j++
	}
	return i, j
}

// pairWith draws a second candidate distinct from a and returns the
// lighter of the two, or a when the draws find none.
func pairWith(ins []*Instance, a *Instance, now int64, skip *Instance) *Instance {
	for range extraDraws {
		if c := ins[rand.IntN(len(ins))]; c != a && c.candidate(now, skip) {
			return lighter(a, c)
		}
	}
	return a
}

// lighter returns whichever of a and b has fewer requests in flight per
// unit of weight; a on a tie. Weights are at most MaxWeight, so the
// products do not overflow for any realistic in-flight count.
func lighter(a, b *Instance) *Instance {
	if b.InFlight()*int64(a.Weight) < a.InFlight()*int64(b.Weight) {
		return b
	}
	return a
}

package discovery

import (
	"cmp"
	"maps"
	"slices"
)

// The weighted schedule's cycle holds the weights' sum after they are
// reduced by their GCD. A sum above max(minScheduleLen,
// scheduleLenPerInstance*len(instances)) is scaled down to that limit,
// each weight rounded down but kept >= 1 (so the cycle may exceed the
// limit by up to one slot per instance): shares stay exact to about 1/1024 of
// the total, but with many instances of very unequal weights the lightest
// gain (1500 instances of weights 1..100 keep a ratio of 15:1, not 100:1).
const (
	minScheduleLen         = 1024
	scheduleLenPerInstance = 8
)

// Set is an immutable list of instances of one upstream, built once by
// NewSet or NewSetFrom. Safe for concurrent use; replace it as a whole
// (an atomic.Pointer[Set]) when the list changes.
type Set struct {
	instances []*Instance
	// schedule is the weighted balancer's cycle: each instance appears
	// in proportion to its weight, interleaved. Nil when all weights are
	// equal, where the weighted balancer walks instances instead.
	schedule []*Instance
}

// NewSet builds a Set of eps with passive health hs. An Endpoint whose Addr
// was already listed is dropped (the first one wins); weights are clamped
// to [1, MaxWeight]; Meta maps are copied. The order of eps is kept. An
// empty eps gives an empty Set.
func NewSet(eps []Endpoint, hs HealthSettings) *Set {
	return NewSetFrom(nil, eps, hs)
}

// NewSetFrom builds a Set like NewSet, reusing the live state of prev's
// instances (may be nil): an Endpoint whose Addr is in prev keeps its
// in-flight count, failure count and cooldown. When its weight, Meta and
// hs are also unchanged, the Set holds prev's very *Instance; otherwise a
// new Instance shares the old one's state, so a Release or Report on
// either counts for both. prev is not changed.
func NewSetFrom(prev *Set, eps []Endpoint, hs HealthSettings) *Set {
	hs = hs.normalized()
	var old map[string]*Instance
	if prev.Len() > 0 {
		old = make(map[string]*Instance, prev.Len())
		for _, in := range prev.instances {
			old[in.Addr] = in
		}
	}
	seen := make(map[string]struct{}, len(eps))
	s := &Set{instances: make([]*Instance, 0, len(eps))}
	for _, ep := range eps {
		if _, dup := seen[ep.Addr]; dup {
			continue
		}
		seen[ep.Addr] = struct{}{}
		ep.Weight = min(max(ep.Weight, 1), MaxWeight)
		ep.Meta = maps.Clone(ep.Meta)
		s.instances = append(s.instances, reuse(old[ep.Addr], ep, hs))
	}
	s.schedule = buildSchedule(s.instances)
	return s
}

// reuse returns o when it already is ep with hs, else a new Instance for ep
// sharing o's state (a fresh one when o is nil).
func reuse(o *Instance, ep Endpoint, hs HealthSettings) *Instance {
	if o == nil {
		return newInstance(ep, hs, nil)
	}
	if o.Weight == ep.Weight && maps.Equal(o.Meta, ep.Meta) &&
		o.maxFailures == int64(hs.MaxFailures) && o.cooldown == int64(hs.Cooldown) {
		return o
	}
	return newInstance(ep, hs, o.st)
}

// Instances returns the Set's instances in the order NewSet was given
// them. The slice belongs to the Set: read it, never modify it. It stays
// valid (and unchanged) for as long as the Set is referenced.
func (s *Set) Instances() []*Instance {
	if s == nil {
		return nil
	}
	return s.instances
}

// Len returns the number of instances; 0 for a nil Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.instances)
}

// Lookup returns the instance with the address addr, or nil.
// It walks the list: for admin and tests, not the request path.
func (s *Set) Lookup(addr string) *Instance {
	for _, in := range s.Instances() {
		if in.Addr == addr {
			return in
		}
	}
	return nil
}

// buildSchedule returns the weighted balancer's cycle over ins, or nil
// when all weights are equal. Each instance gets exactly its weight's
// number of slots per cycle (weights reduced by their GCD and scaled to fit
// the bounds above), and its slots are spread evenly over the cycle, so
// picks interleave like nginx's smooth weighted round robin: with weights
// 5,1,1 the cycle is a a a b a a c.
//
// Instance i of weight w puts its slots at positions (k+φ)/w of the unit
// interval, k = 0..w-1, where the phase φ = (i+½)/len(ins) staggers
// instances of equal weight; the cycle is all slots in order of position.
// It costs O(L log L) for a cycle of L slots, once per Set.
func buildSchedule(ins []*Instance) []*Instance {
	n := len(ins)
	w := make([]int, n)
	for i, in := range ins {
		w[i] = in.Weight
	}
	total := reduce(w)
	if limit := max(minScheduleLen, scheduleLenPerInstance*n); total > limit {
		for i := range w {
			w[i] = max(1, w[i]*limit/total)
		}
		total = reduce(w)
	}
	if total == n { // all weights equal: plain round robin
		return nil
	}
	type slot struct {
		pos float64
		i   int
	}
	slots := make([]slot, 0, total)
	for i, wi := range w {
		phase := (float64(i) + 0.5) / float64(n)
		for k := range wi {
			slots = append(slots, slot{pos: (float64(k) + phase) / float64(wi), i: i})
		}
	}
	slices.SortFunc(slots, func(a, b slot) int {
		if c := cmp.Compare(a.pos, b.pos); c != 0 {
			return c
		}
		return a.i - b.i
	})
	sched := make([]*Instance, total)
	for j, sl := range slots {
		sched[j] = ins[sl.i]
	}
	return sched
}

// reduce divides the weights w by their greatest common divisor and
// returns their new sum.
func reduce(w []int) int {
	g := 0
	for _, x := range w {
		g = gcd(g, x)
	}
	total := 0
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	return total
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

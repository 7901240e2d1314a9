package discovery

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// addrs returns the addresses of ins.
func addrs(ins []*Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Addr
	}
	return out
}

func TestNewSet(t *testing.T) {
	tests := []struct {
		desc        string
		give        []Endpoint
		wantAddrs   []string
		wantWeights []int
	}{
		{desc: "empty", give: nil, wantAddrs: []string{}, wantWeights: []int{}},
		{
			desc:        "order kept, weights clamped",
			give:        []Endpoint{{Addr: "b:1", Weight: 0}, {Addr: "a:1", Weight: -3}, {Addr: "c:1", Weight: 2 * MaxWeight}},
			wantAddrs:   []string{"b:1", "a:1", "c:1"},
			wantWeights: []int{1, 1, MaxWeight},
		},
		{
			desc:        "duplicate address: first wins",
			give:        []Endpoint{{Addr: "a:1", Weight: 2}, {Addr: "b:1", Weight: 1}, {Addr: "a:1", Weight: 7}},
			wantAddrs:   []string{"a:1", "b:1"},
			wantWeights: []int{2, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := NewSet(tt.give, HealthSettings{})
			if got := addrs(s.Instances()); !slices.Equal(got, tt.wantAddrs) {
				t.Errorf("addrs = %q, want %q", got, tt.wantAddrs)
			}
			var weights []int
			for _, in := range s.Instances() {
				weights = append(weights, in.Weight)
			}
			if !slices.Equal(weights, tt.wantWeights) {
				t.Errorf("weights = %v, want %v", weights, tt.wantWeights)
			}
			if s.Len() != len(tt.wantAddrs) {
				t.Errorf("Len() = %d, want %d", s.Len(), len(tt.wantAddrs))
			}
		})
	}
}

func TestNewSetCopiesMeta(t *testing.T) {
	meta := map[string]string{"zone": "a"}
	s := NewSet([]Endpoint{{Addr: "a:1", Meta: meta}}, HealthSettings{})
	meta["zone"] = "b"
	if got := s.Instances()[0].Meta["zone"]; got != "a" {
		t.Fatalf("Meta[zone] = %q after the caller changed its map, want %q", got, "a")
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if s.Len() != 0 || s.Instances() != nil || s.Lookup("a:1") != nil {
		t.Fatal("nil Set is not empty")
	}
	for _, kind := range []string{RoundRobin, Weighted, LeastRequest} {
		b, _ := NewBalancer(kind)
		if in := b.Pick(s, t0, nil); in != nil {
			t.Errorf("%s: Pick(nil set) = %v, want nil", kind, in.Addr)
		}
	}
}

func TestNewSetFrom(t *testing.T) {
	hs := HealthSettings{MaxFailures: 1, Cooldown: time.Minute}
	prevEps := []Endpoint{
		{Addr: "keep:1", Weight: 1, Meta: map[string]string{"zone": "a"}},
		{Addr: "reweigh:1", Weight: 1},
		{Addr: "gone:1", Weight: 1},
	}
	type want struct {
		samePointer bool // the very *Instance of prev
		sameState   bool // shares prev's live state
	}
	tests := []struct {
		desc   string
		giveHS HealthSettings
		give   []Endpoint
		want   map[string]want
	}{
		{
			desc:   "unchanged endpoints keep their instance, changed ones their state",
			giveHS: hs,
			give: []Endpoint{
				{Addr: "new:1", Weight: 1},
				{Addr: "reweigh:1", Weight: 3},
				{Addr: "keep:1", Weight: 1, Meta: map[string]string{"zone": "a"}},
			},
			want: map[string]want{
				"new:1":     {},
				"reweigh:1": {sameState: true},
				"keep:1":    {samePointer: true, sameState: true},
			},
		},
		{
			desc:   "changed health settings keep the state",
			giveHS: HealthSettings{MaxFailures: 5},
			give:   prevEps,
			want: map[string]want{
				"keep:1":    {sameState: true},
				"reweigh:1": {sameState: true},
				"gone:1":    {sameState: true},
			},
		},
		{
			desc:   "changed meta keeps the state",
			giveHS: hs,
			give:   []Endpoint{{Addr: "keep:1", Weight: 1, Meta: map[string]string{"zone": "b"}}},
			want:   map[string]want{"keep:1": {sameState: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			prev := NewSet(prevEps, hs)
			for _, in := range prev.Instances() {
				in.Acquire()
				in.ReportFailure(t0) // MaxFailures 1: down for a minute
			}
			next := NewSetFrom(prev, tt.give, tt.giveHS)
			if got, want := next.Len(), len(tt.want); got != want {
				t.Fatalf("Len() = %d, want %d", got, want)
			}
			for addr, w := range tt.want {
				in, old := next.Lookup(addr), prev.Lookup(addr)
				if in == nil {
					t.Fatalf("%s missing from the new set", addr)
				}
				if got := in == old; got != w.samePointer {
					t.Errorf("%s: same *Instance = %v, want %v", addr, got, w.samePointer)
				}
				wantFlight, wantDown := int64(0), false
				if w.sameState {
					wantFlight, wantDown = 1, true
				}
				if got := in.InFlight(); got != wantFlight {
					t.Errorf("%s: InFlight() = %d, want %d", addr, got, wantFlight)
				}
				if got := in.Available(at(time.Second)); got == wantDown {
					t.Errorf("%s: Available() = %v, want %v", addr, got, !wantDown)
				}
				if w.sameState {
					// Release on the old instance counts for the new one.
					old.Release()
					if got := in.InFlight(); got != 0 {
						t.Errorf("%s: InFlight() after the old instance's Release = %d, want 0", addr, got)
					}
					if !in.same(old) {
						t.Errorf("%s: same(old) = false", addr)
					}
				}
			}
		})
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		desc       string
		give       []int // weights
		wantLen    int   // cycle length; 0 for no schedule (round robin)
		wantCounts []int // picks of each instance per cycle
		wantMaxRun int   // longest run of one instance, cycle wrapped
	}{
		{desc: "equal weights: no schedule", give: []int{3, 3, 3}},
		{desc: "one instance", give: []int{9}},
		{desc: "5,1,1", give: []int{5, 1, 1}, wantLen: 7, wantCounts: []int{5, 1, 1}, wantMaxRun: 3},
		{desc: "reduced by gcd", give: []int{10, 20, 30}, wantLen: 6, wantCounts: []int{1, 2, 3}, wantMaxRun: 2},
		{desc: "3,2", give: []int{3, 2}, wantLen: 5, wantCounts: []int{3, 2}, wantMaxRun: 2},
		{desc: "large weights scaled to the cap", give: []int{MaxWeight, 1}, wantLen: 1024, wantCounts: []int{1023, 1}, wantMaxRun: 1023},
		{desc: "large weights reduced by gcd", give: []int{30000, 10000, 20000}, wantLen: 6, wantCounts: []int{3, 1, 2}, wantMaxRun: 2},
		{desc: "scaled with a small one kept", give: []int{2000, 1000, 1}, wantLen: 1024, wantCounts: []int{682, 341, 1}, wantMaxRun: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			eps := make([]Endpoint, len(tt.give))
			for i, w := range tt.give {
				eps[i] = Endpoint{Addr: string(rune('a'+i)) + ":1", Weight: w}
			}
			s := NewSet(eps, HealthSettings{})
			if len(s.schedule) != tt.wantLen {
				t.Fatalf("schedule length = %d, want %d", len(s.schedule), tt.wantLen)
			}
			if tt.wantLen == 0 {
				return
			}
			counts := map[string]int{}
			for _, in := range s.schedule {
				counts[in.Addr]++
			}
			for i, in := range s.Instances() {
				if counts[in.Addr] != tt.wantCounts[i] {
					t.Errorf("count of %s = %d, want %d (%v)", in.Addr, counts[in.Addr], tt.wantCounts[i], counts)
				}
			}
			if got := maxRun(addrs(s.schedule)); got != tt.wantMaxRun {
				t.Errorf("longest run = %d, want %d", got, tt.wantMaxRun)
			}
		})
	}
}

// maxRun returns the longest run of equal elements of the cycle seq
// (wrapping from its end to its start).
func maxRun(seq []string) int {
	doubled := append(slices.Clone(seq), seq...)
	best, run := 0, 0
	for i := range doubled {
		if i > 0 && doubled[i] == doubled[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return min(best, len(seq))
}

func TestScheduleManyInstances(t *testing.T) {
	tests := []struct {
		desc    string
		give    func(i int) int // weight of instance i
		wantLen int
		exact   bool // each instance's count equals its weight
	}{
		{desc: "weights 1..3 kept exactly", give: func(i int) int { return 1 + i%3 }, wantLen: 3000, exact: true},
		{desc: "weights 1..100 scaled", give: func(i int) int { return 1 + i%100 }, wantLen: 8 * 1500},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			eps := make([]Endpoint, 1500)
			for i := range eps {
				eps[i] = Endpoint{Addr: "h:" + strconv.Itoa(i), Weight: tt.give(i)}
			}
			s := NewSet(eps, HealthSettings{})
			counts := map[string]int{}
			for _, in := range s.schedule {
				counts[in.Addr]++
			}
			if len(counts) != len(eps) {
				t.Fatalf("%d of %d instances in the schedule", len(counts), len(eps))
			}
			if n := len(s.schedule); n < tt.wantLen*9/10 || n > tt.wantLen+len(eps) {
				t.Fatalf("schedule length %d, want about %d", n, tt.wantLen)
			}
			for _, in := range s.Instances() {
				if tt.exact && counts[in.Addr] != in.Weight {
					t.Fatalf("%s: %d slots, want %d", in.Addr, counts[in.Addr], in.Weight)
				}
				// Scaled 8/50.5: weight 100 keeps 15 slots, the lightest 1.
				if in.Weight == 100 && counts[in.Addr] < 15 {
					t.Fatalf("%s (weight 100): %d slots", in.Addr, counts[in.Addr])
				}
			}
		})
	}
}

package discovery

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var kinds = []string{RoundRobin, Weighted, LeastRequest}

// testHealth puts an instance down for a minute on its first failure.
var testHealth = HealthSettings{MaxFailures: 1, Cooldown: time.Minute}

// newTestSet returns a Set of the addresses with weight 1, and marks the
// addresses in down as failed at t0.
func newTestSet(addrs, down []string) *Set {
	eps := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = Endpoint{Addr: a, Weight: 1}
	}
	s := NewSet(eps, testHealth)
	for _, a := range down {
		s.Lookup(a).ReportFailure(t0)
	}
	return s
}

func mustBalancer(t testing.TB, kind string) Balancer {
	t.Helper()
	b, err := NewBalancer(kind)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPickRules checks the rules every kind shares: which instances may be
// picked given health, skip and time. Each case picks 200 times and wants
// every pick in want and every instance of want picked at least once.
func TestPickRules(t *testing.T) {
	abc := []string{"a:1", "b:1", "c:1"}
	tests := []struct {
		desc string
		give []string // instances
		down []string // failed at t0
		skip string
		now  time.Duration // since t0
		want []string      // the instances that may be picked
	}{
		{desc: "all up", give: abc, want: abc},
		{desc: "skip the instance that just failed", give: abc, skip: "b:1", want: []string{"a:1", "c:1"}},
		{desc: "down instance skipped", give: abc, down: []string{"b:1"}, want: []string{"a:1", "c:1"}},
		{desc: "down and skip", give: abc, down: []string{"b:1"}, skip: "a:1", want: []string{"c:1"}},
		{desc: "two down", give: abc, down: []string{"a:1", "c:1"}, want: []string{"b:1"}},
		{desc: "cooldown not over", give: abc, down: []string{"b:1"}, now: time.Minute - 1, want: []string{"a:1", "c:1"}},
		{desc: "cooldown over", give: abc, down: []string{"b:1"}, now: time.Minute, want: abc},
		{desc: "panic mode: all down", give: abc, down: abc, want: abc},
		{desc: "panic mode still avoids skip", give: abc, down: abc, skip: "a:1", want: []string{"b:1", "c:1"}},
		{desc: "panic mode when the only healthy one is skip", give: abc, down: []string{"a:1", "c:1"}, skip: "b:1", want: []string{"a:1", "c:1"}},
		{desc: "one instance, down and skipped", give: []string{"a:1"}, down: []string{"a:1"}, skip: "a:1", want: []string{"a:1"}},
		{desc: "two instances, skip one", give: []string{"a:1", "b:1"}, skip: "a:1", want: []string{"b:1"}},
		{desc: "empty set", give: nil, want: nil},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.desc, func(t *testing.T) {
				s := newTestSet(tt.give, tt.down)
				skip := s.Lookup(tt.skip)
				b := mustBalancer(t, kind)
				seen := map[string]bool{}
				for range 200 {
					in := b.Pick(s, at(tt.now), skip)
					if in == nil {
						if len(tt.want) != 0 {
							t.Fatal("Pick() = nil")
						}
						continue
					}
					if !slices.Contains(tt.want, in.Addr) {
						t.Fatalf("Pick() = %s, want one of %q", in.Addr, tt.want)
					}
					seen[in.Addr] = true
				}
				if len(seen) != len(tt.want) {
					t.Fatalf("picked %v, want each of %q", seen, tt.want)
				}
			})
		}
	}
}

// TestSkipAcrossSets: the skip instance may come from the Set before a
// swap; the same address in the new Set is still avoided.
func TestSkipAcrossSets(t *testing.T) {
	old := newTestSet([]string{"a:1", "b:1"}, nil)
	next := NewSetFrom(old, []Endpoint{{Addr: "a:1", Weight: 2}, {Addr: "b:1", Weight: 1}}, testHealth)
	if next.Lookup("a:1") == old.Lookup("a:1") {
		t.Fatal("test wants a new *Instance for a:1")
	}
	for _, kind := range kinds {
		b := mustBalancer(t, kind)
		for range 50 {
			if in := b.Pick(next, t0, old.Lookup("a:1")); in.Addr != "b:1" {
				t.Fatalf("%s: Pick() = %s, want b:1", kind, in.Addr)
			}
		}
	}
}

func TestRoundRobinOrder(t *testing.T) {
	tests := []struct {
		desc string
		give []string // instances
		down []string
		want []string // successive picks
	}{
		{desc: "in order, wrapping", give: []string{"a", "b", "c"}, want: []string{"a", "b", "c", "a", "b", "c", "a"}},
		{desc: "a down instance's turn goes to the next", give: []string{"a", "b", "c"}, down: []string{"b"}, want: []string{"a", "c", "c", "a", "c", "c"}},
		{desc: "one instance", give: []string{"a"}, want: []string{"a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := newTestSet(tt.give, tt.down)
			b := mustBalancer(t, RoundRobin)
			var got []string
			for range tt.want {
				got = append(got, b.Pick(s, t0, nil).Addr)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("picks = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWeighted(t *testing.T) {
	tests := []struct {
		desc       string
		give       []int // weights of a, b, c, ...
		down       []string
		cycles     int
		want       []int // picks of each instance per cycle
		wantMaxRun int   // longest run of one instance over all picks
	}{
		{desc: "5,1,1", give: []int{5, 1, 1}, cycles: 50, want: []int{5, 1, 1}, wantMaxRun: 3},
		{desc: "equal weights: round robin", give: []int{2, 2, 2}, cycles: 10, want: []int{1, 1, 1}, wantMaxRun: 1},
		{desc: "1,2,3,4", give: []int{1, 2, 3, 4}, cycles: 10, want: []int{1, 2, 3, 4}, wantMaxRun: 2},
		{desc: "heavy one down: its turns go to the others", give: []int{5, 1, 1}, down: []string{"a"}, cycles: 10, want: []int{0, 4, 3}, wantMaxRun: 4},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			eps := make([]Endpoint, len(tt.give))
			total := 0
			for i, w := range tt.give {
				eps[i] = Endpoint{Addr: string(rune('a' + i)), Weight: w}
				total += w
			}
			cycle := total
			if s := NewSet(eps, HealthSettings{}); s.schedule == nil {
				cycle = len(eps)
			}
			s := NewSet(eps, testHealth)
			for _, a := range tt.down {
				s.Lookup(a).ReportFailure(t0)
			}
			b := mustBalancer(t, Weighted)
			var picks []string
			for range tt.cycles * cycle {
				picks = append(picks, b.Pick(s, t0, nil).Addr)
			}
			for i, in := range s.Instances() {
				if got, want := countOf(picks, in.Addr), tt.want[i]*tt.cycles; got != want {
					t.Errorf("%s: %d picks, want %d", in.Addr, got, want)
				}
			}
			if got := longestRun(picks); got != tt.wantMaxRun {
				t.Errorf("longest run = %d, want %d (%s...)", got, tt.wantMaxRun, strings.Join(picks[:min(len(picks), 30)], ""))
			}
		})
	}
}

func countOf(seq []string, s string) int {
	n := 0
	for _, x := range seq {
		if x == s {
			n++
		}
	}
	return n
}

// longestRun returns the longest run of equal elements of seq.
func longestRun(seq []string) int {
	best, run := 0, 0
	for i := range seq {
		if i > 0 && seq[i] == seq[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return best
}

func TestLeastRequest(t *testing.T) {
	type inst struct {
		weight   int
		inFlight int
	}
	tests := []struct {
		desc      string
		give      []inst
		wantNever []int // indexes never picked
		wantMore  [2]int
	}{
		{desc: "two: always the less loaded", give: []inst{{1, 10}, {1, 0}}, wantNever: []int{0}},
		// Pairs {a,b} {a,c} {b,c} equally likely: a wins 2/3, b 1/3, c never.
		{desc: "three: the most loaded never, the least most often", give: []inst{{1, 0}, {1, 5}, {1, 10}}, wantNever: []int{2}, wantMore: [2]int{0, 1}},
		{desc: "weight-aware: 4 in flight on weight 4 beats 2 on weight 1", give: []inst{{4, 4}, {1, 2}}, wantNever: []int{1}},
		{desc: "equal load: both used", give: []inst{{1, 3}, {1, 3}}, wantMore: [2]int{0, 0}},
	}
	const picks = 3000
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			eps := make([]Endpoint, len(tt.give))
			for i, g := range tt.give {
				eps[i] = Endpoint{Addr: string(rune('a' + i)), Weight: g.weight}
			}
			s := NewSet(eps, HealthSettings{})
			for i, g := range tt.give {
				for range g.inFlight {
					s.Instances()[i].Acquire()
				}
			}
			b := mustBalancer(t, LeastRequest)
			counts := make([]int, len(eps))
			for range picks {
				in := b.Pick(s, t0, nil)
				counts[slices.Index(s.Instances(), in)]++
			}
			for _, i := range tt.wantNever {
				if counts[i] != 0 {
					t.Errorf("instance %d picked %d times, want never (%v)", i, counts[i], counts)
				}
			}
			// Every instance not excluded gets a fair part: at least 1/6.
			for i, c := range counts {
				if !slices.Contains(tt.wantNever, i) && c < picks/6 {
					t.Errorf("instance %d picked %d times of %d (%v)", i, c, picks, counts)
				}
			}
			if m, l := tt.wantMore[0], tt.wantMore[1]; m != l && counts[m] <= counts[l] {
				t.Errorf("instance %d picked %d times, not more than instance %d (%d)", m, counts[m], l, counts[l])
			}
		})
	}
}

func TestNewBalancer(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		wantErr string // "" for no error
	}{
		{desc: "round robin", give: RoundRobin},
		{desc: "weighted", give: Weighted},
		{desc: "least request", give: "least_request"},
		{desc: "unknown kind named", give: "random", wantErr: `discovery: unknown balancer "random": use round_robin, weighted or least_request`},
		{desc: "empty kind", give: "", wantErr: `discovery: unknown balancer "": use round_robin, weighted or least_request`},
		{desc: "case matters", give: "Round_Robin", wantErr: `"Round_Robin"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			b, err := NewBalancer(tt.give)
			if tt.wantErr == "" {
				if err != nil || b == nil {
					t.Fatalf("NewBalancer(%q) = %v, %v", tt.give, b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrUnknownBalancer) {
				t.Fatalf("NewBalancer(%q) error = %v, want %q wrapping ErrUnknownBalancer", tt.give, err, tt.wantErr)
			}
			if b != nil {
				t.Fatalf("NewBalancer(%q) returned a balancer with its error", tt.give)
			}
		})
	}
}

func TestTwoDistinct(t *testing.T) {
	for _, n := range []int{2, 3, 7, 1000} {
		seen := make([]int, n)
		for range 200 * n {
			i, j := twoDistinct(n)
			if i == j || i < 0 || j < 0 || i >= n || j >= n {
				t.Fatalf("twoDistinct(%d) = %d, %d", n, i, j)
			}
			seen[i]++
			seen[j]++
		}
		for k, c := range seen {
			// Each index is drawn with probability 2/n per call: 400 times on average.
			if c < 250 || c > 550 {
				t.Fatalf("twoDistinct(%d): index %d drawn %d times of %d", n, k, c, 200*n)
			}
		}
	}
}

package breaker

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsFailure(t *testing.T) {
	type give struct {
		statuses []int
		status   int
		connErr  bool
	}
	tests := []struct {
		desc string
		give give
		want bool
	}{
		{desc: "200 succeeds", give: give{status: 200}, want: false},
		{desc: "500 fails by default", give: give{status: 500}, want: true},
		{desc: "503 fails by default", give: give{status: 503}, want: true},
		{desc: "599 fails by default", give: give{status: 599}, want: true},
		{desc: "404 does not fail by default", give: give{status: 404}, want: false},
		{desc: "429 does not fail by default", give: give{status: 429}, want: false},
		{desc: "a connection error fails", give: give{connErr: true}, want: true},
		{desc: "a connection error fails with an empty list", give: give{statuses: []int{}, connErr: true}, want: true},
		{desc: "an empty list fails no status", give: give{statuses: []int{}, status: 500}, want: false},
		{desc: "a listed 4xx fails", give: give{statuses: []int{429, 503}, status: 429}, want: true},
		{desc: "a listed 5xx fails", give: give{statuses: []int{429, 503}, status: 503}, want: true},
		{desc: "an unlisted 5xx does not fail", give: give{statuses: []int{429, 503}, status: 500}, want: false},
		{desc: "status 0 does not fail", give: give{status: 0}, want: false},
		{desc: "a status out of range does not fail", give: give{status: 1000}, want: false},
		{desc: "a negative status does not fail", give: give{status: -5}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			b := mustNew(t, "r", Settings{FailureStatuses: tt.give.statuses})
			if got := b.IsFailure(tt.give.status, tt.give.connErr); got != tt.want {
				t.Errorf("IsFailure(%d, %v) = %v, want %v", tt.give.status, tt.give.connErr, got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
		want []string // parts of the error, each of which must be there
	}{
		{desc: "ratio above 1", give: Settings{FailureRatio: 1.5}, want: []string{"failure ratio 1.5"}},
		{desc: "negative ratio", give: Settings{FailureRatio: -0.1}, want: []string{"failure ratio -0.1"}},
		{desc: "negative window", give: Settings{Window: -time.Second}, want: []string{"window -1s"}},
		{desc: "negative open_for", give: Settings{OpenFor: -time.Second}, want: []string{"open_for -1s"}},
		{desc: "status out of range", give: Settings{FailureStatuses: []int{503, 600, 99}}, want: []string{"status 600", "status 99"}},
		{desc: "all errors at once", give: Settings{FailureRatio: 2, OpenFor: -1}, want: []string{"failure ratio 2", "open_for -1ns"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := New("r", tt.give)
			if err == nil {
				t.Fatal("New: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, err := NewSet(tt.give, 0); err == nil {
				t.Error("NewSet: no error")
			}
		})
	}
}

// TestOpensAtThreshold feeds outcomes one by one and checks after which
// one the breaker opens.
func TestOpensAtThreshold(t *testing.T) {
	tests := []struct {
		desc     string
		settings Settings
		give     []int // statuses; connErr for a connection error
		want     int   // index of the call after which it is open; -1: never
	}{
		{
			desc:     "consecutive failures",
			settings: Settings{ConsecutiveFailures: 3},
			give:     []int{500, 502, connErr, 200},
			want:     2,
		},
		{
			desc:     "a success resets the run",
			settings: Settings{ConsecutiveFailures: 3},
			give:     []int{500, 500, 200, 500, 500, 200},
			want:     -1,
		},
		{
			desc:     "failures after a run of successes",
			settings: Settings{ConsecutiveFailures: 3},
			give:     []int{200, 200, 200, 500, 500, 500},
			want:     5,
		},
		{
			desc:     "successes between failures keep breaking the run",
			settings: Settings{ConsecutiveFailures: 3},
			give:     []int{500, 200, 200, 500, 500, 200, 200, 200, 500, 500, noVerdict, 200, 500, 500},
			want:     -1,
		},
		{
			desc:     "ratio waits for min requests",
			settings: Settings{FailureRatio: 0.5, MinRequests: 4},
			give:     []int{500, 500, 200, 500},
			want:     3,
		},
		{
			desc:     "ratio below the threshold",
			settings: Settings{FailureRatio: 0.5, MinRequests: 4},
			give:     []int{200, 200, 500, 200, 200, 500, 200},
			want:     -1,
		},
		{
			desc:     "ratio reached after min requests",
			settings: Settings{FailureRatio: 0.5, MinRequests: 4},
			give:     []int{200, 200, 200, 500, 500, 500},
			want:     5,
		},
		{
			desc:     "ratio without min requests opens on the first failure",
			settings: Settings{FailureRatio: 0.5},
			give:     []int{500},
			want:     0,
		},
		{
			desc:     "either rule opens",
			settings: Settings{FailureRatio: 0.9, MinRequests: 100, ConsecutiveFailures: 2},
			give:     []int{200, 500, 500},
			want:     2,
		},
		{
			desc:     "4xx never counts by default",
			settings: Settings{ConsecutiveFailures: 2},
			give:     []int{404, 429, 400, 403, 404},
			want:     -1,
		},
		{
			desc:     "a listed 4xx counts",
			settings: Settings{ConsecutiveFailures: 2, FailureStatuses: []int{429}},
			give:     []int{429, 429},
			want:     1,
		},
		{
			desc:     "an unlisted 5xx does not count",
			settings: Settings{ConsecutiveFailures: 2, FailureStatuses: []int{503}},
			give:     []int{500, 500, 500},
			want:     -1,
		},
		{
			desc:     "calls without a verdict count neither way",
			settings: Settings{FailureRatio: 0.5, MinRequests: 2},
			give:     []int{200, noVerdict, noVerdict, 500},
			want:     3,
		},
		{
			desc:     "zero settings: five failures in a row",
			settings: Settings{},
			give:     []int{500, 500, 500, 500, 500},
			want:     4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.settings.OpenFor = time.Minute
			b := mustNew(t, "r", tt.settings)
			got := -1
			for i, give := range tt.give {
				if rejected, _ := call(b, give); rejected {
					t.Fatalf("call %d rejected", i)
				}
				if b.State() == Open {
					got = i
					break
				}
			}
			if got != tt.want {
				t.Errorf("opened after call %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNoCallPassesWhileOpen(t *testing.T) {
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: time.Minute})
	trip(t, b)
	for i := range 1000 {
		rejected, ran := call(b, 200)
		if ran || !rejected {
			t.Fatalf("call %d: ran %v, rejected %v while open", i, ran, rejected)
		}
	}
	if b.State() != Open {
		t.Errorf("state %s, want open", b.State())
	}
}

// TestHalfOpenProbes lets more callers than probes arrive at once after
// OpenFor: exactly HalfOpenRequests run; their outcome decides the state.
func TestHalfOpenProbes(t *testing.T) {
	tests := []struct {
		desc   string
		give   int // status every probe reports
		probes uint32
		want   State
	}{
		{desc: "successful probes close", give: 200, probes: 3, want: Closed},
		{desc: "a failing probe reopens", give: 503, probes: 3, want: Open},
		{desc: "one probe by default", give: 200, probes: 0, want: Closed},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			const callers = 10
			openFor := 30 * time.Millisecond
			b := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: openFor, HalfOpenRequests: tt.probes})
			trip(t, b)
			waitState(t, b, HalfOpen, 40*openFor)

			var ran, rejected atomic.Int32
			release := make(chan struct{})
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					if b.Do(func() (int, bool) {
						ran.Add(1)
						<-release
						return tt.give, false
					}) {
						rejected.Add(1)
					}
				})
			}
			deadline := time.Now().Add(5 * time.Second)
			for ran.Load()+rejected.Load() < callers && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()

			want := max(tt.probes, 1)
			if got := ran.Load(); got != int32(want) {
				t.Errorf("%d probes ran, want %d", got, want)
			}
			if got := rejected.Load(); got != callers-int32(want) {
				t.Errorf("%d calls rejected, want %d", got, callers-int32(want))
			}
			if got := b.State(); got != tt.want {
				t.Errorf("state after the probes %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSettledBreakerCycles takes a breaker that has seen only successes
// (which it then runs without counting) through open, half-open and
// closed twice: the counting resumes where it matters.
func TestSettledBreakerCycles(t *testing.T) {
	openFor := 20 * time.Millisecond
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 2, OpenFor: openFor, HalfOpenRequests: 2})
	for cycle := range 2 {
		for i := range 50 {
			if rejected, ran := call(b, 200); rejected || !ran {
				t.Fatalf("cycle %d, success %d: rejected %v, ran %v", cycle, i, rejected, ran)
			}
		}
		at := "cycle " + strconv.Itoa(cycle) + ", "
		callWant(t, b, 500, Closed, at+"one failure")
		callWant(t, b, 502, Open, at+"two failures")
		if rejected, ran := call(b, 200); !rejected || ran {
			t.Fatalf("cycle %d: call while open: rejected %v, ran %v", cycle, rejected, ran)
		}
		waitState(t, b, HalfOpen, 50*openFor)
		// Two probes, each success counted: the breaker closes after the
		// second only.
		callWant(t, b, 200, HalfOpen, at+"one good probe of two")
		callWant(t, b, 200, Closed, at+"two good probes")
	}
}

// callWant makes one call through b that reports give and checks that b
// is then in want; what says after what, for the failure message.
func callWant(t *testing.T, b *Breaker, give int, want State, what string) {
	t.Helper()
	call(b, give)
	if got := b.State(); got != want {
		t.Fatalf("%s: state %s, want %s", what, got, want)
	}
}

// TestSettledConcurrentFailuresOpen: with many callers succeeding while
// others fail, the failures in a row still open the breaker once the
// successes stop.
func TestSettledConcurrentFailuresOpen(t *testing.T) {
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 5, OpenFor: time.Minute})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				give := 200
				if (g+i)%7 == 0 {
					give = 500
				}
				call(b, give)
			}
		})
	}
	wg.Wait()
	if b.State() != Closed {
		t.Fatalf("state %s after runs of at most two failures, want closed", b.State())
	}
	for range 5 {
		call(b, 500)
	}
	if b.State() != Open {
		t.Errorf("state %s after five failures in a row, want open", b.State())
	}
}

// TestProbeWithoutVerdictFreesItsSlot: a probe that reached no verdict
// lets the next caller probe.
func TestProbeWithoutVerdictFreesItsSlot(t *testing.T) {
	openFor := 20 * time.Millisecond
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: openFor})
	trip(t, b)
	waitState(t, b, HalfOpen, 50*openFor)
	if rejected, _ := call(b, noVerdict); rejected {
		t.Fatal("first probe rejected")
	}
	if b.State() != HalfOpen {
		t.Fatalf("state %s after a probe without verdict, want half_open", b.State())
	}
	if rejected, _ := call(b, 200); rejected {
		t.Fatal("second probe rejected")
	}
	if b.State() != Closed {
		t.Errorf("state %s, want closed", b.State())
	}
}

func TestStateChangeCalledOncePerTransition(t *testing.T) {
	var rec recorder
	openFor := 20 * time.Millisecond
	b := mustNew(t, "users", Settings{
		ConsecutiveFailures: 2, OpenFor: openFor, HalfOpenRequests: 2, OnStateChange: rec.record,
	})
	trip(t, b)
	for range 50 { // rejected calls and State change nothing
		call(b, 500)
		b.State()
	}
	waitState(t, b, HalfOpen, 50*openFor)
	call(b, 200)
	call(b, 500) // reopens
	waitState(t, b, HalfOpen, 50*openFor)
	call(b, 200)
	call(b, 200) // closes
	for range 10 {
		call(b, 200)
		b.State()
	}

	want := []transition{
		{"users", Closed, Open},
		{"users", Open, HalfOpen},
		{"users", HalfOpen, Open},
		{"users", Open, HalfOpen},
		{"users", HalfOpen, Closed},
	}
	if got := rec.transitions(); !slices.Equal(got, want) {
		t.Errorf("transitions\n got %v\nwant %v", got, want)
	}
}

// TestWindowForgetsOldFailures: failures older than Window do not count
// toward a run of consecutive failures.
func TestWindowForgetsOldFailures(t *testing.T) {
	window := 60 * time.Millisecond
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 3, Window: window, OpenFor: time.Minute})
	call(b, 500)
	call(b, 500)
	time.Sleep(2 * window)
	call(b, 500)
	call(b, 500)
	if b.State() != Closed {
		t.Fatalf("state %s with two failures in the window, want closed", b.State())
	}
	call(b, 500)
	if b.State() != Open {
		t.Errorf("state %s with three failures in the window, want open", b.State())
	}
}

func TestPanicCountsAsFailure(t *testing.T) {
	for _, successes := range []int{0, 3} { // 3: a settled breaker
		b := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: time.Minute})
		for range successes {
			call(b, 200)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic did not reach the caller")
				}
			}()
			b.Do(func() (int, bool) { panic("upstream handler bug") })
		}()
		if b.State() != Open {
			t.Errorf("after %d successes: state %s after a panic, want open", successes, b.State())
		}
	}
}

func TestSettingsEqual(t *testing.T) {
	tests := []struct {
		desc string
		give [2]Settings
		want bool
	}{
		{desc: "zero and zero", give: [2]Settings{{}, {}}, want: true},
		{desc: "zero and the defaults", give: [2]Settings{{}, {ConsecutiveFailures: 5, Window: DefaultWindow, OpenFor: DefaultOpenFor, HalfOpenRequests: 1}}, want: true},
		{desc: "callback ignored", give: [2]Settings{{}, {OnStateChange: func(string, State, State) {}}}, want: true},
		{desc: "nil statuses and all 5xx", give: [2]Settings{{}, {FailureStatuses: fiveHundreds()}}, want: true},
		{desc: "nil statuses and an empty list", give: [2]Settings{{}, {FailureStatuses: []int{}}}, want: false},
		{desc: "statuses in another order", give: [2]Settings{{FailureStatuses: []int{502, 429}}, {FailureStatuses: []int{429, 502}}}, want: true},
		{desc: "another ratio", give: [2]Settings{{FailureRatio: 0.5}, {FailureRatio: 0.6}}, want: false},
		{desc: "another open_for", give: [2]Settings{{OpenFor: time.Second}, {OpenFor: 2 * time.Second}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.give[0].Equal(tt.give[1]); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

func fiveHundreds() []int {
	var s []int
	for st := 500; st < 600; st++ {
		s = append(s, st)
	}
	return s
}

// TestSettingsCopied: changing the caller's status list later changes
// nothing in the breaker.
func TestSettingsCopied(t *testing.T) {
	statuses := []int{503}
	b := mustNew(t, "r", Settings{FailureStatuses: statuses})
	statuses[0] = 200
	if b.IsFailure(200, false) || !b.IsFailure(503, false) {
		t.Error("the breaker follows the caller's slice")
	}
	if got := b.Settings().FailureStatuses; !slices.Equal(got, []int{503}) {
		t.Errorf("Settings().FailureStatuses = %v, want [503]", got)
	}
	if got := mustNew(t, "r", Settings{FailureStatuses: []int{}}).Settings().FailureStatuses; got == nil {
		t.Error("an empty list came back nil (all 5xx)")
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", HalfOpen: "half_open", Open: "open", 7: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// TestRecord: outcomes found out after Do count like calls, also on a
// settled breaker (one that has seen only successes, and runs calls
// without counting them).
func TestRecord(t *testing.T) {
	for _, successes := range []int{0, 2} {
		b := mustNew(t, "r", Settings{ConsecutiveFailures: 2})
		for range successes {
			call(b, 200)
			b.Record(200, false)
		}
		b.Record(0, true)
		if b.State() != Closed {
			t.Fatalf("after %d successes: state %s after one failure, want closed", successes, b.State())
		}
		b.Record(503, false)
		if b.State() != Open {
			t.Fatalf("after %d successes: state %s after two failures, want open", successes, b.State())
		}
	}
}

func TestOpenRemaining(t *testing.T) {
	b := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: time.Minute})
	if d := b.OpenRemaining(time.Now()); d != 0 {
		t.Errorf("closed: OpenRemaining = %v, want 0", d)
	}
	before := time.Now()
	trip(t, b)
	now := time.Now()
	if d := b.OpenRemaining(now); d <= time.Minute-now.Sub(before) || d > time.Minute {
		t.Errorf("just opened: OpenRemaining = %v, want about 1m", d)
	}
	if d := b.OpenRemaining(now.Add(45 * time.Second)); d <= 14*time.Second || d > 15*time.Second {
		t.Errorf("45s later: OpenRemaining = %v, want about 15s", d)
	}
	if d := b.OpenRemaining(now.Add(2 * time.Minute)); d != 0 {
		t.Errorf("past open_for: OpenRemaining = %v, want 0", d)
	}

	short := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: 20 * time.Millisecond})
	trip(t, short)
	waitState(t, short, HalfOpen, 5*time.Second)
	if d := short.OpenRemaining(time.Now().Add(-time.Hour)); d != 0 {
		t.Errorf("half-open: OpenRemaining = %v, want 0", d)
	}
}

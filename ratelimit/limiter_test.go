package ratelimit

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		want    float64
		wantErr bool
	}{
		{desc: "bare number is per second", give: "100", want: 100},
		{desc: "per second", give: "100/s", want: 100},
		{desc: "per minute", give: "120/m", want: 2},
		{desc: "per hour", give: "5400/h", want: 1.5},
		{desc: "fraction", give: "0.5", want: 0.5},
		{desc: "spaces", give: " 10 / m ", want: 10.0 / 60},
		{desc: "highest", give: "1000000", want: 1e6},
		{desc: "zero", give: "0", wantErr: true},
		{desc: "negative", give: "-1/s", wantErr: true},
		{desc: "too high", give: "1000001", wantErr: true},
		{desc: "one an hour", give: "1/h", want: 1.0 / 3600},
		{desc: "below one a year", give: "0.00001/h", wantErr: true},
		{desc: "unknown unit", give: "10/d", wantErr: true},
		{desc: "empty", give: "", wantErr: true},
		{desc: "not a number", give: "ten/s", wantErr: true},
		{desc: "NaN", give: "NaN", wantErr: true},
		{desc: "infinity", give: "Inf", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := ParseRate(tt.give)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseRate(%q) = %v, want an error", tt.give, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tt.give, err)
			}
			if math.Abs(got-tt.want) > 1e-12*tt.want {
				t.Errorf("ParseRate(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestNewLocalSettings(t *testing.T) {
	tests := []struct {
		desc      string
		give      LocalSettings
		wantErr   error
		wantBurst int
	}{
		{desc: "burst 0 is one second's worth", give: LocalSettings{Rate: 2.5}, wantBurst: 3},
		{desc: "burst 0 at a slow rate is 1", give: LocalSettings{Rate: 0.1}, wantBurst: 1},
		{desc: "explicit burst", give: LocalSettings{Rate: 10, Burst: 4}, wantBurst: 4},
		{desc: "rate 0", give: LocalSettings{}, wantErr: ErrRate},
		{desc: "rate NaN", give: LocalSettings{Rate: math.NaN()}, wantErr: ErrRate},
		{desc: "negative burst", give: LocalSettings{Rate: 1, Burst: -1}, wantErr: ErrBurst},
		{desc: "burst too deep", give: LocalSettings{Rate: minRate, Burst: 1000}, wantErr: ErrBurst},
		{desc: "negative max keys", give: LocalSettings{Rate: 1, MaxKeys: -1}, wantErr: errAny},
		{desc: "negative idle TTL", give: LocalSettings{Rate: 1, IdleTTL: -1}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l, err := NewLocal(tt.give)
			switch {
			case tt.wantErr == errAny && err != nil:
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NewLocal(%+v) error = %v, want %v", tt.give, err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if d := l.Allow([]byte("k"), t0); d.Limit != tt.wantBurst {
				t.Errorf("Limit = %d, want %d", d.Limit, tt.wantBurst)
			}
		})
	}
}

var errAny = errors.New("any error")

// gcra is a token bucket kept the way the Redis script keeps it, in whole
// nanoseconds: tat is the moment the bucket is full again. It is the
// model Local's decisions are held to, computed independently of
// x/time/rate's floating-point token count.
type gcra struct {
	b   bucket
	tat time.Time
}

// allow decides a request at now. x/time/rate lets a request pass while
// less than a nanosecond's worth of a token is missing; when exactly one
// nanosecond's worth is, float rounding decides either way: the model
// passes the request if pass is set, and reports that it was on the edge.
func (g *gcra) allow(now time.Time, pass bool) (d Decision, edge bool) {
	interval, depth := time.Duration(g.b.interval), time.Duration(g.b.depth)
	tat := g.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	wait := next.Sub(now) - depth
	edge = wait == time.Nanosecond
	if wait > 0 && !(edge && pass) {
		return Decision{Limit: g.b.burst, RetryAfter: wait, Reset: tat.Sub(now)}, edge
	}
	g.tat = next
	return Decision{
		Allowed:   true,
		Limit:     g.b.burst,
		Remaining: max(0, int((depth-next.Sub(now))/interval)),
		Reset:     next.Sub(now),
	}, edge
}

// TestLocalMatchesGCRA holds Local, whose buckets are x/time/rate
// Limiters, to the exact GCRA arithmetic of the Redis script: the same
// requests pass with the same Remaining, and RetryAfter and Reset agree
// to a nanosecond. Rates whose interval is a whole number of nanoseconds
// keep the model exact. A request one nanosecond short of its token may
// go either way (see gcra.allow); the model follows Local there.
func TestLocalMatchesGCRA(t *testing.T) {
	tests := []struct {
		desc  string
		rate  float64
		burst int
		step  time.Duration // mean gap between requests
	}{
		{desc: "10/s burst 1, faster than the rate", rate: 10, burst: 1, step: 50 * time.Millisecond},
		{desc: "100/s burst 20, bursts and pauses", rate: 100, burst: 20, step: 8 * time.Millisecond},
		{desc: "0.5/s burst 3, slow", rate: 0.5, burst: 3, step: 900 * time.Millisecond},
		{desc: "1000/s burst 50, a little faster than the rate", rate: 1000, burst: 50, step: 700 * time.Microsecond},
		{desc: "1/m burst 5", rate: 1.0 / 60, burst: 5, step: 20 * time.Second},
		{desc: "1e6/s burst 100, the highest rate", rate: 1e6, burst: 100, step: 500 * time.Nanosecond},
	}
	near := func(a, b time.Duration) bool { return a-b <= time.Nanosecond && b-a <= time.Nanosecond }
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := newLocal(t, LocalSettings{Rate: tt.rate, Burst: tt.burst})
			b, err := newBucket(tt.rate, tt.burst)
			if err != nil {
				t.Fatal(err)
			}
			model := gcra{b: b}
			rng := rand.New(rand.NewPCG(1, uint64(tt.burst)))
			now := t0
			passed, edges := 0, 0
			for i := range 5000 {
				// Mostly close together, sometimes a long pause.
				gap := time.Duration(rng.Int64N(int64(tt.step) * 2))
				if rng.IntN(50) == 0 {
					gap *= 20
				}
				now = now.Add(gap)
				got := l.Allow([]byte("k"), now)
				want, edge := model.allow(now, got.Allowed)
				if edge {
					edges++
				}
				if got.Allowed != want.Allowed || got.Limit != want.Limit || got.Remaining != want.Remaining ||
					!near(got.RetryAfter, want.RetryAfter) || !near(got.Reset, want.Reset) {
					t.Fatalf("request %d at +%v:\n got %+v\nwant %+v", i, now.Sub(t0), got, want)
				}
				if got.Allowed {
					passed++
				}
			}
			t.Logf("%d of 5000 passed, %d a nanosecond short of a token", passed, edges)
			if passed == 0 || passed == 5000 {
				t.Fatalf("%d of 5000 passed: the sequence does not exercise the limit", passed)
			}
		})
	}
}

func TestDecisionFields(t *testing.T) {
	// 10/s, burst 3: a token every 100ms.
	type step struct {
		after time.Duration // since the previous request
		want  Decision
	}
	ms := time.Millisecond
	tests := []struct {
		desc  string
		steps []step
	}{
		{desc: "burst, then denied with the wait for one token", steps: []step{
			{0, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * ms}},
			{0, Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 200 * ms}},
			{0, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * ms}},
			{0, Decision{Limit: 3, RetryAfter: 100 * ms, Reset: 300 * ms}},
			{40 * ms, Decision{Limit: 3, RetryAfter: 60 * ms, Reset: 260 * ms}},
			{60 * ms, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * ms}},
		}},
		{desc: "refills to the burst and no further", steps: []step{
			{0, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * ms}},
			{0, Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 200 * ms}},
			{150 * ms, Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 150 * ms}},
			{time.Hour, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * ms}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := newLocal(t, LocalSettings{Rate: 10, Burst: 3})
			now := t0
			for i, s := range tt.steps {
				now = now.Add(s.after)
				if got := l.Allow([]byte("key"), now); got != s.want {
					t.Errorf("step %d: got %+v, want %+v", i, got, s.want)
				}
			}
		})
	}
}

// keyBytes writes a distinct key for i into buf, like a client address.
func keyBytes(buf []byte, i int) []byte {
	buf = append(buf[:0], "10."...)
	buf = strconv.AppendInt(buf, int64(i>>16&255), 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, int64(i>>8&255), 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, int64(i&255), 10)
	if i>>24 != 0 {
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, int64(i>>24), 10)
	}
	return buf
}

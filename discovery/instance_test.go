package discovery

import (
	"testing"
	"time"
)

// t0 is the tests' clock origin, in Unix nanoseconds.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()

// at returns t0+d in Unix nanoseconds.
func at(d time.Duration) int64 { return t0 + int64(d) }

func TestHealth(t *testing.T) {
	type step struct {
		op   string // "fail", "ok" or "check"
		at   time.Duration
		want bool // for "check": Available
	}
	tests := []struct {
		desc string
		give HealthSettings
		want []step
	}{
		{
			desc: "zero settings: passive health off",
			give: HealthSettings{},
			want: []step{
				{op: "fail"}, {op: "fail"}, {op: "fail"}, {op: "fail"},
				{op: "check", want: true},
			},
		},
		{
			desc: "down after MaxFailures in a row",
			give: HealthSettings{MaxFailures: 3, Cooldown: time.Second},
			want: []step{
				{op: "fail"}, {op: "fail"},
				{op: "check", want: true},
				{op: "fail"},
				{op: "check", want: false},
				{op: "check", at: time.Second - 1, want: false},
			},
		},
		{
			desc: "success resets the count",
			give: HealthSettings{MaxFailures: 3, Cooldown: time.Second},
			want: []step{
				{op: "fail"}, {op: "fail"}, {op: "ok"}, {op: "fail"}, {op: "fail"},
				{op: "check", want: true},
			},
		},
		{
			desc: "cooldown expiry brings it back",
			give: HealthSettings{MaxFailures: 2, Cooldown: 5 * time.Second},
			want: []step{
				{op: "fail", at: time.Second}, {op: "fail", at: time.Second},
				{op: "check", at: 6*time.Second - 1, want: false},
				{op: "check", at: 6 * time.Second, want: true},
			},
		},
		{
			desc: "after cooldown one failure puts it down again",
			give: HealthSettings{MaxFailures: 2, Cooldown: 5 * time.Second},
			want: []step{
				{op: "fail"}, {op: "fail"},
				{op: "check", at: 5 * time.Second, want: true},
				{op: "fail", at: 5 * time.Second},
				{op: "check", at: 10*time.Second - 1, want: false},
				{op: "check", at: 10 * time.Second, want: true},
			},
		},
		{
			desc: "success during cooldown resets the count, not the cooldown",
			give: HealthSettings{MaxFailures: 2, Cooldown: 5 * time.Second},
			want: []step{
				{op: "fail"}, {op: "fail"},
				{op: "ok", at: time.Second},
				{op: "check", at: time.Second, want: false},
				{op: "check", at: 5 * time.Second, want: true},
				{op: "fail", at: 5 * time.Second},
				{op: "check", at: 5 * time.Second, want: true},
			},
		},
		{
			desc: "zero cooldown means DefaultCooldown",
			give: HealthSettings{MaxFailures: 1},
			want: []step{
				{op: "fail"},
				{op: "check", at: DefaultCooldown - 1, want: false},
				{op: "check", at: DefaultCooldown, want: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			in := NewSet([]Endpoint{{Addr: "a:1"}}, tt.give).Instances()[0]
			for i, s := range tt.want {
				switch s.op {
				case "fail":
					in.ReportFailure(at(s.at))
				case "ok":
					in.ReportSuccess()
				case "check":
					if got := in.Available(at(s.at)); got != s.want {
						t.Fatalf("step %d: Available(t0+%v) = %v, want %v (failures %d, down until t0+%v)",
							i, s.at, got, s.want, in.Failures(), time.Duration(in.DownUntil()-t0))
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
		})
	}
}

func TestInFlight(t *testing.T) {
	in := NewSet([]Endpoint{{Addr: "a:1"}}, HealthSettings{}).Instances()[0]
	in.Acquire()
	in.Acquire()
	in.Release()
	if got := in.InFlight(); got != 1 {
		t.Fatalf("InFlight() = %d, want 1", got)
	}
}

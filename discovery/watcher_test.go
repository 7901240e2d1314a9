package discovery

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestSortEndpoints(t *testing.T) {
	tests := []struct {
		desc string
		give []Endpoint
		want []Endpoint
	}{
		{desc: "nil", give: nil, want: nil},
		{
			desc: "sorted by address",
			give: []Endpoint{{Addr: "b:1"}, {Addr: "a:2"}, {Addr: "a:1"}},
			want: []Endpoint{{Addr: "a:1"}, {Addr: "a:2"}, {Addr: "b:1"}},
		},
		{
			desc: "duplicate address: first given wins",
			give: []Endpoint{{Addr: "b:1", Weight: 1}, {Addr: "a:1"}, {Addr: "b:1", Weight: 2}},
			want: []Endpoint{{Addr: "a:1"}, {Addr: "b:1", Weight: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := SortEndpoints(tt.give); !EqualEndpoints(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEqualEndpoints(t *testing.T) {
	zoneA := map[string]string{"zone": "a"}
	tests := []struct {
		desc string
		a, b []Endpoint
		want bool
	}{
		{desc: "nil and empty", a: nil, b: []Endpoint{}, want: true},
		{desc: "same", a: []Endpoint{{Addr: "a:1", Weight: 2, Meta: zoneA}}, b: []Endpoint{{Addr: "a:1", Weight: 2, Meta: map[string]string{"zone": "a"}}}, want: true},
		{desc: "weight differs", a: []Endpoint{{Addr: "a:1", Weight: 2}}, b: []Endpoint{{Addr: "a:1", Weight: 3}}},
		{desc: "meta differs", a: []Endpoint{{Addr: "a:1", Meta: zoneA}}, b: []Endpoint{{Addr: "a:1", Meta: map[string]string{"zone": "b"}}}},
		{desc: "order differs", a: []Endpoint{{Addr: "a:1"}, {Addr: "b:1"}}, b: []Endpoint{{Addr: "b:1"}, {Addr: "a:1"}}},
		{desc: "length differs", a: []Endpoint{{Addr: "a:1"}}, b: nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := EqualEndpoints(tt.a, tt.b); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		desc   string
		give   Backoff
		n      int
		wantLo time.Duration
		wantHi time.Duration
	}{
		{desc: "zero value, first retry", give: Backoff{}, n: 1, wantLo: 125 * time.Millisecond, wantHi: 250 * time.Millisecond},
		{desc: "doubles", give: Backoff{Min: 100 * time.Millisecond, Max: time.Second}, n: 3, wantLo: 200 * time.Millisecond, wantHi: 400 * time.Millisecond},
		{desc: "capped", give: Backoff{Min: 100 * time.Millisecond, Max: time.Second}, n: 50, wantLo: 500 * time.Millisecond, wantHi: time.Second},
		{desc: "huge n does not overflow", give: Backoff{}, n: 1 << 30, wantLo: 15 * time.Second, wantHi: 30 * time.Second},
		{desc: "max below min", give: Backoff{Min: time.Second, Max: time.Millisecond}, n: 4, wantLo: 500 * time.Millisecond, wantHi: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 100 {
				d := tt.give.Delay(tt.n)
				if d < tt.wantLo || d > tt.wantHi {
					t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tt.n, d, tt.wantLo, tt.wantHi)
				}
				seen[d] = true
			}
			if len(seen) < 10 {
				t.Errorf("only %d distinct delays in 100: no jitter", len(seen))
			}
		})
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if !Sleep(ctx, time.Millisecond) {
		t.Error("Sleep cut short without cancel")
	}
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Minute) || time.Since(start) > time.Second {
		t.Error("Sleep did not end with its context")
	}
}

func TestStaleness(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		desc string
		give ServiceStatus
		want time.Duration
	}{
		{desc: "never synced: since start", give: ServiceStatus{Started: t0}, want: time.Minute},
		{desc: "since last sync", give: ServiceStatus{Started: t0, LastSync: t0.Add(50 * time.Second)}, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.give.Staleness(t0.Add(time.Minute)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStaticWatchCopies(t *testing.T) {
	st := Static{"svc": {{Addr: "b:1"}, {Addr: "a:1"}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got []Update
	if err := st.Watch(ctx, "svc", func(u Update) { got = append(got, u) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Changed || got[0].Endpoints[0].Addr != "a:1" {
		t.Fatalf("updates %+v", got)
	}
	if !slices.Equal([]string{st["svc"][0].Addr, st["svc"][1].Addr}, []string{"b:1", "a:1"}) {
		t.Errorf("Watch reordered the map's list: %v", st["svc"])
	}
}

package ratelimit

import (
	"strings"
	"testing"
	"time"
)

// headerRecorder collects what Headers.Write sets, copying as fasthttp does.
type headerRecorder struct {
	lines []string
}

func (r *headerRecorder) set(name, value []byte) {
	r.lines = append(r.lines, string(name)+": "+string(value))
}

// headerSink copies values into storage it keeps, as fasthttp's
// ResponseHeader.SetBytesKV does, without allocating once warm.
type headerSink struct {
	vals [8][]byte
	n    int
}

func (s *headerSink) set(_, value []byte) {
	s.vals[s.n%8] = append(s.vals[s.n%8][:0], value...)
	s.n++
}

func TestHeaders(t *testing.T) {
	allowed := Decision{Allowed: true, Limit: 100, Remaining: 42, Reset: 9*time.Second + time.Millisecond}
	denied := Decision{Limit: 100, RetryAfter: 1500 * time.Millisecond, Reset: 60 * time.Second}
	tests := []struct {
		desc string
		give HeaderSettings
		d    Decision
		want []string
	}{
		{
			desc: "draft, allowed: t is the time until full",
			give: HeaderSettings{Rate: 100.0 / 60, Burst: 100, Draft: true},
			d:    allowed,
			want: []string{`RateLimit-Policy: "default";q=100;w=60`, `RateLimit: "default";r=42;t=10`},
		},
		{
			desc: "draft, denied: Retry-After rounded up, t equal to it",
			give: HeaderSettings{Rate: 100.0 / 60, Burst: 100, Draft: true},
			d:    denied,
			want: []string{`Retry-After: 2`, `RateLimit-Policy: "default";q=100;w=60`, `RateLimit: "default";r=0;t=2`},
		},
		{
			desc: "legacy only",
			give: HeaderSettings{Rate: 100.0 / 60, Burst: 100, Legacy: true},
			d:    allowed,
			want: []string{`RateLimit-Limit: 100`, `RateLimit-Remaining: 42`, `RateLimit-Reset: 10`},
		},
		{
			desc: "both, denied",
			give: HeaderSettings{Policy: "per-ip", Rate: 10, Burst: 20, Draft: true, Legacy: true},
			d:    Decision{Limit: 20, RetryAfter: 100 * time.Millisecond, Reset: 2 * time.Second},
			want: []string{
				`Retry-After: 1`,
				`RateLimit-Policy: "per-ip";q=20;w=2`, `RateLimit: "per-ip";r=0;t=1`,
				`RateLimit-Limit: 20`, `RateLimit-Remaining: 0`, `RateLimit-Reset: 1`,
			},
		},
		{
			desc: "neither: only Retry-After on a denial",
			give: HeaderSettings{Rate: 1},
			d:    Decision{Limit: 1, RetryAfter: 3 * time.Second},
			want: []string{`Retry-After: 3`},
		},
		{
			desc: "neither, allowed: nothing",
			give: HeaderSettings{Rate: 1},
			d:    Decision{Allowed: true, Limit: 1},
		},
		{
			desc: "fast rate, small burst: window 1s, quota the rate",
			give: HeaderSettings{Rate: 200, Burst: 50, Draft: true},
			d:    Decision{Allowed: true, Limit: 50, Remaining: 50},
			want: []string{`RateLimit-Policy: "default";q=200;w=1`, `RateLimit: "default";r=50;t=0`},
		},
		{
			desc: "burst 0 is one second's worth",
			give: HeaderSettings{Rate: 5, Draft: true},
			d:    Decision{Allowed: true, Limit: 5, Remaining: 4, Reset: 200 * time.Millisecond},
			want: []string{`RateLimit-Policy: "default";q=5;w=1`, `RateLimit: "default";r=4;t=1`},
		},
		{
			desc: "policy name quoted as a structured field string",
			give: HeaderSettings{Policy: `a"b\c`, Rate: 1, Burst: 1, Draft: true},
			d:    Decision{Allowed: true, Limit: 1},
			want: []string{`RateLimit-Policy: "a\"b\\c";q=1;w=1`, `RateLimit: "a\"b\\c";r=0;t=0`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h, err := NewHeaders(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			var r headerRecorder
			h.Write(r.set, tt.d, nil)
			if got, want := strings.Join(r.lines, "\n"), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("headers:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestNewHeadersErrors(t *testing.T) {
	tests := []struct {
		desc string
		give HeaderSettings
	}{
		{desc: "no rate", give: HeaderSettings{Draft: true}},
		{desc: "control character in the name", give: HeaderSettings{Policy: "a\nb", Rate: 1}},
		{desc: "non-ASCII name", give: HeaderSettings{Policy: "défaut", Rate: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := NewHeaders(tt.give); err == nil {
				t.Errorf("NewHeaders(%+v) succeeded, want an error", tt.give)
			}
		})
	}
}

// TestHeadersMatchDecisions writes the headers of real decisions: the
// remaining quota counts down, and a denial carries Retry-After.
func TestHeadersMatchDecisions(t *testing.T) {
	l := newLocal(t, LocalSettings{Rate: 1, Burst: 2})
	h, err := NewHeaders(HeaderSettings{Rate: 1, Burst: 2, Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{`RateLimit-Policy: "default";q=2;w=2`, `RateLimit: "default";r=1;t=1`},
		{`RateLimit-Policy: "default";q=2;w=2`, `RateLimit: "default";r=0;t=2`},
		{`Retry-After: 1`, `RateLimit-Policy: "default";q=2;w=2`, `RateLimit: "default";r=0;t=1`},
	}
	var buf []byte
	for i, w := range want {
		var r headerRecorder
		buf = h.Write(r.set, l.Allow([]byte("k"), t0), buf)
		if got, want := strings.Join(r.lines, "\n"), strings.Join(w, "\n"); got != want {
			t.Errorf("request %d:\n%s\nwant:\n%s", i, got, want)
		}
	}
}

package breaker

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSetIsolatesTargets: one target failing opens its breaker only.
func TestSetIsolatesTargets(t *testing.T) {
	var rec recorder
	s, err := NewSet(Settings{ConsecutiveFailures: 2, OpenFor: time.Minute, OnStateChange: rec.record}, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad, good := s.Get("127.0.0.1:9001"), s.Get("127.0.0.1:9002")
	if bad == good {
		t.Fatal("two targets share a breaker")
	}
	if s.Get("127.0.0.1:9001") != bad {
		t.Fatal("Get made a second breaker for a known target")
	}
	trip(t, bad)
	if rejected, ran := call(good, 200); rejected || !ran {
		t.Errorf("healthy target: rejected %v, ran %v", rejected, ran)
	}
	if good.State() != Closed {
		t.Errorf("healthy target %s, want closed", good.State())
	}
	if rejected, _ := call(s.Get("127.0.0.1:9001"), 200); !rejected {
		t.Error("failing target let a call through")
	}
	want := []transition{{"127.0.0.1:9001", Closed, Open}}
	if got := rec.transitions(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("transitions %v, want %v", got, want)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
}

// TestSetBound: past maxTargets the closed breakers go first; open ones
// stay while there is room for them.
func TestSetBound(t *testing.T) {
	const max = 4
	s, err := NewSet(Settings{ConsecutiveFailures: 1, OpenFor: time.Minute}, max)
	if err != nil {
		t.Fatal(err)
	}
	open := s.Get("127.0.0.1:1")
	trip(t, open)
	for i := 2; i <= 20; i++ {
		s.Get(fmt.Sprintf("127.0.0.1:%d", i))
		if s.Len() > max {
			t.Fatalf("Len = %d after %d targets, want at most %d", s.Len(), i, max)
		}
	}
	if s.Get("127.0.0.1:1") != open {
		t.Error("the open breaker was dropped while closed ones could go")
	}

	// Every breaker open: one of them makes room.
	for i := 100; i < 100+3*max; i++ {
		trip(t, s.Get(fmt.Sprintf("127.0.0.1:%d", i)))
		if s.Len() > max {
			t.Fatalf("Len = %d, want at most %d", s.Len(), max)
		}
	}
}

func TestSetConcurrentGet(t *testing.T) {
	s, err := NewSet(Settings{}, 8)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([][]*Breaker, 4)
	for g := range got {
		wg.Go(func() {
			for i := range 200 {
				got[g] = append(got[g], s.Get(fmt.Sprintf("127.0.0.1:%d", i%6)))
			}
		})
	}
	wg.Wait()
	for i := range 6 {
		b := s.Get(fmt.Sprintf("127.0.0.1:%d", i))
		for g := range got {
			if got[g][i] != b {
				t.Errorf("goroutine %d got another breaker for target %d", g, i)
			}
		}
	}
}

func TestNewSetRejectsNegativeBound(t *testing.T) {
	if _, err := NewSet(Settings{}, -1); err == nil {
		t.Error("no error for max targets -1")
	}
}

func TestSetOnTarget(t *testing.T) {
	var made []string
	s, err := NewSet(Settings{OnTarget: func(target string) { made = append(made, target) }}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Get("a:1")
	s.Get("a:1")
	s.Get("b:2")
	if len(made) != 2 || made[0] != "a:1" || made[1] != "b:2" {
		t.Errorf("OnTarget called with %v, want [a:1 b:2]", made)
	}
}

// TestSetOpenRemaining: a Set's open time is that of its soonest open
// target; closed targets do not count.
func TestSetOpenRemaining(t *testing.T) {
	s, err := NewSet(Settings{ConsecutiveFailures: 1, OpenFor: time.Minute}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Get("127.0.0.1:9003") // stays closed
	if d := s.OpenRemaining(time.Now()); d != 0 {
		t.Errorf("none open: OpenRemaining = %v, want 0", d)
	}
	first := s.Get("127.0.0.1:9001")
	trip(t, first)
	now := time.Now()
	// The second opens at least a millisecond after the first.
	for time.Since(now) < time.Millisecond {
	}
	second := s.Get("127.0.0.1:9002")
	trip(t, second)
	now = time.Now()
	want := first.OpenRemaining(now)
	if want <= 0 || want >= second.OpenRemaining(now) {
		t.Fatalf("first %v, second %v: want the first open sooner", want, second.OpenRemaining(now))
	}
	if d := s.OpenRemaining(now); d != want {
		t.Errorf("OpenRemaining = %v, want the first target's %v", d, want)
	}
}

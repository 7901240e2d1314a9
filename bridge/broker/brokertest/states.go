package brokertest

import (
	"slices"
	"sync"
)

// States records the calls of a Publisher's OnStateChange: pass its Add.
type States struct {
	mu     sync.Mutex
	states []bool
}

// Add records one change of state, up or down.
func (l *States) Add(up bool, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, up)
}

// Get returns the changes recorded so far, in order.
func (l *States) Get() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.states)
}

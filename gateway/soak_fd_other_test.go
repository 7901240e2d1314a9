//go:build !linux

package gateway

import "testing"

// fdSoak stands in where the soak cannot lower a child's open-file limit
// and watch its accept fail: descriptor exhaustion is not part of the
// soak there.
type fdSoak struct{}

func soakFDChild() bool                         { return false }
func startFDSoak(*testing.T, string) *fdSoak    { return nil }
func (*fdSoak) run(*testing.T, <-chan struct{}) {}
func (*fdSoak) report(*testing.T)               {}

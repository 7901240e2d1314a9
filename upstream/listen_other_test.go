//go:build !linux

package upstream

import "testing"

// unresponsiveAddr needs Linux's accept-queue behaviour.
func unresponsiveAddr(t *testing.T) string {
	t.Skip("needs a listener whose SYNs go unanswered (Linux only)")
	return ""
}

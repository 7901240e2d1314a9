//go:build race

package gateway

import "testing"

// streamSize under the race detector, which makes every byte copied
// several times slower: still well above heapBound, so a body held in
// memory fails the test; the gigabyte runs without -race
// (stream_giga_test.go).
const streamSize = 256 << 20

// TestStreamDownload: streamSize bytes from the upstream reach the client
// with the whole test process under heapBound.
func TestStreamDownload(t *testing.T) { testStreamDownload(t) }

// TestStreamUpload: streamSize bytes from the client reach the upstream
// with the whole test process under heapBound.
func TestStreamUpload(t *testing.T) { testStreamUpload(t) }

//go:build !race

package gateway

import "testing"

// streamSize is what the stream tests move: a gigabyte. Without the race
// detector (make test's second pass, beside the allocation budgets) that
// takes seconds; with it, minutes (see stream_race_test.go).
const streamSize = 1 << 30

// TestStreamDownload: a gigabyte from the upstream reaches the client with
// the whole test process under heapBound.
func TestStreamDownload(t *testing.T) { testStreamDownload(t) }

// TestStreamUpload: a gigabyte from the client reaches the upstream with
// the whole test process under heapBound.
func TestStreamUpload(t *testing.T) { testStreamUpload(t) }

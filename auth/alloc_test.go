//go:build !race

package auth

import "testing"

func TestExtractAllocatesNothing(t *testing.T) {
	req := request(t, everywhere)
	extractors := []Extractor{
		{},
		{Source: FromHeader, Name: "X-Api-Key"},
		{Source: FromQuery, Name: "access_token"},
		{Source: FromCookie, Name: "session"},
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, e := range extractors {
			if e.Extract(req) == nil {
				t.Fatal("nothing extracted")
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("Extract costs %v allocations, want 0", allocs)
	}
}

package config

import (
	"runtime"
	"strconv"
	"sync"
)

// partMin is the fewest routes inParts gives a goroutine.
const partMin = 256

// inParts calls do for contiguous parts [lo, hi) that cover [0, n): at
// once, up to GOMAXPROCS of them, when n is large enough to be worth it,
// else one part. part numbers the parts from 0, in order; do for part 0
// runs on the calling goroutine.
func inParts(n int, do func(part, lo, hi int)) {
	parts := partsOf(n)
	per := (n + parts - 1) / parts
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(p, p*per, min((p+1)*per, n))
		}()
	}
	do(0, 0, min(per, n))
	wg.Wait()
}

// partsOf is the number of parts inParts cuts n into.
func partsOf(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/partMin))
}

// routesOwn checks each of routes on its own, as routeOwn does; their
// paths are routes[i], i counted from 0. A long list is checked in parts
// at once, each by a copy of v, whose problems are added to v's in the
// order of the routes.
func (v *validator) routesOwn(routes []Route) {
	parts := make([]*validator, partsOf(len(routes)))
	parts[0] = v
	for p := range parts[1:] {
		cp := *v
		cp.rep.Errs, cp.readsFiles = nil, false
		parts[p+1] = &cp
	}
	inParts(len(routes), func(part, lo, hi int) {
		for i := lo; i < hi; i++ {
			parts[part].routeOwn(&routes[i], "routes["+strconv.Itoa(i)+"]")
		}
	})
	for _, pv := range parts[1:] {
		v.rep.Errs = append(v.rep.Errs, pv.rep.Errs...)
		v.readsFiles = v.readsFiles || pv.readsFiles
	}
}

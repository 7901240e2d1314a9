//go:build race

package gateway

// underRace: the race detector doubles the frames on goroutine stacks.
const underRace = true

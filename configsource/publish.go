package configsource

import (
	"context"
	"errors"
)

// Current is the version a fleet is told to serve, as a publisher read
// it: what a publication is compared against.
type Current struct {
	// Version is the number the pointer names; 0 when there is none yet.
	Version int64
	// Rev identifies the pointer's write (etcd's mod revision, Consul's
	// ModifyIndex); 0 when there is no pointer.
	Rev int64
}

// Publisher writes versions to a registry and makes them current (gateway
// publish). Each registry's adapter has one.
type Publisher interface {
	// Current reads the pointer.
	Current(ctx context.Context) (Current, error)
	// Read reads version n, checked against its manifest.
	Read(ctx context.Context, n int64) (Version, error)
	// Key is the key of file name of version n, as errors name it.
	Key(n int64, name string) string
	// Publish writes files as a new version and makes it current, only
	// if the pointer is still from; otherwise it returns an error that
	// is ErrConflict. by says who published, for the manifest.
	Publish(ctx context.Context, files map[string][]byte, from Current, by string) (int64, error)
	// Close releases the connection.
	Close() error
}

// ErrConflict is the base of the errors Publish returns when the pointer
// changed since it was read: another publisher was first.
var ErrConflict = errors.New("the current version changed since it was read (another publisher was first)")

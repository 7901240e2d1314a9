package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fastgate/gateway/auth/jwt/jwks"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// keySources holds the key sources of JWT providers, shared by the routes
// that name a provider and counted by them: a source starts (its first
// JWKS fetch, then its background refresh) with the first route that uses
// it, and stops when the last one is closed. A reload that keeps a
// provider's key settings keeps its source, and so its keys. Not on the
// request path.
type keySources struct {
	mu      sync.Mutex
	sources map[string]*keySource
	watched bool
	made    uint64 // sources made so far
}

// keySource is one provider's source and the routes holding it.
type keySource struct {
	provider string
	src      *jwks.Source
	refs     int
	seq      uint64 // the newest source of a provider is the one reported
}

// acquire returns the key source of provider name with settings p,
// starting it unless d only checks. release gives it back.
func (d *deps) acquireKeys(name string, p *config.JWTProvider) (*keySource, error) {
	ks := &d.keys
	id, err := keySourceID(name, p)
	if err != nil {
		return nil, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if s := ks.sources[id]; s != nil {
		s.refs++
		return s, nil
	}
	set := jwks.Settings{
		URL:                p.JWKSURL,
		RefreshInterval:    p.RefreshInterval,
		MinRefetchInterval: p.MinRefetchInterval,
		Timeout:            p.Timeout,
		MaxBytes:           int64(p.MaxBytes),
	}
	for i := range p.PublicKeys {
		k := &p.PublicKeys[i]
		key, err := jwks.ParsePEM(k.KID, k.Alg, k.Data())
		if err != nil {
			return nil, fmt.Errorf("auth.jwt_providers.%s.public_keys[%d]: %w", name, i, err)
		}
		set.PublicKeys = append(set.PublicKeys, key)
	}
	src, err := jwks.New(set)
	if err != nil {
		return nil, fmt.Errorf("auth.jwt_providers.%s: %w", name, err)
	}
	if !d.check {
		if err := src.Start(); err != nil {
			// The source keeps trying in the background; tokens are
			// answered 503 until a fetch succeeds.
			d.log.Warn("auth: the first fetch of a JWKS failed; retrying in the background",
				"provider", name, "error", err)
		}
	}
	ks.made++
	s := &keySource{provider: name, src: src, refs: 1, seq: ks.made}
	if ks.sources == nil {
		ks.sources = make(map[string]*keySource)
	}
	ks.sources[id] = s
	if !ks.watched && !d.check {
		ks.watched = true
		d.metrics.WatchJWKS(ks.status)
	}
	return s, nil
}

// releaseKeys gives back a route's use of s; the last use stops it.
func (d *deps) releaseKeys(s *keySource) {
	ks := &d.keys
	ks.mu.Lock()
	var stop bool
	for id, held := range ks.sources {
		if held == s {
			if s.refs--; s.refs <= 0 {
				delete(ks.sources, id)
				stop = true
			}
			break
		}
	}
	ks.mu.Unlock()
	if stop {
		_ = s.src.Close()
	}
}

// status lists the sources for the JWKS metrics: for a provider whose
// settings just changed, while routes of both settings serve, the newer.
func (ks *keySources) status() []metrics.JWKSStatus {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := time.Now()
	newest := make(map[string]*keySource, len(ks.sources))
	for _, s := range ks.sources {
		if cur := newest[s.provider]; cur == nil || s.seq > cur.seq {
			newest[s.provider] = s
		}
	}
	out := make([]metrics.JWKSStatus, 0, len(newest))
	for _, s := range newest {
		st := s.src.Stats()
		out = append(out, metrics.JWKSStatus{
			Provider: s.provider, Keys: st.Keys, Successes: st.Successes, Failures: st.Failures,
			Staleness: s.src.Staleness(now),
		})
	}
	slices.SortFunc(out, func(a, b metrics.JWKSStatus) int {
		switch {
		case a.Provider < b.Provider:
			return -1
		case a.Provider > b.Provider:
			return 1
		}
		return 0
	})
	return out
}

// keySourceID identifies a provider's key settings: routes naming the
// same provider with the same key settings share its source. The
// settings of verification (issuer, audiences, claims) are the routes'
// own and leave the source alone.
func keySourceID(name string, p *config.JWTProvider) (string, error) {
	b, err := json.Marshal(struct {
		Name       string
		URL        string
		PublicKeys []config.PublicKey
		Refresh    time.Duration
		Refetch    time.Duration
		Timeout    time.Duration
		MaxBytes   config.ByteSize
	}{name, p.JWKSURL, p.PublicKeys, p.RefreshInterval, p.MinRefetchInterval, p.Timeout, p.MaxBytes})
	return string(b), err
}

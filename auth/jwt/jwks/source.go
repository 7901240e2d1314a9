package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Settings configure a Source. Give either URL or PublicKeys.
type Settings struct {
	// URL is the JWKS endpoint (http or https).
	URL string
	// PublicKeys are static keys used instead of a URL.
	PublicKeys []*Key
	// RefreshInterval is the time between background fetches after a
	// good one; zero means 1 hour.
	RefreshInterval time.Duration
	// RetryInterval is the time before the next fetch after a failed one;
	// zero means 10 seconds.
	RetryInterval time.Duration
	// MinRefetchInterval is the least time between two fetches caused by
	// tokens naming an unknown kid; zero means 5 seconds.
	MinRefetchInterval time.Duration
	// Timeout bounds one fetch, connection to last byte; zero means 5
	// seconds.
	Timeout time.Duration
	// MaxBytes bounds the size of a JWKS document; a larger one is a
	// failed fetch. Zero means 1 MiB.
	MaxBytes int64
	// Client makes the requests; nil means a client of its own, with
	// Timeout as its timeout.
	Client *http.Client
}

func (s *Settings) withDefaults() {
	if s.RefreshInterval <= 0 {
		s.RefreshInterval = time.Hour
	}
	if s.RetryInterval <= 0 {
		s.RetryInterval = 10 * time.Second
	}
	if s.MinRefetchInterval <= 0 {
		s.MinRefetchInterval = 5 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = 1 << 20
	}
	if s.Client == nil {
		s.Client = &http.Client{Timeout: s.Timeout}
	}
}

// Stats describe a source's fetches, for metrics.
type Stats struct {
	// LastSuccess is the time of the last good fetch (zero: none yet; a
	// static source reports its creation).
	LastSuccess time.Time
	// Successes and Failures count fetches.
	Successes, Failures uint64
	// Keys is the number of keys in the current set.
	Keys int
	// LastError is the error of the last failed fetch, nil after a good
	// one.
	LastError error
}

// Source yields the current key set of a provider. It is safe for
// concurrent use.
type Source struct {
	s   Settings
	cur atomic.Pointer[Set]

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	start  sync.Once

	fetchMu     sync.Mutex // one fetch at a time
	lastSuccess atomic.Int64
	successes   atomic.Uint64
	failures    atomic.Uint64
	lastErr     atomic.Pointer[error]

	refetchMu   sync.Mutex
	inflight    chan struct{}
	lastRefetch time.Time
}

// New checks s and returns a source; a URL source holds no keys until
// Start.
func New(s Settings) (*Source, error) {
	switch {
	case s.URL != "" && len(s.PublicKeys) > 0:
		return nil, errors.New("jwks: give a JWKS URL or static public keys, not both")
	case s.URL == "" && len(s.PublicKeys) == 0:
		return nil, errors.New("jwks: give a JWKS URL or static public keys")
	case s.URL != "":
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("jwks: URL %q is not an http(s) URL", s.URL)
		}
	}
	s.withDefaults()
	src := &Source{s: s, done: make(chan struct{})}
	src.ctx, src.cancel = context.WithCancel(context.Background())
	if len(s.PublicKeys) > 0 {
		src.cur.Store(NewSet(s.PublicKeys))
		src.lastSuccess.Store(time.Now().UnixNano())
	}
	return src, nil
}

// Start makes the first fetch of a URL source and starts refreshing in the
// background until Close. It returns the first fetch's error, if any: the
// source keeps trying in the background either way, so a caller may start
// serving (tokens are then Unavailable until a fetch succeeds). For a
// static source it does nothing.
func (src *Source) Start() error {
	if src.s.URL == "" {
		return nil
	}
	var err error
	src.start.Do(func() {
		err = src.refresh()
		go src.loop(err == nil)
	})
	return err
}

// Close stops the background refresh and waits for it. It is safe to call
// before Start and more than once.
func (src *Source) Close() error {
	src.cancel()
	started := true
	src.start.Do(func() { started = false })
	if started && src.s.URL != "" {
		<-src.done
	}
	return nil
}

func (src *Source) loop(lastOK bool) {
	defer close(src.done)
	t := time.NewTimer(src.next(lastOK))
	defer t.Stop()
	for {
		select {
		case <-src.ctx.Done():
			return
		case <-t.C:
			t.Reset(src.next(src.refresh() == nil))
		}
	}
}

func (src *Source) next(ok bool) time.Duration {
	if ok {
		return src.s.RefreshInterval
	}
	return src.s.RetryInterval
}

// Current returns the current key set; nil when a URL source has never
// fetched one.
func (src *Source) Current() *Set { return src.cur.Load() }

// Refetch asks for a fetch because a token named a kid the current set
// lacks. If a fetch is under way it waits for it; else it fetches unless
// one was asked for less than MinRefetchInterval before now. It reports
// whether a fetch happened (so that the caller looks again). A static
// source never fetches.
func (src *Source) Refetch(now time.Time) bool {
	if src.s.URL == "" {
		return false
	}
	src.refetchMu.Lock()
	if ch := src.inflight; ch != nil {
		src.refetchMu.Unlock()
		<-ch
		return true
	}
	if !src.lastRefetch.IsZero() && now.Sub(src.lastRefetch) < src.s.MinRefetchInterval {
		src.refetchMu.Unlock()
		return false
	}
	src.lastRefetch = now
	ch := make(chan struct{})
	src.inflight = ch
	src.refetchMu.Unlock()

	_ = src.refresh()

	src.refetchMu.Lock()
	src.inflight = nil
	src.refetchMu.Unlock()
	close(ch)
	return true
}

// Staleness returns how long ago the last good fetch was, as of now: 0
// for a static source, -1 for a URL source that never fetched.
func (src *Source) Staleness(now time.Time) time.Duration {
	if src.s.URL == "" {
		return 0
	}
	last := src.lastSuccess.Load()
	if last == 0 {
		return -1
	}
	return now.Sub(time.Unix(0, last))
}

// Stats returns the counters of the source.
func (src *Source) Stats() Stats {
	st := Stats{
		Successes: src.successes.Load(),
		Failures:  src.failures.Load(),
		Keys:      src.cur.Load().Len(),
	}
	if last := src.lastSuccess.Load(); last != 0 {
		st.LastSuccess = time.Unix(0, last)
	}
	if e := src.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// refresh fetches the set once and publishes it when it is good.
func (src *Source) refresh() error {
	src.fetchMu.Lock()
	defer src.fetchMu.Unlock()
	keys, err := src.fetch()
	if err != nil {
		src.failures.Add(1)
		src.lastErr.Store(&err)
		return err
	}
	var old []*Key
	if cur := src.cur.Load(); cur != nil {
		old = cur.keys
	}
	src.cur.Store(NewSet(carryOver(old, keys)))
	src.successes.Add(1)
	src.lastSuccess.Store(time.Now().UnixNano())
	src.lastErr.Store(nil)
	return nil
}

func (src *Source) fetch() ([]*Key, error) {
	ctx, cancel := context.WithTimeout(src.ctx, src.s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.s.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := src.s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: fetching %s: %w", src.s.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: fetching %s: status %d", src.s.URL, resp.StatusCode)
	}
	if resp.ContentLength > src.s.MaxBytes {
		return nil, fmt.Errorf("jwks: %s sends %d bytes, over the %d allowed", src.s.URL, resp.ContentLength, src.s.MaxBytes)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, src.s.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: reading %s: %w", src.s.URL, err)
	}
	if int64(len(doc)) > src.s.MaxBytes {
		return nil, fmt.Errorf("jwks: %s sends more than the %d bytes allowed", src.s.URL, src.s.MaxBytes)
	}
	keys, _, err := ParseSet(doc)
	if err != nil {
		return nil, fmt.Errorf("jwks: %s: %w", src.s.URL, err)
	}
	return keys, nil
}

package gateway

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// BrokerFactory connects the broker declared under brokers as name. It is
// called at start for every broker and at each reload for each broker
// whose connection settings changed; it should not wait for the broker
// to answer (a Publisher reconnects on its own).
type BrokerFactory func(name string, b *config.Broker) (broker.Publisher, error)

// brokers holds the open broker connections, each shared by the snapshot
// that declares it and the publish routes that use it, and closed when the
// last of them lets go. A reload that leaves a broker's settings alone
// keeps its connection.
type brokers struct {
	connect BrokerFactory
	mu      sync.Mutex
	open    map[string]*brokerConn // by name; the newest connection of each
}

// brokerConn is one connection to a declared broker.
type brokerConn struct {
	name string
	cfg  config.Broker
	pub  broker.Publisher
	refs int // guarded by brokers.mu
}

// acquire returns the connection of broker name with settings b, opening
// it unless one with the same settings is open. The lock is not held
// while a new connection comes up, so that acquireAll can open several
// at once.
func (bs *brokers) acquire(name string, b *config.Broker) (*brokerConn, error) {
	bs.mu.Lock()
	if c := bs.open[name]; c != nil && c.cfg.SameConnection(b) {
		c.refs++
		bs.mu.Unlock()
		return c, nil
	}
	bs.mu.Unlock()
	if bs.connect == nil {
		return nil, errors.New("this gateway was built without broker support")
	}
	pub, err := bs.connect(name, b)
	if err != nil {
		return nil, fmt.Errorf("broker %q: %w", name, err)
	}
	waitUp(pub, brokerConnectWait)
	c := &brokerConn{name: name, cfg: *b, pub: pub, refs: 1}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.open == nil {
		bs.open = make(map[string]*brokerConn)
	}
	// An older connection under this name stays open for its holders.
	bs.open[name] = c
	return c, nil
}

// brokerConnectWait bounds how long building a configuration waits for a
// new broker connection to come up, so that the first requests find it
// connected. A broker that is down does not hold up the gateway: its
// publishes answer 503 until it is back.
const brokerConnectWait = 2 * time.Second

// waitUp waits until pub is connected, at most within.
func waitUp(pub broker.Publisher, within time.Duration) {
	for deadline := time.Now().Add(within); !pub.Up() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// release lets go of c, closing it when nothing holds it any more.
func (bs *brokers) release(c *brokerConn) {
	if c == nil {
		return
	}
	bs.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && bs.open[c.name] == c {
		delete(bs.open, c.name)
	}
	bs.mu.Unlock()
	if last {
		_ = c.pub.Close()
	}
}

// acquireAll opens (or shares) every broker cfg declares, sorted by name.
// New connections come up concurrently, so brokers that are down hold up
// a start or reload for one brokerConnectWait, not one each. On error it
// holds nothing.
func (bs *brokers) acquireAll(cfg *config.Config) ([]*brokerConn, error) {
	names := make([]string, 0, len(cfg.Brokers))
	for name := range cfg.Brokers {
		names = append(names, name)
	}
	sort.Strings(names)
	conns := make([]*brokerConn, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { conns[i], errs[i] = bs.acquire(name, cfg.Brokers[name]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, c := range conns {
				bs.release(c) // nil for those that failed
			}
			return nil, cfgError(cfg, "brokers."+names[i], err)
		}
	}
	return conns, nil
}

func (bs *brokers) releaseAll(conns []*brokerConn) {
	for _, c := range conns {
		bs.release(c)
	}
}

// brokerStatus lists the brokers of snapshot s, for gateway_broker_up.
func brokerStatus(s *snapshot) []metrics.BrokerStatus {
	if s == nil {
		return nil
	}
	out := make([]metrics.BrokerStatus, 0, len(s.brokers))
	for _, c := range s.brokers {
		out = append(out, metrics.BrokerStatus{Name: c.name, Up: c.pub.Up()})
	}
	return out
}

// brokersReady reports whether every broker of s that readiness requires
// is connected, and names the first that is not.
func brokersReady(s *snapshot) (string, bool) {
	for _, c := range s.brokers {
		if c.cfg.Required && !c.pub.Up() {
			return c.name, false
		}
	}
	return "", true
}

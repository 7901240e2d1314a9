package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fastgate/gateway/bridge/broker"
)

// Defaults of Settings' zero values.
const (
	DefaultBroker             = "127.0.0.1:9092"
	DefaultClientID           = "gateway"
	DefaultMaxBufferedRecords = 10000
	DefaultDeliveryTimeout    = 10 * time.Second
	DefaultRequestTimeout     = 5 * time.Second
	DefaultDialTimeout        = 5 * time.Second
	DefaultPingInterval       = 5 * time.Second
)

// Settings configures a Publisher. Every zero value has a meaning, given
// with each field.
type Settings struct {
	// Brokers are the seed brokers' host:port addresses; the client
	// learns the rest of the cluster from them. Empty means
	// DefaultBroker (127.0.0.1:9092).
	Brokers []string
	// ClientID names the producer in the brokers' logs, metrics and
	// quotas. "" means DefaultClientID ("gateway").
	ClientID string
	// TLS, when set, makes the connections to the brokers TLS with this
	// configuration (the server name defaults to the broker's host). nil
	// means plain TCP.
	TLS *tls.Config
	// Linger is how long a partition's batch waits for more records
	// before it is sent. Records that arrive while a request is in
	// flight are batched anyway. 0 means no wait (franz-go's own default
	// would be 10ms, which every publish would pay).
	Linger time.Duration
	// MaxBufferedRecords bounds the records the client holds that Kafka
	// has not answered yet, those of abandoned publishes included; a
	// publish beyond it fails at once with broker.ErrUnavailable. 0 (or
	// less) means DefaultMaxBufferedRecords (10000).
	MaxBufferedRecords int
	// MaxBufferedBytes bounds the bytes (keys, values, headers) of those
	// records the same way. 0 (or less) means no limit in bytes.
	MaxBufferedBytes int
	// DeliveryTimeout is how long a record may wait in the client for
	// its broker, for example while no broker is reachable, before it is
	// failed: the bound on how late an abandoned publish may still reach
	// Kafka. A record already sent is failed only once its request is
	// answered (so the idempotent producer keeps its sequence). 0 means
	// DefaultDeliveryTimeout (10s); otherwise at least 1s.
	DeliveryTimeout time.Duration
	// RequestTimeout is how long a broker may take to answer a produce
	// request (waiting for the in-sync replicas) before it answers with a
	// timeout error; the client waits 10s more for the answer before it
	// drops the connection. 0 (or less) means DefaultRequestTimeout (5s);
	// otherwise at least 100ms.
	RequestTimeout time.Duration
	// DialTimeout bounds connecting to one broker. 0 (or less) means
	// DefaultDialTimeout (5s).
	DialTimeout time.Duration
	// Compression is the codec of produced batches: "none", "gzip",
	// "snappy", "lz4" or "zstd". Every consumer must be able to decode
	// it. "" means franz-go's default: snappy (a batch is sent
	// uncompressed when that is smaller).
	Compression string
	// AutoCreateTopics asks the brokers to create a missing topic on
	// first use (their auto.create.topics.enable must allow it). false
	// means a publish to a missing topic fails with
	// broker.ErrNotConfirmed once the client has looked it up a few
	// times.
	AutoCreateTopics bool
	// PingInterval is how often the publisher asks a broker for metadata
	// to tell whether the cluster is reachable (what Up reports); one
	// such request may take DialTimeout. 0 (or less) means
	// DefaultPingInterval (5s).
	PingInterval time.Duration
	// OnStateChange, if set, is called with the first state the
	// metadata requests see, then once for each change between
	// reachable (up, nil) and not (down, with the error that showed it),
	// in order, never concurrently, on the publisher's goroutine. Log
	// there; it must not block. It is not called for Close.
	OnStateChange func(up bool, err error)
	// Logger receives the client's own log lines (franz-go), at the
	// levels clientLogger maps them to. nil means none.
	Logger *slog.Logger
}

// Publisher produces records to Kafka with acks from all in-sync
// replicas and the idempotent producer. The franz-go client keeps the
// connections, finds partition leaders and reconnects by itself. Safe for
// concurrent use.
type Publisher struct {
	cl            *kgo.Client
	pingInterval  time.Duration
	pingTimeout   time.Duration
	onStateChange func(bool, error)

	ctx     context.Context // ends at Close; the context of every record
	cancel  context.CancelFunc
	done    chan struct{} // closed when the ping loop returns
	purge   chan string   // topics to purge from the client (see watch)
	recheck chan struct{} // capacity 1: asks the ping loop to ping soon
	state   atomic.Int32  // stateUnknown, stateUp or stateDown
	stateMu sync.Mutex    // serialises setState
	// down is closed when the state turns to stateDown, and replaced by
	// an open one when it turns back: publishes waiting for Kafka stop
	// waiting.
	down  atomic.Pointer[chan struct{}]
	pool  sync.Pool // *pending
	close sync.Once
}

// States of the connection to the cluster, as the last metadata request
// or written record saw it.
const (
	stateUnknown int32 = iota // no answer yet: publishes wait for one
	stateUp
	stateDown // publishes fail at once with errNotConnected
)

// errNotConnected is the error of a publish while no broker answers.
var errNotConnected = fmt.Errorf("kafka: no broker reachable: %w", broker.ErrUnavailable)

var _ broker.Publisher = (*Publisher)(nil)

// New returns a Publisher for s. It does not wait for a broker: the
// client connects on first use and while no broker answers Publish
// fails (with an error wrapping broker.ErrUnavailable, or at its
// context's deadline) and succeeds again, with the same Publisher, once
// one does. It fails only on invalid settings. Call Close to stop it.
func New(s Settings) (*Publisher, error) {
	opts, err := options(s)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		pingInterval:  s.PingInterval,
		pingTimeout:   s.DialTimeout,
		onStateChange: s.OnStateChange,
		recheck:       make(chan struct{}, 1),
	}
	down := make(chan struct{})
	p.down.Store(&down)
	// A connection that closes may be the cluster going away: ping at
	// once rather than at the next interval.
	opts = append(opts, kgo.WithHooks(disconnectHook{p}))
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if p.pingInterval <= 0 {
		p.pingInterval = DefaultPingInterval
	}
	if p.pingTimeout <= 0 {
		p.pingTimeout = DefaultDialTimeout
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.done = make(chan struct{})
	p.purge = make(chan string, 16)
	go p.watch()
	return p, nil
}

// options are the franz-go options for s.
func options(s Settings) ([]kgo.Opt, error) {
	brokers := s.Brokers
	if len(brokers) == 0 {
		brokers = []string{DefaultBroker}
	}
	clientID := s.ClientID
	if clientID == "" {
		clientID = DefaultClientID
	}
	maxRecords := s.MaxBufferedRecords
	if maxRecords <= 0 {
		maxRecords = DefaultMaxBufferedRecords
	}
	delivery := s.DeliveryTimeout
	if delivery == 0 {
		delivery = DefaultDeliveryTimeout
	}
	if delivery < time.Second {
		return nil, fmt.Errorf("kafka: delivery timeout %v: must be at least 1s", delivery)
	}
	request := s.RequestTimeout
	if request <= 0 {
		request = DefaultRequestTimeout
	}
	if request < 100*time.Millisecond {
		return nil, fmt.Errorf("kafka: request timeout %v: must be at least 100ms", request)
	}
	dial := s.DialTimeout
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(dial),
		// Durability. A record counts as written once every in-sync
		// replica has it (acks=all), and the producer is idempotent:
		// the broker drops the duplicates of the client's own retries,
		// in order per partition. Idempotence is franz-go's default
		// (it is on as long as DisableIdempotentWrite is not given,
		// and it requires acks=all); it is kept on deliberately, and
		// in-flight records are never cancelled
		// (AllowIdempotentProduceCancellation is not given either).
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(s.Linger),
		kgo.MaxBufferedRecords(maxRecords),
		kgo.RecordDeliveryTimeout(delivery),
		kgo.ProduceRequestTimeout(request),
	}
	if s.MaxBufferedBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(s.MaxBufferedBytes))
	}
	if s.Logger != nil {
		opts = append(opts, kgo.WithLogger(clientLogger{s.Logger}))
	}
	if s.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(s.TLS.Clone()))
	}
	if s.AutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	switch s.Compression {
	case "":
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("kafka: compression %q: must be none, gzip, snappy, lz4 or zstd", s.Compression)
	}
	return opts, nil
}

// Up reports whether a broker answered the last metadata request the
// publisher sent (every PingInterval, and soon after a connection closed
// or a publish failed), or a record was written since.
func (p *Publisher) Up() bool { return p.state.Load() == stateUp }

// setState records the state of the connection to the cluster.
func (p *Publisher) setState(st int32) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	old := p.state.Swap(st)
	switch {
	case st == stateDown && old != stateDown:
		close(*p.down.Load())
	case st != stateDown && old == stateDown:
		down := make(chan struct{})
		p.down.Store(&down)
	}
}

// nudge asks the ping loop for a ping soon (at most one per
// minRecheckInterval), without blocking.
func (p *Publisher) nudge() {
	select {
	case p.recheck <- struct{}{}:
	default:
	}
}

// disconnectHook nudges the ping loop when a connection to a broker
// closes.
type disconnectHook struct{ p *Publisher }

var _ kgo.HookBrokerDisconnect = disconnectHook{}

func (h disconnectHook) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { h.p.nudge() }

// Close stops the publisher and closes the client: records not yet
// answered fail, and their publishes return an error wrapping
// broker.ErrUnavailable. It waits for the publisher's goroutines to end.
// It is safe to call more than once.
func (p *Publisher) Close() error {
	if p == nil || p.cancel == nil {
		return nil
	}
	p.close.Do(func() {
		p.cancel()
		p.cl.Close() // first: it ends a purge the watch loop may wait on
		<-p.done
		p.setState(stateDown)
	})
	return nil
}

// minPurgeInterval is the least time between two purges of one topic.
const minPurgeInterval = time.Second

// minRecheckInterval is the least time between the start of a ping and
// a ping asked for by nudge.
const minRecheckInterval = 250 * time.Millisecond

// watch pings the cluster every pingInterval, until Close, and keeps
// what Up reports. It also purges from the client the topics Publish
// found recreated (UNKNOWN_TOPIC_ID): franz-go keeps producing to the
// first instance of a topic it knew, and fails every record for a topic
// deleted and created again (or a cluster replaced by an empty one)
// until the topic is purged; after the purge it looks the topic up
// again on the next record. A topic is purged at most once per
// minPurgeInterval, so that the failures of records already under way
// do not purge the new instance's records again and again.
func (p *Publisher) watch() {
	defer close(p.done)
	t := time.NewTicker(p.pingInterval)
	defer t.Stop()
	soon := time.NewTimer(time.Hour) // a nudge that came too early
	soon.Stop()
	defer soon.Stop()
	var lastPing time.Time
	purged := map[string]time.Time{}
	ping := true
	reported, first := false, true
	for {
		if ping {
			lastPing = time.Now()
			ctx, cancel := context.WithTimeout(p.ctx, p.pingTimeout)
			err := p.cl.Ping(ctx)
			cancel()
			if p.ctx.Err() != nil {
				return
			}
			up := err == nil
			if up {
				p.setState(stateUp)
			} else {
				p.setState(stateDown)
			}
			if p.onStateChange != nil && (first || up != reported) {
				p.onStateChange(up, err)
			}
			reported, first = up, false
		}
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			ping = true
		case <-soon.C:
			ping = true
		case <-p.recheck:
			wait := minRecheckInterval - time.Since(lastPing)
			ping = wait <= 0
			if !ping {
				soon.Reset(wait)
			}
		case topic := <-p.purge:
			ping = false
			if time.Since(purged[topic]) >= minPurgeInterval {
				p.cl.PurgeTopicsFromProducing(topic)
				purged[topic] = time.Now()
			}
		}
	}
}

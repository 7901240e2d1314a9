package main

import (
	"fmt"
	"log/slog"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/amqp"
	"github.com/fastgate/gateway/bridge/broker/kafka"
	"github.com/fastgate/gateway/bridge/broker/nats"
	"github.com/fastgate/gateway/bridge/broker/redis"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// brokerFactory connects declared brokers with their adapters: with
// discoverySources, the one place that names them. Each connection logs
// its state changes once, and the errors the NATS server reports outside
// any publish and the Kafka client's own lines through log.
func brokerFactory(log *slog.Logger) gateway.BrokerFactory {
	return func(name string, b *config.Broker) (broker.Publisher, error) {
		onState := func(up bool, err error) {
			if up {
				log.Info("gateway: broker connected", "broker", name)
				return
			}
			args := []any{"broker", name}
			if err != nil {
				args = append(args, "error", err.Error())
			}
			log.Warn("gateway: broker disconnected", args...)
		}
		switch {
		case b.NATS != nil:
			onError := func(err error) { log.Warn("gateway: broker error", "broker", name, "error", err.Error()) }
			return nats.New(nats.Settings{URL: b.NATS.URL, JetStream: *b.NATS.JetStream, OnStateChange: onState, OnError: onError})
		case b.AMQP != nil:
			return amqp.New(amqp.Settings{URL: b.AMQP.URL, OnStateChange: onState})
		case b.Kafka != nil:
			return kafka.New(kafka.Settings{Brokers: b.Kafka.Brokers, ClientID: b.Kafka.ClientID, OnStateChange: onState,
				Logger: log.With("broker", name)})
		case b.Redis != nil:
			r := b.Redis
			return redis.New(redis.Settings{Addr: r.Address, Username: r.Username, Password: r.Password,
				DB: r.DB, MaxLen: int64(r.MaxLen), OnStateChange: onState})
		}
		return nil, fmt.Errorf("broker %q: no kind set", name)
	}
}

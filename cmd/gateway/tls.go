package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/acme"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// tlsEdge is what the HTTPS listener needs from the process: its socket
// and, with tls.acme, the ACME client. Both are built once at start.
type tlsEdge struct {
	ln      net.Listener
	acme    *acme.Manager
	storage *acme.RedisStorage
	redis   *redis.Client
	// served is set once the gateway serves ln (and closes it).
	served bool
}

// openTLS opens the HTTPS listener and prepares the ACME client of cfg;
// a zero tlsEdge when tls.listen is off.
func openTLS(cfg *config.Config, log *slog.Logger) (*tlsEdge, error) {
	e := &tlsEdge{}
	t := &cfg.TLS
	if !t.Enabled() {
		return e, nil
	}
	if a := t.ACME; a != nil {
		s := acme.Settings{
			Domains: a.Domains, Email: a.Email, CA: a.CA, CARootsFile: cfg.ResolvePath(a.CARootsFile),
			HTTPAddr: cfg.Listen, TLSAddr: t.Listen, StorageDir: cfg.ResolvePath(a.Dir), Logger: log,
		}
		if a.Storage == config.ACMEStorageRedis {
			r := cfg.Redis
			e.redis = redis.NewClient(&redis.Options{Addr: r.Address, Username: r.Username, Password: r.Password, DB: r.DB})
			st, err := acme.NewRedisStorage(acme.RedisSettings{Client: e.redis, Logger: log})
			if err != nil {
				e.close()
				return nil, fmt.Errorf("gateway: tls.acme: %w", err)
			}
			e.storage, s.Storage = st, st
		}
		m, err := acme.New(s)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("gateway: tls.acme: %w", err)
		}
		e.acme = m
	}
	ln, err := net.Listen("tcp", t.Listen)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("gateway: tls listen: %w", err)
	}
	e.ln = ln
	return e, nil
}

// acmeClient is the ACME client as the gateway takes it: nil without one.
func (e *tlsEdge) acmeClient() gateway.ACME {
	if e.acme == nil {
		return nil
	}
	return e.acme
}

// start begins obtaining the ACME certificates, once the listeners that
// answer the challenges serve.
func (e *tlsEdge) start(ctx context.Context) error {
	if e.acme == nil {
		return nil
	}
	if err := e.acme.Start(ctx); err != nil {
		return fmt.Errorf("gateway: tls.acme: %w", err)
	}
	return nil
}

// close stops the ACME client and closes what openTLS opened but the
// gateway did not take over (the listener is the gateway's once served).
func (e *tlsEdge) close() {
	if e.ln != nil && !e.served {
		_ = e.ln.Close()
	}
	if e.acme != nil {
		_ = e.acme.Close()
	}
	if e.storage != nil {
		_ = e.storage.Close()
	}
	if e.redis != nil {
		_ = e.redis.Close()
	}
}

// grpcTLS returns the tls.Config of a grpc route's connections and the
// part of their sharing key that tells TLS settings apart; nil and ""
// for plain text.
func grpcTLS(g *config.GRPC) (*tls.Config, string, error) {
	t := g.TLS
	if t == nil {
		return nil, "", nil
	}
	ca, cert, key := t.Paths()
	cfg, err := certs.ClientConfig(certs.ClientSettings{
		CAFile: ca, CertFile: cert, KeyFile: key, ServerName: t.ServerName,
		MinVersion: config.MinTLSVersion(t.MinVersion), InsecureSkipVerify: t.InsecureSkipVerify,
	})
	if err != nil {
		return nil, "", fmt.Errorf("grpc.tls: %w", err)
	}
	return cfg, strings.Join([]string{"|tls", ca, cert, key, t.ServerName, t.MinVersion,
		strconv.FormatBool(t.InsecureSkipVerify), t.Digest()}, "|"), nil
}

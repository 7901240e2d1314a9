package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource/consul"
	"github.com/fastgate/gateway/configsource/etcd"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/reloader"
)

// configFollower keeps the serving configuration current: the reloader of
// the configuration files, or a config source's follower.
type configFollower interface {
	// Run follows changes until ctx ends.
	Run(ctx context.Context)
	// Reload loads the configuration again (SIGHUP, POST /-/reload).
	Reload(trigger string, dryRun bool) (gateway.ReloadResult, error)
}

// newFollower returns what follows cfg's configuration for gw: the files
// (loaded again through loader, which loaded cfg; nil: a new one), or the
// config_source the file names. The returned func releases it once Run
// has returned.
func newFollower(cfg *config.Config, loader *config.Loader, gw *gateway.Gateway, log *slog.Logger) (configFollower, func(), error) {
	checks := []config.Check{gw.RouteConflicts}
	if cs := cfg.ConfigSource; cs != nil && cs.Etcd != nil {
		e := cs.Etcd
		src, err := etcd.New(etcd.Settings[gateway.ReloadResult]{
			Conn:      etcdConn(e),
			StateFile: e.StateFile,
			Local:     cfg,
			Target:    gw.ReloadTarget(),
			Checks:    checks,
			Logger:    log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("config_source.etcd: %w", err)
		}
		gw.SetConfigSource(src.Status)
		log.Info("gateway: following the configuration published to etcd; not ready until a version serves",
			"endpoints", len(e.Endpoints), "prefix", e.Prefix, "state_file", e.StateFile)
		return src, func() { _ = src.Close() }, nil
	}
	if cs := cfg.ConfigSource; cs != nil && cs.Consul != nil {
		c := cs.Consul
		src, err := consul.New(consul.Settings[gateway.ReloadResult]{
			Conn:      consulConn(c),
			WaitTime:  c.WaitTime,
			StateFile: c.StateFile,
			Local:     cfg,
			Target:    gw.ReloadTarget(),
			Checks:    checks,
			Logger:    log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("config_source.consul: %w", err)
		}
		gw.SetConfigSource(src.Status)
		log.Info("gateway: following the configuration published to Consul KV; not ready until a version serves",
			"prefix", c.Prefix, "state_file", c.StateFile)
		return src, func() { _ = src.Close() }, nil
	}
	files, err := reloader.New(reloader.Settings[gateway.ReloadResult]{
		Config: cfg, Target: gw.ReloadTarget(), Checks: checks, Logger: log, Loader: loader,
	})
	if err != nil {
		return nil, nil, err
	}
	return files, func() { _ = files.Close() }, nil
}

// etcdConn is the connection an etcd config source section describes.
func etcdConn(e *config.EtcdSource) etcd.Conn {
	return etcd.Conn{
		Endpoints: e.Endpoints, Prefix: e.Prefix, Username: e.Username, Password: e.Password,
		DialTimeout: e.DialTimeout, RequestTimeout: e.RequestTimeout, MaxBytes: int64(e.MaxBytes),
	}
}

// consulConn is the connection a Consul config source section describes.
func consulConn(c *config.ConsulSource) consul.Conn {
	return consul.Conn{
		Address: c.Address, Token: c.Token, TokenFile: c.TokenFile, Datacenter: c.Datacenter,
		Prefix: c.Prefix, Timeout: c.Timeout, MaxBytes: int64(c.MaxBytes),
	}
}

// publishTimeout bounds the whole of a publication.
const publishTimeout = 30 * time.Second

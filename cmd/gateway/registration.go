package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/registration"
)

// deregisterTimeout bounds the deregistration that begins a shutdown:
// a registry that does not answer delays the drain no longer than this
// (it then removes the instance when its lease or check runs out).
const deregisterTimeout = 5 * time.Second

// selfRegistration is the instance's registration, as the gateway reads
// it.
type selfRegistration struct{ *registration.Registration }

var _ gateway.Registration = selfRegistration{}

func (s selfRegistration) RegistrationStatus() gateway.RegistrationStatus {
	st := s.Status()
	return gateway.RegistrationStatus{Registry: st.Registry, Instances: st.Instances, Registered: st.Registered, Reachable: st.Reachable}
}

// newRegistration builds the registration the configuration asks for,
// not started; nil without one. It reaches the registry through the
// discovery section's settings for it.
func newRegistration(cfg *config.Config, log *slog.Logger) (*selfRegistration, error) {
	rc := cfg.Registration
	if rc == nil {
		return nil, nil
	}
	id := rc.ID
	if id == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return nil, fmt.Errorf("registration.id: no host name to make one of (%v); set registration.id", err)
		}
		id = host + "-" + strconv.Itoa(rc.Port)
	}
	meta := maps.Clone(rc.Meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["version"] = version
	s := registration.Settings{
		Instance: registration.Instance{
			Service: rc.Service, ID: id, Address: rc.Address, Port: rc.Port, Tags: rc.Tags, Meta: meta,
		},
		Logger: log,
	}
	switch rc.Registry {
	case config.SourceConsul:
		c := cfg.Discovery.Consul
		s.Consul = &registration.ConsulSettings{
			Address: c.Address, Token: c.Token, Datacenter: c.Datacenter, WaitTime: c.WaitTime,
			CheckURL: rc.Check.URL, CheckInterval: rc.Check.Interval, CheckTimeout: rc.Check.Timeout,
			DeregisterAfter: rc.Check.DeregisterAfter,
		}
	case config.SourceEtcd:
		e := cfg.Discovery.Etcd
		s.Etcd = &registration.EtcdSettings{
			Endpoints: e.Endpoints, Prefix: e.Prefix, Username: e.Username, Password: e.Password,
			DialTimeout: e.DialTimeout, TTL: rc.TTL,
		}
	}
	r, err := registration.New(s)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	return &selfRegistration{r}, nil
}

// deregister removes the instance from the registry, the first step of
// a shutdown; a failure is logged, never fatal.
func (s *selfRegistration) deregister(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), deregisterTimeout)
	defer cancel()
	if err := s.Deregister(ctx); err != nil {
		log.Warn("registration: deregistration failed; the registry drops this instance when its lease or check runs out",
			"error", err.Error())
	}
}

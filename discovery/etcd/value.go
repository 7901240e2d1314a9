package etcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/discovery"
)

// DefaultPrefix is the key prefix under which services register when
// Settings.Prefix is "".
const DefaultPrefix = "/services/"

// Value is the JSON value of an instance's key, <prefix><service>/<id>:
//
//	{"address": "10.0.0.5", "port": 8080, "weight": 1, "metadata": {"zone": "a", "version": "1.2"}}
//
// Fields not listed here are ignored, so registrations may carry more.
type Value struct {
	// Address is an IP address or a host name; required. An IPv6
	// address is written without brackets ("fd00::5").
	Address string `json:"address"`
	// Port is the TCP port, 1 to 65535; required.
	Port int `json:"port"`
	// Weight is the instance's share for the weighted balancer; 0 or
	// missing means 1. Negative is invalid.
	Weight int `json:"weight,omitempty"`
	// Metadata holds labels such as zone and version; optional.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Key returns the key of instance id of service under prefix (""
// means DefaultPrefix).
func Key(prefix, service, id string) string {
	return normalPrefix(prefix) + service + "/" + id
}

// normalPrefix returns prefix, DefaultPrefix when empty, ending in "/".
func normalPrefix(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix
}

// Endpoint checks v and returns it as a discovery.Endpoint.
func (v Value) Endpoint() (discovery.Endpoint, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(v.Address, "["), "]")
	switch {
	case host == "":
		return discovery.Endpoint{}, errors.New("no address")
	case v.Port < 1 || v.Port > 65535:
		return discovery.Endpoint{}, fmt.Errorf("port %d: want 1 to 65535", v.Port)
	case v.Weight < 0:
		return discovery.Endpoint{}, fmt.Errorf("weight %d: want 0 or more", v.Weight)
	}
	ep := discovery.Endpoint{Addr: net.JoinHostPort(host, strconv.Itoa(v.Port)), Weight: max(v.Weight, 1)}
	if len(v.Metadata) > 0 {
		ep.Meta = maps.Clone(v.Metadata)
	}
	return ep, nil
}

// parseValue decodes and checks one key's value.
func parseValue(b []byte) (discovery.Endpoint, error) {
	var v Value
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return discovery.Endpoint{}, fmt.Errorf("not an instance value: %w", err)
	}
	if dec.More() {
		return discovery.Endpoint{}, errors.New("not an instance value: data after the JSON object")
	}
	return v.Endpoint()
}

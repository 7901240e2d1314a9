package config

import "time"

// The top-level Redis server that cluster-wide rate limits and the shared
// fallback cache use.

// Redis is a Redis server.
type Redis struct {
	// Address is host:port. Default "127.0.0.1:6379".
	Address string `yaml:"address"`
	// Username and Password authenticate (Redis 6 ACLs); default none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DB selects the database. Default 0.
	DB int `yaml:"db" range:"0,100000"`
	// Timeout bounds one Redis call; past it the call counts as Redis being
	// unreachable. Default 50ms.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1m"`
	// PoolSize caps connections to Redis. Default 10 per CPU.
	PoolSize int `yaml:"pool_size" range:"0,10000"`
}

const (
	defaultRedisAddress = "127.0.0.1:6379"
	defaultRedisTimeout = 50 * time.Millisecond
)

func redisDefaults(r *Redis, set map[string]bool) {
	if r.Address == "" {
		r.Address = defaultRedisAddress
	}
	if !set["redis.timeout"] {
		r.Timeout = defaultRedisTimeout
	}
}

func (v *validator) redis(r *Redis) {
	if msg := checkHostPort(r.Address); msg != "" {
		v.invalid("redis.address", r.Address, msg)
	}
}

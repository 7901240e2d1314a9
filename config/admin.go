package config

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// The admin listener: admin, admin_hosts, admin_auth and admin_endpoints.

// AdminAuth protects admin endpoints with a bearer token.
type AdminAuth struct {
	// TokenFile names the file holding the token (surrounding white
	// space ignored), relative to the main configuration file's directory.
	// It is read when the configuration loads: a new token takes effect
	// with the next reload. Required, at most 4KiB, at least 16 bytes.
	TokenFile string `yaml:"token_file"`

	// token is TokenFile's content, read by Load.
	token []byte
}

// Token returns the token read from TokenFile. Read-only.
func (a *AdminAuth) Token() []byte { return a.token }

// AdminEndpoints switches optional admin endpoints.
type AdminEndpoints struct {
	// Pprof serves Go's profiler under /debug/pprof/. Default true.
	Pprof bool `yaml:"pprof"`
	// Reload serves POST /-/reload. Default true. Reloads on file change
	// and SIGHUP go on either way.
	Reload bool `yaml:"reload"`
}

// AdminOff as Config.Admin disables the admin listener.
const AdminOff = "off"

const defaultAdmin = "127.0.0.1:9901"

func adminDefaults(c *Config, set map[string]bool) {
	if c.Admin == "" {
		c.Admin = defaultAdmin
	}
	for i, h := range c.AdminHosts {
		c.AdminHosts[i] = strings.ToLower(h)
	}
	if !set["admin_endpoints.pprof"] {
		c.AdminEndpoints.Pprof = true
	}
	if !set["admin_endpoints.reload"] {
		c.AdminEndpoints.Reload = true
	}
}

// Bounds of the admin token read from admin_auth.token_file.
const (
	maxAdminToken = 4 << 10
	minAdminToken = 16
)

// admin checks the admin listener's address and access settings, and
// reads the token.
func (v *validator) admin(c *Config) {
	if c.Admin != AdminOff {
		if msg := checkHostPort(c.Admin); msg != "" {
			v.invalid("admin", c.Admin, msg+` (or "off")`)
		}
	}
	if c.Listen != "" && c.Admin != AdminOff && sameListener(c.Listen, c.Admin) {
		v.invalid("admin", c.Admin, "is the proxy listener's address too ("+strconv.Quote(c.Listen)+"); give the admin listener its own port")
	}
	v.adminAccess(c)
}

// adminAccess checks the admin listener's access settings and reads the token.
func (v *validator) adminAccess(c *Config) {
	for i, h := range c.AdminHosts {
		if !validHostname(h) {
			v.invalid("admin_hosts["+strconv.Itoa(i)+"]", h, "want a host name without port, like gateway.internal")
		}
	}
	a := c.AdminAuth
	if a == nil {
		return
	}
	if a.TokenFile == "" {
		v.errorf("admin_auth.token_file", "is required")
		return
	}
	path := v.resolve(a.TokenFile)
	info, err := os.Stat(path)
	switch {
	case err != nil:
		v.invalid("admin_auth.token_file", a.TokenFile, "cannot be read: "+errText(err))
		return
	case !info.Mode().IsRegular():
		v.invalid("admin_auth.token_file", a.TokenFile, "is not a regular file")
		return
	case info.Size() > maxAdminToken:
		v.invalid("admin_auth.token_file", a.TokenFile, "is larger than 4KiB")
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		v.invalid("admin_auth.token_file", a.TokenFile, "cannot be read: "+errText(err))
		return
	}
	b = bytes.TrimSpace(b)
	if len(b) < minAdminToken {
		v.invalid("admin_auth.token_file", a.TokenFile, "must hold a token of at least 16 bytes")
		return
	}
	if bytes.ContainsAny(b, " \t\r\n") {
		v.invalid("admin_auth.token_file", a.TokenFile, "must hold one token on one line")
		return
	}
	a.token = b
}

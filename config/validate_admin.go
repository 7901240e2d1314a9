package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// Bounds of the admin token read from admin_auth.token_file.
const (
	maxAdminToken = 4 << 10
	minAdminToken = 16
)

// admin checks the admin listener's access settings and reads the token.
func (v *validator) admin(c *Config) {
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
	path := a.TokenFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(v.file), path)
	}
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

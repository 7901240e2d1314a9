package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TLS at both ends: the top-level tls (the HTTPS listener), a route's
// hsts, and the tls of an upstream or a grpc route (TLS to the servers
// behind the gateway).

// TLS is the HTTPS listener beside the plain one: it serves the same
// routes. Certificate and key files are read at every load, so a renewed
// certificate on disk takes effect with the next reload (the files are
// watched like the configuration's own). File names are relative to the
// main configuration file's directory.
type TLS struct {
	// Listen is the address of the HTTPS listener. Default "": no HTTPS
	// listener, and the rest of this section must be empty. Changing it
	// needs a restart.
	Listen string `yaml:"listen" reload:"restart"`
	// MinVersion is the oldest TLS version accepted: "1.2" or "1.3".
	// Default "1.2". Changing it needs a restart.
	MinVersion string `yaml:"min_version" reload:"restart"`
	// Certificates are the PEM certificate chains (leaf first) and keys
	// served, chosen by the client's server name (SNI): a certificate
	// naming it exactly, then one whose wildcard covers it, then the
	// default. At least one is required unless acme is set. A pair that
	// is missing, does not parse, does not match its key, or is expired
	// is refused with the file's name, and at a reload the certificates
	// serving keep serving.
	Certificates []CertFiles `yaml:"certificates"`
	// Default is the cert_file of the pair served to clients that send no
	// server name or one no certificate covers. Default: the first pair.
	Default string `yaml:"default"`
	// StrictSNI refuses the handshake of a client whose server name no
	// certificate covers, or that sends none. Default false: such clients
	// get the default certificate.
	StrictSNI bool `yaml:"strict_sni"`
	// ClientAuth asks clients for certificates (mTLS at the edge).
	// Default: absent, none asked. Changing it needs a restart.
	ClientAuth *ClientAuth `yaml:"client_auth" reload:"restart"`
	// SessionTicketKeysFile holds session ticket keys, one per line as 64
	// hex digits (openssl rand -hex 32), the first encrypting, all
	// decrypting: give a fleet the same file so that any instance resumes
	// another's sessions; a reload reads it again. Default "": keys Go
	// makes and rotates itself, resumption on this process only.
	SessionTicketKeysFile string `yaml:"session_ticket_keys_file"`
	// HandshakeTimeout is how long a client has from connecting to a
	// finished handshake; a stalled one is closed. Default 10s. Zero
	// means the default. Changing it needs a restart.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout" range:"100ms,5m,zero" reload:"restart"`
	// RedirectHTTP makes the plain listener answer every request with 308
	// to the same URL on https://, but for ACME's HTTP-01 challenges.
	// Default false.
	RedirectHTTP bool `yaml:"redirect_http"`
	// ACME obtains and renews certificates from an ACME CA (Let's
	// Encrypt by default) for the listed domains. Default: absent.
	// Changing it needs a restart.
	ACME *ACME `yaml:"acme" reload:"restart"`

	// digest covers the content of every file of this section, read by
	// Load, so that the configuration's Hash changes with them.
	digest string
}

// CertFiles is one certificate chain and its private key, PEM files.
type CertFiles struct {
	// CertFile is the certificate chain, leaf first. Required.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key (PKCS #8, EC or RSA). Required.
	KeyFile string `yaml:"key_file"`
}

// ClientAuth asks clients for a certificate that chains to a CA.
type ClientAuth struct {
	// CAFile is a PEM file of the CAs client certificates must chain to.
	// Required.
	CAFile string `yaml:"ca_file"`
	// Mode is "require" (a client without a verified certificate is
	// refused) or "verify_if_given" (a client may send none; one that
	// does not verify is refused). Default "require".
	Mode string `yaml:"mode"`
	// Header names the request header that carries the verified client
	// certificate's subject and names upstream
	// (Subject="CN=...";DNS="..."). Copies of it sent by clients are
	// always removed. Default "": no header.
	Header string `yaml:"header"`
}

// The client certificate modes.
const (
	ClientAuthRequire       = "require"
	ClientAuthVerifyIfGiven = "verify_if_given"
)

// ACME obtains certificates from an ACME CA. HTTP-01 challenges are
// answered by the plain listener, TLS-ALPN-01 by the HTTPS one.
type ACME struct {
	// Domains are the names to obtain certificates for, one each; no
	// wildcards. Required.
	Domains []string `yaml:"domains"`
	// Email is the ACME account's contact. Default: none.
	Email string `yaml:"email"`
	// CA is the ACME directory URL. Default: Let's Encrypt's production
	// directory.
	CA string `yaml:"ca"`
	// CARootsFile is a PEM file of roots to trust when talking to the CA
	// (a test CA such as Pebble). Default: the system roots.
	CARootsFile string `yaml:"ca_roots_file"`
	// Storage is where accounts and certificates are kept: "disk" or
	// "redis" (the top-level redis, shared by a fleet, which then obtains
	// each certificate once). Default "disk".
	Storage string `yaml:"storage"`
	// Dir is the directory of the disk storage. Default: certmagic's
	// ($XDG_DATA_HOME/certmagic).
	Dir string `yaml:"dir"`
}

// The ACME storages.
const (
	ACMEStorageDisk  = "disk"
	ACMEStorageRedis = "redis"
)

// UpstreamTLS is TLS to the servers of an upstream or a grpc route. It
// applies to https:// targets, to discovered instances and to gRPC
// targets. The zero value verifies against the system roots with the
// target's host as server name, TLS 1.2 or later.
type UpstreamTLS struct {
	// CAFile is a PEM file of the CAs the server's certificate must chain
	// to. Default "": the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and its key (mTLS to
	// the upstream); both or neither. Default: none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is sent as SNI and verified against the certificate.
	// Default "": the target's host.
	ServerName string `yaml:"server_name"`
	// MinVersion is "1.2" or "1.3". Default "1.2".
	MinVersion string `yaml:"min_version"`
	// InsecureSkipVerify accepts any server certificate. For tests and
	// migrations only: a warning is logged at every load. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	// digest covers the content of the files, read by Load; the paths
	// are the files as read (relative names resolved).
	digest                    string
	caPath, certPath, keyPath string
}

// Digest identifies the content of the files the settings name, as read
// when the configuration loaded; "" when they name none.
func (u *UpstreamTLS) Digest() string { return u.digest }

// Paths returns the CA, certificate and key files as Load read them:
// relative names joined to the main file's directory ("" for those not
// set).
func (u *UpstreamTLS) Paths() (caFile, certFile, keyFile string) {
	return u.caPath, u.certPath, u.keyPath
}

// Enabled reports whether the HTTPS listener is configured.
func (t *TLS) Enabled() bool { return t.Listen != "" }

// Digest identifies the content of every file of the section as read
// when the configuration loaded; "" when it names none.
func (t *TLS) Digest() string { return t.digest }

// MinTLSVersion turns "1.2" or "1.3" into the crypto/tls constant; 0 for
// "" (the reader's default).
func MinTLSVersion(s string) uint16 {
	switch s {
	case "1.2":
		return tls.VersionTLS12
	case "1.3":
		return tls.VersionTLS13
	}
	return 0
}

// ResolvePath returns a file name of the configuration as it is read:
// relative to the main file's directory unless absolute.
func (c *Config) ResolvePath(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(c.file), name)
}

// TLSFiles lists, absolute, every certificate, key and CA file the
// configuration names (top-level tls, and every route's upstream and
// grpc tls), for a reloader to watch.
func (c *Config) TLSFiles() []string {
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			if n == "" {
				continue
			}
			if abs, err := filepath.Abs(c.ResolvePath(n)); err == nil {
				out = append(out, abs)
			}
		}
	}
	t := &c.TLS
	for _, p := range t.Certificates {
		add(p.CertFile, p.KeyFile)
	}
	if t.ClientAuth != nil {
		add(t.ClientAuth.CAFile)
	}
	add(t.SessionTicketKeysFile)
	for i := range c.Routes {
		for _, u := range c.Routes[i].upstreamTLS() {
			add(u.CAFile, u.CertFile, u.KeyFile)
		}
	}
	return out
}

// upstreamTLS lists the route's upstream TLS settings (upstream and grpc).
func (r *Route) upstreamTLS() []*UpstreamTLS {
	var out []*UpstreamTLS
	if r.Upstream != nil && r.Upstream.TLS != nil {
		out = append(out, r.Upstream.TLS)
	}
	if r.GRPC != nil && r.GRPC.TLS != nil {
		out = append(out, r.GRPC.TLS)
	}
	return out
}

// tlsFilesDigest is what the Hash adds for the content of TLS files.
func (c *Config) tlsFilesDigest() string {
	var b strings.Builder
	b.WriteString(c.TLS.digest)
	for i := range c.Routes {
		for _, u := range c.Routes[i].upstreamTLS() {
			b.WriteString(u.digest)
		}
	}
	return b.String()
}

const defaultHandshakeTimeout = 10 * time.Second

func tlsDefaults(t *TLS) {
	if !t.Enabled() {
		return
	}
	zeroDefault(&t.MinVersion, "1.2")
	zeroDefault(&t.HandshakeTimeout, defaultHandshakeTimeout)
	if a := t.ClientAuth; a != nil {
		zeroDefault(&a.Mode, ClientAuthRequire)
	}
	if a := t.ACME; a != nil {
		zeroDefault(&a.Storage, ACMEStorageDisk)
		for i, d := range a.Domains {
			a.Domains[i] = strings.ToLower(d)
		}
	}
}

// maxTLSFile bounds a certificate, key or CA file read at load.
const maxTLSFile = 1 << 20

// tlsFiles reads the files of one TLS section for its digest.
type tlsFiles struct {
	v   *validator
	sum []byte
}

// read reads the file at field p (named as written), adds it to the
// digest and returns its content; nil after reporting a problem.
func (f *tlsFiles) read(p, name string) []byte {
	path := f.v.resolve(name)
	info, err := os.Stat(path)
	switch {
	case err != nil:
		f.v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	case !info.Mode().IsRegular():
		f.v.invalid(p, name, "is not a regular file")
		return nil
	case info.Size() > maxTLSFile:
		f.v.invalid(p, name, "is larger than 1MiB")
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	}
	sum := sha256.Sum256(b)
	f.sum = append(f.sum, sum[:8]...)
	return b
}

func (f *tlsFiles) digest() string { return hex.EncodeToString(f.sum) }

// pair checks a certificate chain and its key at fields cp and kp: both
// readable PEM, the key matching the leaf, the leaf valid now. It
// returns the leaf (nil after reporting a problem).
func (f *tlsFiles) pair(cp, certFile, kp, keyFile string, now time.Time) *x509.Certificate {
	switch {
	case certFile == "" && keyFile == "":
		return nil
	case certFile == "":
		f.v.errorf(cp, "is required with key_file")
		return nil
	case keyFile == "":
		f.v.errorf(kp, "is required with cert_file")
		return nil
	}
	certPEM, keyPEM := f.read(cp, certFile), f.read(kp, keyFile)
	if certPEM == nil || keyPEM == nil {
		return nil
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		f.v.invalid(cp, certFile, "holds no PEM CERTIFICATE block")
		return nil
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		f.v.invalid(kp, keyFile, "holds no PEM private key block")
		return nil
	}
	kpair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		f.v.invalid(kp, keyFile, "does not go with "+certFile+": "+err.Error())
		return nil
	}
	leaf, err := x509.ParseCertificate(kpair.Certificate[0])
	if err != nil {
		f.v.invalid(cp, certFile, "certificate does not parse: "+err.Error())
		return nil
	}
	switch {
	case now.After(leaf.NotAfter):
		f.v.invalid(cp, certFile, "certificate expired at "+leaf.NotAfter.UTC().Format(time.RFC3339))
		return nil
	case now.Before(leaf.NotBefore):
		f.v.invalid(cp, certFile, "certificate not valid before "+leaf.NotBefore.UTC().Format(time.RFC3339))
		return nil
	}
	return leaf
}

// caFile checks a PEM file of CA certificates at field p.
func (f *tlsFiles) caFile(p, name string) {
	b := f.read(p, name)
	if b == nil {
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		f.v.invalid(p, name, "holds no PEM certificate")
	}
}

func (v *validator) checkMinVersion(p, s string) {
	if s != "" && MinTLSVersion(s) == 0 {
		v.invalid(p, s, `want "1.2" or "1.3"`)
	}
}

// tls checks the HTTPS listener's section and reads its files.
func (v *validator) tls(c *Config) {
	t := &c.TLS
	if !t.Enabled() {
		if len(t.Certificates) > 0 || t.ACME != nil || t.ClientAuth != nil || t.RedirectHTTP {
			v.errorf("tls.listen", "is required with the rest of tls (the HTTPS listener's address, like \":8443\")")
		}
		return
	}
	if msg := checkHostPort(t.Listen); msg != "" {
		v.invalid("tls.listen", t.Listen, msg)
	} else if sameListener(c.Listen, t.Listen) {
		v.invalid("tls.listen", t.Listen, "is the plain listener's address too ("+strconv.Quote(c.Listen)+"); give it its own port")
	} else if c.Admin != AdminOff && sameListener(c.Admin, t.Listen) {
		v.invalid("tls.listen", t.Listen, "is the admin listener's address too; give it its own port")
	}
	v.checkMinVersion("tls.min_version", t.MinVersion)
	if len(t.Certificates) == 0 && t.ACME == nil {
		v.errorf("tls.certificates", "at least one certificate is required (or acme)")
	}
	f := &tlsFiles{v: v}
	now := time.Now()
	defaultFound := t.Default == ""
	for i, cf := range t.Certificates {
		p := "tls.certificates[" + strconv.Itoa(i) + "]"
		if cf.CertFile == "" && cf.KeyFile == "" {
			v.errorf(p, "needs cert_file and key_file")
			continue
		}
		f.pair(p+".cert_file", cf.CertFile, p+".key_file", cf.KeyFile, now)
		defaultFound = defaultFound || cf.CertFile == t.Default
	}
	if !defaultFound {
		v.invalid("tls.default", t.Default, "is not the cert_file of one of tls.certificates")
	}
	if a := t.ClientAuth; a != nil {
		switch a.Mode {
		case ClientAuthRequire, ClientAuthVerifyIfGiven:
		default:
			v.invalid("tls.client_auth.mode", a.Mode, "want require or verify_if_given")
		}
		if a.CAFile == "" {
			v.errorf("tls.client_auth.ca_file", "is required")
		} else {
			f.caFile("tls.client_auth.ca_file", a.CAFile)
		}
		if a.Header != "" && !isToken(a.Header) {
			v.errorf("tls.client_auth.header", "%q: not a valid header name", a.Header)
		}
	}
	if t.SessionTicketKeysFile != "" {
		if b := f.read("tls.session_ticket_keys_file", t.SessionTicketKeysFile); b != nil && !hasTicketKey(b) {
			v.invalid("tls.session_ticket_keys_file", t.SessionTicketKeysFile, "holds no key (want lines of 64 hex digits)")
		}
	}
	if a := t.ACME; a != nil {
		v.acme(a, f, c.Redis != nil)
	}
	t.digest = f.digest()
}

// hasTicketKey reports whether b holds a line of 64 hex digits; the
// gateway's loader checks every line.
func hasTicketKey(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if len(line) == 64 {
			if _, err := hex.DecodeString(line); err == nil {
				return true
			}
		}
	}
	return false
}

func (v *validator) acme(a *ACME, f *tlsFiles, haveRedis bool) {
	if len(a.Domains) == 0 {
		v.errorf("tls.acme.domains", "at least one domain is required")
	}
	for i, d := range a.Domains {
		p := "tls.acme.domains[" + strconv.Itoa(i) + "]"
		switch {
		case strings.HasPrefix(d, "*."):
			v.invalid(p, d, "wildcards need the DNS-01 challenge, which is not offered")
		case !validHostname(d):
			v.invalid(p, d, "not a host name")
		}
	}
	switch a.Storage {
	case ACMEStorageDisk:
	case ACMEStorageRedis:
		if !haveRedis {
			v.errorf("tls.acme.storage", "redis needs the top-level redis setting")
		}
	default:
		v.invalid("tls.acme.storage", a.Storage, "want disk or redis")
	}
	if a.CA != "" && !strings.HasPrefix(a.CA, "https://") {
		v.invalid("tls.acme.ca", a.CA, "want an https:// directory URL")
	}
	if a.CARootsFile != "" {
		f.caFile("tls.acme.ca_roots_file", a.CARootsFile)
	}
}

// upstreamTLS checks the tls of an upstream or grpc route at p and reads
// its files.
func (v *validator) upstreamTLS(u *UpstreamTLS, p string) {
	f := &tlsFiles{v: v}
	u.caPath, u.certPath, u.keyPath = v.resolve(u.CAFile), v.resolve(u.CertFile), v.resolve(u.KeyFile)
	if u.CAFile != "" {
		f.caFile(p+".ca_file", u.CAFile)
	}
	f.pair(p+".cert_file", u.CertFile, p+".key_file", u.KeyFile, time.Now())
	v.checkMinVersion(p+".min_version", u.MinVersion)
	if u.ServerName != "" && !validHostname(strings.ToLower(u.ServerName)) {
		v.invalid(p+".server_name", u.ServerName, "not a host name")
	}
	u.digest = f.digest()
}

// hsts checks a route's Strict-Transport-Security value.
func (v *validator) hsts(r *Route, p string) {
	if r.HSTS == "" {
		return
	}
	if !strings.HasPrefix(strings.ToLower(r.HSTS), "max-age=") || strings.ContainsAny(r.HSTS, "\r\n\x00") {
		v.invalid(p+".hsts", r.HSTS, `want a Strict-Transport-Security value, like "max-age=31536000; includeSubDomains"`)
	}
}

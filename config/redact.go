package config

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// redacted is the value that stands in for a secret in Config.Redacted.
const redacted = yamlcodec.Redacted

// Redacted returns the effective configuration (defaults applied) as YAML,
// for the admin listener's /-/config. "<redacted>" stands in for: every
// value that came from an environment variable; every field tagged
// redact:"secret" (passwords, tokens); the user info and every query value
// of the URLs in fields tagged redact:"url" ("nats://<redacted>@host",
// "amqp://host/?password=<redacted>"); and the value of every header the
// configuration sets, unless its name is on a short list of headers that
// never carry credentials (harmlessHeaders). Fields left empty are left out. Strings are written so that the output, read back
// by Parse, gives the same configuration (a literal "${" is written "$${").
//
// The output is one file: routes holds the routes of every file, merged,
// and there is no include key. When the configuration has includes, a
// comment above routes lists them, and each route from an included file
// carries a comment naming that file. c is not changed.
func (c *Config) Redacted() ([]byte, error) {
	e := redactor(c.allSecrets())
	if !c.TLS.Enabled() {
		e.Omit["tls"] = true // off: no block of zero values
	}
	root := codec.Encode(reflect.ValueOf(c).Elem(), e)
	c.commentOrigins(root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// holdsCredentials reports whether Redacted hides anything of c but values
// from the environment (so that the redacted form does not read back as c).
func (c *Config) holdsCredentials() bool {
	e := redactor(nil)
	codec.Encode(reflect.ValueOf(c).Elem(), e)
	return e.Hid()
}

// redactor is the encoder of Redacted: it hides the values at the paths
// in secrets, the fields tagged redact, and the value of every header but
// the harmless ones (every map of strings in the schema is one of
// headers). Config.Include is left out: the output holds the routes of
// every file.
func redactor(secrets map[string]bool) *yamlcodec.Encoder {
	return &yamlcodec.Encoder{
		Secrets:   secrets,
		Omit:      map[string]bool{"include": true},
		HideValue: func(name string) bool { return !harmlessHeaders[strings.ToLower(name)] },
	}
}

// harmlessHeaders are the headers (lower case) whose values /-/config
// shows: they describe content and caching and never carry credentials.
// Every other header value a configuration sets is hidden.
var harmlessHeaders = map[string]bool{
	"accept": true, "accept-encoding": true, "accept-language": true,
	"access-control-allow-headers": true, "access-control-allow-methods": true,
	"access-control-allow-origin": true, "access-control-expose-headers": true,
	"access-control-max-age": true, "cache-control": true, "connection": true,
	"content-disposition": true, "content-encoding": true, "content-language": true,
	"content-security-policy": true, "content-type": true, "expires": true,
	"keep-alive": true, "location": true, "pragma": true, "referrer-policy": true,
	"retry-after": true, "server": true, "strict-transport-security": true,
	"vary": true, "via": true, "x-cache": true, "x-content-type-options": true,
	"x-frame-options": true, "x-robots-tag": true,
}

// commentOrigins marks in root, the encoded config, where the routes came
// from: the include list above routes, and the file of each route that is
// not from the main file.
func (c *Config) commentOrigins(root *yaml.Node) {
	if len(c.Include) == 0 {
		return
	}
	var key, seq *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "routes" {
			key, seq = root.Content[i], root.Content[i+1]
		}
	}
	if key == nil {
		return
	}
	patterns := make([]string, len(c.Include))
	for i, p := range c.Include {
		patterns[i] = strconv.Quote(p)
		if c.secrets["include["+strconv.Itoa(i)+"]"] {
			patterns[i] = redacted
		}
	}
	key.HeadComment = "include: " + strings.Join(patterns, ", ") +
		": their routes are merged here, each marked with its file"
	for i, r := range seq.Content {
		pos := c.posOf("routes[" + strconv.Itoa(i) + "]")
		if pos.File == c.file || pos.File == "" || len(r.Content) < 2 || r.Content[0].Value != "name" {
			continue
		}
		r.Content[1].LineComment = yamlcodec.OneLine(pos.File)
	}
}

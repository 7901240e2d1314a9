package config

import (
	"bytes"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// redacted is the value that stands in for a secret in Config.Redacted.
const redacted = "<redacted>"

// Redacted returns the effective configuration (defaults applied) as YAML,
// for the admin listener's /-/config. Every value that came from an
// environment variable is replaced by "<redacted>", and so is the value of
// every header set whose name is Authorization, Proxy-Authorization,
// Cookie or Set-Cookie, or contains "token", "secret" or "key". Fields left
// empty are left out. Strings are written so that the output, read back
// by Parse, gives the same configuration (a literal "${" is written "$${").
//
// The output is one file: routes holds the routes of every file, merged,
// and there is no include key. When the configuration has includes, a
// comment above routes lists them, and each route from an included file
// carries a comment naming that file. c is not changed.
func (c *Config) Redacted() ([]byte, error) {
	e := encoder{secrets: c.secrets}
	root := e.node(reflect.ValueOf(c).Elem(), "")
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

// holdsCredentials reports whether c has a credential that Redacted hides
// (so that the redacted form does not read back as c).
func (c *Config) holdsCredentials() bool {
	d := c.Discovery
	for _, b := range c.Brokers {
		if (b.Redis != nil && b.Redis.Password != "") ||
			(b.NATS != nil && redactURL(b.NATS.URL) != b.NATS.URL) ||
			(b.AMQP != nil && redactURL(b.AMQP.URL) != b.AMQP.URL) {
			return true
		}
	}
	return (c.Redis != nil && c.Redis.Password != "") ||
		(d.Consul != nil && d.Consul.Token != "") ||
		(d.Etcd != nil && d.Etcd.Password != "")
}

// secretField reports whether the field at path holds a credential
// (passwords and tokens of Redis, Consul, etcd), hidden wherever it came
// from.
func secretField(path string) bool {
	return strings.HasSuffix(path, ".password") || strings.HasSuffix(path, ".token")
}

// redactURL hides the password of a broker URL ("nats://u:p@h" becomes
// "nats://u:<redacted>@h"), for each comma-separated URL.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, u := range parts {
		scheme, rest, ok := strings.Cut(u, "://")
		if !ok {
			continue
		}
		at := strings.LastIndexByte(rest, '@')
		if at < 0 {
			continue
		}
		user, _, hasPass := strings.Cut(rest[:at], ":")
		if !hasPass {
			continue
		}
		parts[i] = scheme + "://" + user + ":" + redacted + rest[at:]
	}
	return strings.Join(parts, ",")
}

// mapping encodes a map of named sections (brokers), sorted by name.
func (e *encoder) mapping(v reflect.Value, path string) *yaml.Node {
	if v.Len() == 0 {
		return nil
	}
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		val := e.node(v.MapIndex(reflect.ValueOf(k)), keyPath(path, k))
		if val == nil {
			val = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		}
		m.Content = append(m.Content, str(k), val)
	}
	return m
}

// sensitiveHeader reports whether a header's value is to be hidden.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "key")
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
		pos := c.pos["routes["+strconv.Itoa(i)+"]"]
		if pos.file == c.file || pos.file == "" || len(r.Content) < 2 || r.Content[0].Value != "name" {
			continue
		}
		r.Content[1].LineComment = oneLine(pos.file)
	}
}

// encoder builds a yaml.Node tree from the schema structs, field by field
// in declaration order, hiding secrets by path. Config.Include is left out:
// the tree holds the routes of every file.
type encoder struct {
	secrets map[string]bool // paths to hide; nil for Hash
	reveal  bool            // show sensitive headers too: for Hash, never for output
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func str(s string) *yaml.Node { return scalar("!!str", escapeEnv(s)) }

// node encodes v; it returns nil for a value to leave out.
func (e *encoder) node(v reflect.Value, path string) *yaml.Node {
	if e.secrets[path] || (secretField(path) && v.Kind() == reflect.String && v.Len() > 0) {
		return scalar("!!str", redacted)
	}
	switch v.Type() {
	case durationType:
		return scalar("!!str", time.Duration(v.Int()).String())
	case rateType:
		r := Rate(v.Float())
		if r == Rate(math.Trunc(float64(r))) {
			return scalar("!!int", formatRate(r))
		}
		return scalar("!!float", formatRate(r))
	case byteSizeType:
		s := formatSize(ByteSize(v.Int()))
		if s == "0" {
			return scalar("!!int", s)
		}
		return scalar("!!str", s)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return e.node(v.Elem(), path)
	case reflect.Struct:
		return e.structure(v, path)
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Type().Elem().Kind() == reflect.String {
			seq.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			seq.Content = append(seq.Content, e.node(v.Index(i), path+"["+strconv.Itoa(i)+"]"))
		}
		return seq
	case reflect.Map:
		if h, ok := v.Interface().(map[string]string); ok {
			return e.headers(h, path)
		}
		return e.mapping(v, path)
	case reflect.String:
		if v.Len() == 0 {
			return nil
		}
		if !e.reveal && strings.HasPrefix(path, "brokers") && strings.HasSuffix(path, ".url") {
			return str(redactURL(v.String()))
		}
		return str(v.String())
	case reflect.Int:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10))
	case reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool()))
	case reflect.Float64:
		if v.Float() == 0 {
			return nil
		}
		return scalar("!!float", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	panic("config: no encoder for " + v.Type().String())
}

func (e *encoder) structure(v reflect.Value, path string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := yamlName(f)
		if path == "" && name == "include" {
			continue
		}
		val := e.node(v.Field(i), joinPath(path, name))
		if val == nil || val.Kind == yaml.MappingNode && len(val.Content) == 0 {
			continue
		}
		m.Content = append(m.Content, scalar("!!str", name), val)
	}
	return m
}

// headers encodes a map of header names to values, sorted by name. Every
// map in the schema is one; sensitive header values are hidden.
func (e *encoder) headers(h map[string]string, path string) *yaml.Node {
	if len(h) == 0 {
		return nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		val := str(h[k])
		if !e.reveal && (e.secrets[keyPath(path, k)] || sensitiveHeader(k)) {
			val = scalar("!!str", redacted)
		}
		m.Content = append(m.Content, scalar("!!str", k), val)
	}
	return m
}

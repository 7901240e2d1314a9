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

// holdsCredentials reports whether Redacted hides anything of c but values
// from the environment (so that the redacted form does not read back as c).
func (c *Config) holdsCredentials() bool {
	e := encoder{}
	e.node(reflect.ValueOf(c).Elem(), "")
	return e.hid
}

// How a field is redacted, by its redact struct tag.
const (
	redactSecret = "secret" // the whole value
	redactURL    = "url"    // user info and query values of each URL
)

// redactURLs hides the user info and the query values of each
// comma-separated URL in s: "nats://TOKEN@h" becomes "nats://<redacted>@h",
// "amqp://u:p@h/?password=p" becomes "amqp://<redacted>@h/?password=<redacted>".
// A value without a scheme ("u:p@host:2379") is read as an authority.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, u := range parts {
		scheme, rest, ok := strings.Cut(u, "://")
		if !ok {
			scheme, rest = "", u
		}
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			rest = redacted + rest[at:]
		}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest = rest[:q+1] + redactQuery(rest[q+1:])
		}
		if ok {
			rest = scheme + "://" + rest
		}
		parts[i] = rest
	}
	return strings.Join(parts, ",")
}

// redactQuery hides every value of a query string (and of its fragment):
// the names say what is set, the values may be passwords or tokens.
func redactQuery(q string) string {
	frag := ""
	if h := strings.IndexByte(q, '#'); h >= 0 {
		q, frag = q[:h], q[h:]
	}
	pairs := strings.Split(q, "&")
	for i, kv := range pairs {
		if k, _, ok := strings.Cut(kv, "="); ok {
			pairs[i] = k + "=" + redacted
		}
	}
	if frag != "" {
		frag = "#" + redacted
	}
	return strings.Join(pairs, "&") + frag
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

// sensitiveHeader reports whether a header is a credential by its name,
// which the access log refuses to log.
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
// in declaration order, hiding values from the environment by path and
// credentials by the fields' redact tags and header names. Config.Include
// is left out: the tree holds the routes of every file.
type encoder struct {
	secrets map[string]bool // paths to hide: values from the environment
	hid     bool            // something other than secrets was hidden
}

// hide returns the stand-in for a hidden value and notes that one was.
func (e *encoder) hide() *yaml.Node {
	e.hid = true
	return scalar("!!str", redacted)
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func str(s string) *yaml.Node { return scalar("!!str", escapeEnv(s)) }

// node encodes v; it returns nil for a value to leave out.
func (e *encoder) node(v reflect.Value, path string) *yaml.Node {
	if e.secrets[path] {
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
		val := e.field(v.Field(i), joinPath(path, name), f.Tag.Get("redact"))
		if val == nil || val.Kind == yaml.MappingNode && len(val.Content) == 0 {
			continue
		}
		m.Content = append(m.Content, scalar("!!str", name), val)
	}
	return m
}

// field encodes a struct field, redacted as its redact tag says.
func (e *encoder) field(v reflect.Value, path, how string) *yaml.Node {
	if how == "" || e.secrets[path] {
		return e.node(v, path)
	}
	switch {
	case v.Kind() == reflect.String && v.Len() == 0:
		return nil
	case v.Kind() == reflect.String && how == redactSecret:
		return e.hide()
	case v.Kind() == reflect.String && how == redactURL:
		s := v.String()
		if r := redactURLs(s); r != s {
			e.hid = true
			return str(r)
		}
		return str(s)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if v.Len() == 0 {
			return nil
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for i := 0; i < v.Len(); i++ {
			seq.Content = append(seq.Content, e.field(v.Index(i), path+"["+strconv.Itoa(i)+"]", how))
		}
		return seq
	}
	panic("config: redact tag on " + v.Type().String() + " at " + path)
}

// headers encodes a map of header names to values, sorted by name. Every
// map in the schema is one; values are hidden unless the header is
// harmless.
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
		switch {
		case e.secrets[keyPath(path, k)]:
			val = scalar("!!str", redacted)
		case !harmlessHeaders[strings.ToLower(k)]:
			val = e.hide()
		}
		m.Content = append(m.Content, scalar("!!str", k), val)
	}
	return m
}

package yamlcodec

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted is the value that stands in for a hidden one in Encode's
// output.
const Redacted = "<redacted>"

// How a field is redacted, by its redact struct tag.
const (
	redactSecret = "secret" // the whole value
	redactURL    = "url"    // user info and query values of each URL
)

// An Encoder says what Codec.Encode hides and leaves out.
type Encoder struct {
	// Secrets are the paths whose values are hidden whatever their tags:
	// values that came from the environment (Decoder.Secrets).
	Secrets map[string]bool
	// Omit are the paths of fields left out.
	Omit map[string]bool
	// HideValue reports whether the value of key in a map of strings is
	// hidden (a header that may carry a credential). nil: none is.
	HideValue func(key string) bool

	codec *Codec
	hid   bool // something other than Secrets was hidden
}

// Hid reports whether the last Encode hid anything but Secrets: then its
// output does not read back as the value it was made from.
func (e *Encoder) Hid() bool { return e.hid }

// Encode returns v, a struct, as a YAML mapping node: fields in
// declaration order, empty ones left out, map entries sorted by key.
// Redacted stands in for: every value at a path in e.Secrets; every field
// tagged redact:"secret"; the user info and every query value of the URLs
// in fields tagged redact:"url" ("nats://<redacted>@host",
// "amqp://host/?password=<redacted>"); and each value of a map of strings
// that e.HideValue hides. Strings are written so that the output reads
// back through a Decoder as the same value (a literal "${" is written
// "$${").
func (c *Codec) Encode(v reflect.Value, e *Encoder) *yaml.Node {
	e.codec, e.hid = c, false
	return e.node(v, "")
}

// hide returns the stand-in for a hidden value and notes that one was.
func (e *Encoder) hide() *yaml.Node {
	e.hid = true
	return Scalar("!!str", Redacted)
}

// node encodes v; it returns nil for a value to leave out.
func (e *Encoder) node(v reflect.Value, path string) *yaml.Node {
	if e.Secrets[path] {
		return Scalar("!!str", Redacted)
	}
	if t := e.codec.typeOf(v.Type()); t != nil && t.Encode != nil {
		return t.Encode(v)
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
			return e.stringMap(h, path)
		}
		return e.mapping(v, path)
	case reflect.String:
		if v.Len() == 0 {
			return nil
		}
		return str(v.String())
	case reflect.Int:
		return Scalar("!!int", strconv.FormatInt(v.Int(), 10))
	case reflect.Bool:
		return Scalar("!!bool", strconv.FormatBool(v.Bool()))
	case reflect.Float64:
		if v.Float() == 0 {
			return nil
		}
		return Scalar("!!float", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	panic("yamlcodec: no encoder for " + v.Type().String())
}

func (e *Encoder) structure(v reflect.Value, path string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := FieldName(f)
		fp := JoinPath(path, name)
		if e.Omit[fp] {
			continue
		}
		val := e.field(v.Field(i), fp, f.Tag.Get("redact"))
		if val == nil || val.Kind == yaml.MappingNode && len(val.Content) == 0 {
			continue
		}
		m.Content = append(m.Content, Scalar("!!str", name), val)
	}
	return m
}

// field encodes a struct field, redacted as its redact tag says.
func (e *Encoder) field(v reflect.Value, path, how string) *yaml.Node {
	if how == "" || e.Secrets[path] {
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
	panic("yamlcodec: redact tag on " + v.Type().String() + " at " + path)
}

// mapping encodes a map of named sections, sorted by name.
func (e *Encoder) mapping(v reflect.Value, path string) *yaml.Node {
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
		val := e.node(v.MapIndex(reflect.ValueOf(k)), KeyPath(path, k))
		if val == nil {
			val = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		}
		m.Content = append(m.Content, str(k), val)
	}
	return m
}

// stringMap encodes a map of strings (header names to values), sorted by
// key; values are hidden as e.HideValue says.
func (e *Encoder) stringMap(h map[string]string, path string) *yaml.Node {
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
		case e.Secrets[KeyPath(path, k)]:
			val = Scalar("!!str", Redacted)
		case e.HideValue != nil && e.HideValue(k):
			val = e.hide()
		}
		m.Content = append(m.Content, Scalar("!!str", k), val)
	}
	return m
}

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
			rest = Redacted + rest[at:]
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
			pairs[i] = k + "=" + Redacted
		}
	}
	if frag != "" {
		frag = "#" + Redacted
	}
	return strings.Join(pairs, "&") + frag
}

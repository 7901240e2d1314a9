package yamlcodec

import (
	"reflect"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// A Type teaches the codec a named type of a schema that is not read as
// its kind is (a size written "64KiB", a struct that may be written as one
// scalar). Every function is optional.
type Type struct {
	// Of is the type.
	Of reflect.Type
	// Decode stores n, the value at path, into v (of type Of) and
	// reports whether it did; false leaves n to the decoding of v's kind.
	// It reports problems through d (Decoder.Typed, Decoder.BadValue,
	// Decoder.Errorf).
	Decode func(d *Decoder, n *yaml.Node, v reflect.Value, path string) bool
	// Encode writes v as Decode reads it. nil: as v's kind.
	Encode func(v reflect.Value) *yaml.Node
	// ParseBound reads an end of a range tag on a field of the type, in
	// the type's own syntax ("64KiB"). nil: an integer.
	ParseBound func(s string) (int64, error)
	// FormatBound writes a value of the type in a range error. nil: as an
	// integer.
	FormatBound func(n int64) string
}

// A Codec reads and writes the structs of one schema: the kinds every
// schema has, time.Duration, and the schema's own Types. It is immutable
// and safe for concurrent use.
type Codec struct {
	// types are few: a list compares faster than a map looks up, and
	// decoding consults it for every value.
	types []*Type
	// plans caches what CheckRanges does with each type (rangePlan).
	plans sync.Map // reflect.Type -> *rangePlan
}

// New returns a codec that knows types besides the built-in ones. A Type
// of time.Duration replaces the built-in handling of durations.
func New(types ...Type) *Codec {
	c := &Codec{}
	for i := range types {
		c.types = append(c.types, &types[i])
	}
	c.types = append(c.types, &durationType)
	return c
}

// typeOf returns what c knows of t, or nil.
func (c *Codec) typeOf(t reflect.Type) *Type {
	for _, x := range c.types {
		if x.Of == t {
			return x
		}
	}
	return nil
}

// durationType reads Go duration strings ("2s", "1m30s").
var durationType = Type{
	Of: reflect.TypeFor[time.Duration](),
	Decode: func(d *Decoder, n *yaml.Node, v reflect.Value, path string) bool {
		const want = "a duration like 2s"
		s, fromEnv, ok := d.Typed(n, path, want, "!!str")
		if !ok {
			return true
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.BadValue(n, path, want, fromEnv)
			return true
		}
		v.SetInt(int64(dur))
		return true
	},
	Encode: func(v reflect.Value) *yaml.Node {
		return Scalar("!!str", time.Duration(v.Int()).String())
	},
	ParseBound: func(s string) (int64, error) {
		d, err := time.ParseDuration(s)
		return int64(d), err
	},
	FormatBound: func(n int64) string { return time.Duration(n).String() },
}

// Scalar returns a scalar node of YAML type tag ("!!str", "!!int").
func Scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// str returns a string node that reads back as s (a literal "${" is
// written "$${").
func str(s string) *yaml.Node { return Scalar("!!str", EscapeEnv(s)) }

// formatInt writes n for a range error about a field of type t.
func (c *Codec) formatInt(n int64, t reflect.Type) string {
	if x := c.typeOf(t); x != nil && x.FormatBound != nil {
		return x.FormatBound(n)
	}
	return strconv.FormatInt(n, 10)
}

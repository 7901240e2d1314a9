package config

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// Sizes in bytes, as every section writes them.

// ByteSize is a size in bytes. In YAML it is an integer or a string with a
// unit: "512", "64KiB", "10MiB", "1GiB", "10MB" (powers of 1000 for KB, MB,
// GB; of 1024 for KiB, MiB, GiB).
type ByteSize int64

// byteUnits lists the units of a ByteSize, largest first, so that
// formatSize picks the largest one that divides a value.
var byteUnits = []struct {
	name string
	mult int64
}{
	{"GiB", 1 << 30},
	{"GB", 1e9},
	{"MiB", 1 << 20},
	{"MB", 1e6},
	{"KiB", 1 << 10},
	{"KB", 1e3},
	{"B", 1},
}

var errSizeSyntax = errors.New("bad size")

// parseByteSize reads "1024", "64KiB", "10 MB" or "1GiB". Units are matched
// without regard to case; the number is a whole number, not negative.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" {
		return 0, errSizeSyntax
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errSizeSyntax
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.name) {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			return 0, errSizeSyntax
		}
	}
	if n > math.MaxInt64/mult {
		return 0, errSizeSyntax
	}
	return ByteSize(n * mult), nil
}

// formatSize writes b with the largest unit that divides it exactly, so
// that parseByteSize reads it back: 8192 is "8KiB", 1500 is "1500B".
func formatSize(b ByteSize) string {
	if b == 0 {
		return "0"
	}
	for _, u := range byteUnits {
		if int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) // not reached: "B" divides everything
}

// byteSizeCodec reads and writes a ByteSize: 512, "64KiB", "10MB".
var byteSizeCodec = yamlcodec.Type{
	Of: reflect.TypeFor[ByteSize](),
	Decode: func(d *yamlcodec.Decoder, n *yaml.Node, v reflect.Value, path string) bool {
		const want = "a size like 512, 64KiB or 10MB"
		s, fromEnv, ok := d.Typed(n, path, want, "!!int", "!!str")
		if !ok {
			return true
		}
		if strings.HasPrefix(s, "-") {
			d.Errorf(n, path, "must not be negative")
			return true
		}
		b, err := parseByteSize(s)
		if err != nil && n.ShortTag() == "!!int" && !fromEnv {
			// YAML integers may be written 0x10 or 1_000.
			var i int64
			if i, err = strconv.ParseInt(s, 0, 64); err == nil {
				b = ByteSize(i)
			}
		}
		if err != nil {
			d.BadValue(n, path, want, fromEnv)
			return true
		}
		v.SetInt(int64(b))
		return true
	},
	Encode: func(v reflect.Value) *yaml.Node {
		s := formatSize(ByteSize(v.Int()))
		if s == "0" {
			return yamlcodec.Scalar("!!int", s)
		}
		return yamlcodec.Scalar("!!str", s)
	},
	ParseBound: func(s string) (int64, error) {
		n, err := parseByteSize(s)
		return int64(n), err
	},
	FormatBound: func(n int64) string { return formatSize(ByteSize(n)) },
}

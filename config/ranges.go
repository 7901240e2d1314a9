package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// A numeric setting's sane range is written once, as a struct tag on its
// field: range:"MIN,MAX" in the field's own unit (a duration, a size or a
// count or a share), both ends allowed; range:"MIN,MAX,zero" also allows 0, which
// such a field reads as "off" or "the default". The validator checks every
// tagged field of the configuration against it, and docs/config.md's key
// table states the same ranges (TestREADMERanges holds them together).

// bounds is a parsed range tag.
type bounds struct {
	min, max   int64   // in the field's unit: nanoseconds, bytes, a count
	fmin, fmax float64 // for a float field
	text       string  // "between 1ms and 1h", as errors say it
	zero       bool    // 0 is allowed too
	minT, maxT string  // the ends as the tag writes them
}

// parseBounds reads the range tag of a field of type t. It panics on a
// malformed tag: the tags are part of the code, and a test reads them all.
func parseBounds(tag string, t reflect.Type) bounds {
	parts := strings.Split(tag, ",")
	if len(parts) == 3 && parts[2] == "zero" {
		parts = parts[:2]
	} else if len(parts) != 2 {
		panic("config: malformed range tag " + strconv.Quote(tag))
	}
	b := bounds{zero: len(strings.Split(tag, ",")) == 3, minT: parts[0], maxT: parts[1]}
	if t.Kind() == reflect.Float64 {
		var err1, err2 error
		b.fmin, err1 = strconv.ParseFloat(parts[0], 64)
		b.fmax, err2 = strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil || !(b.fmin <= b.fmax) {
			panic("config: malformed range tag " + strconv.Quote(tag))
		}
	} else {
		b.min, b.max = parseBound(parts[0], t), parseBound(parts[1], t)
	}
	if b.min > b.max {
		panic("config: empty range tag " + strconv.Quote(tag))
	}
	b.text = "between " + parts[0] + " and " + parts[1]
	if b.zero {
		b.text = "0 or " + b.text
	}
	return b
}

func parseBound(s string, t reflect.Type) int64 {
	switch t {
	case durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			panic("config: range tag: " + err.Error())
		}
		return int64(d)
	case byteSizeType:
		n, err := parseByteSize(s)
		if err != nil {
			panic("config: range tag: " + err.Error())
		}
		return int64(n)
	}
	if t.Kind() != reflect.Int {
		panic("config: range tag on " + t.String())
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("config: range tag: " + err.Error())
	}
	return n
}

// formatValue writes a value of a ranged field as a config would.
func formatValue(n int64, t reflect.Type) string {
	switch t {
	case durationType:
		return time.Duration(n).String()
	case byteSizeType:
		return formatSize(ByteSize(n))
	}
	return strconv.FormatInt(n, 10)
}

// ranges checks every field with a range tag in v, the struct at path,
// and in the structs it holds.
func (v *validator) ranges(val reflect.Value, path string) {
	switch val.Kind() {
	case reflect.Pointer:
		if !val.IsNil() {
			v.ranges(val.Elem(), path)
		}
	case reflect.Slice:
		for i := 0; i < val.Len(); i++ {
			v.ranges(val.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		for _, k := range val.MapKeys() {
			if k.Kind() == reflect.String {
				v.ranges(val.MapIndex(k), keyPath(path, k.String()))
			}
		}
	case reflect.Struct:
		t := val.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fp := joinPath(path, yamlName(f))
			fv := val.Field(i)
			tag, ok := f.Tag.Lookup("range")
			if !ok {
				v.ranges(fv, fp)
				continue
			}
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			b := parseBounds(tag, fv.Type())
			if fv.Kind() == reflect.Float64 {
				v.inRangeFloat(fp, fv.Float(), b)
				continue
			}
			v.inRange(fp, fv.Int(), b, fv.Type())
		}
	}
}

// inRangeFloat reports f, the value of the field at path, when it is
// outside b (or not a number).
func (v *validator) inRangeFloat(path string, f float64, b bounds) {
	if (f >= b.fmin && f <= b.fmax) || (b.zero && f == 0) {
		return
	}
	if v.secrets[path] {
		v.errorf(path, "the value from the environment: must be %s", b.text)
		return
	}
	v.errorf(path, "must be %s, got %s", b.text, strconv.FormatFloat(f, 'g', -1, 64))
}

// inRange reports n, the value of the field at path, when it is outside b.
func (v *validator) inRange(path string, n int64, b bounds, t reflect.Type) {
	if (n >= b.min && n <= b.max) || (b.zero && n == 0) {
		return
	}
	if v.secrets[path] {
		v.errorf(path, "the value from the environment: must be %s", b.text)
		return
	}
	v.errorf(path, "must be %s, got %s", b.text, formatValue(n, t))
}

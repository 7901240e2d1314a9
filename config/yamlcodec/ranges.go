package yamlcodec

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// A numeric setting's sane range is written once, as a struct tag on its
// field: range:"MIN,MAX" in the field's own unit (a duration, a size or a
// count or a share), both ends allowed; range:"MIN,MAX,zero" also allows
// 0, which such a field reads as "off" or "the default". CheckRanges
// checks every tagged field against it.

// bounds is a parsed range tag.
type bounds struct {
	min, max   int64   // in the field's unit: nanoseconds, bytes, a count
	fmin, fmax float64 // for a float field
	text       string  // "between 1ms and 1h", as errors say it
	zero       bool    // 0 is allowed too
}

// parseBounds reads the range tag of a field of type t.
func (c *Codec) parseBounds(tag string, t reflect.Type) (bounds, error) {
	parts := strings.Split(tag, ",")
	if len(parts) == 3 && parts[2] == "zero" {
		parts = parts[:2]
	} else if len(parts) != 2 {
		return bounds{}, malformedTag(tag)
	}
	b := bounds{zero: len(strings.Split(tag, ",")) == 3}
	if t.Kind() == reflect.Float64 {
		var err1, err2 error
		b.fmin, err1 = strconv.ParseFloat(parts[0], 64)
		b.fmax, err2 = strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil || !(b.fmin <= b.fmax) {
			return bounds{}, malformedTag(tag)
		}
	} else {
		var err1, err2 error
		b.min, err1 = c.parseBound(parts[0], t)
		b.max, err2 = c.parseBound(parts[1], t)
		if err := errors.Join(err1, err2); err != nil {
			return bounds{}, err
		}
	}
	if b.min > b.max {
		return bounds{}, errors.New("yamlcodec: empty range tag " + strconv.Quote(tag))
	}
	b.text = "between " + parts[0] + " and " + parts[1]
	if b.zero {
		b.text = "0 or " + b.text
	}
	return b, nil
}

func malformedTag(tag string) error {
	return errors.New("yamlcodec: malformed range tag " + strconv.Quote(tag))
}

func (c *Codec) parseBound(s string, t reflect.Type) (int64, error) {
	if x := c.typeOf(t); x != nil && x.ParseBound != nil {
		n, err := x.ParseBound(s)
		if err != nil {
			return 0, errors.New("yamlcodec: range tag: " + err.Error())
		}
		return n, nil
	}
	if t.Kind() != reflect.Int {
		return 0, errors.New("yamlcodec: range tag on " + t.String())
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("yamlcodec: range tag: " + err.Error())
	}
	return n, nil
}

// CheckRanges reports through r every field with a range tag in val, the
// value at path, and in the values it holds, whose value is outside its
// range ("must be between 1ms and 1h, got 0s"). A nil pointer is not
// checked. It panics on a malformed tag: the tags are part of the code;
// CheckTags finds such a tag in a test.
func (c *Codec) CheckRanges(r *Reporter, val reflect.Value, path string) {
	switch val.Kind() {
	case reflect.Pointer:
		if !val.IsNil() {
			c.CheckRanges(r, val.Elem(), path)
		}
	case reflect.Slice:
		for i := 0; i < val.Len(); i++ {
			c.CheckRanges(r, val.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		for _, k := range val.MapKeys() {
			if k.Kind() == reflect.String {
				c.CheckRanges(r, val.MapIndex(k), KeyPath(path, k.String()))
			}
		}
	case reflect.Struct:
		t := val.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fp := JoinPath(path, FieldName(f))
			fv := val.Field(i)
			tag, ok := f.Tag.Lookup("range")
			if !ok {
				c.CheckRanges(r, fv, fp)
				continue
			}
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			b, err := c.parseBounds(tag, fv.Type())
			if err != nil {
				panic(err.Error())
			}
			if fv.Kind() == reflect.Float64 {
				inRangeFloat(r, fp, fv.Float(), b)
				continue
			}
			c.inRange(r, fp, fv.Int(), b, fv.Type())
		}
	}
}

// inRangeFloat reports f, the value of the field at path, when it is
// outside b (or not a number).
func inRangeFloat(r *Reporter, path string, f float64, b bounds) {
	if (f >= b.fmin && f <= b.fmax) || (b.zero && f == 0) {
		return
	}
	if r.Secrets[path] {
		r.Errorf(path, "the value from the environment: must be %s", b.text)
		return
	}
	r.Errorf(path, "must be %s, got %s", b.text, strconv.FormatFloat(f, 'g', -1, 64))
}

// inRange reports n, the value of the field at path, when it is outside b.
func (c *Codec) inRange(r *Reporter, path string, n int64, b bounds, t reflect.Type) {
	if (n >= b.min && n <= b.max) || (b.zero && n == 0) {
		return
	}
	if r.Secrets[path] {
		r.Errorf(path, "the value from the environment: must be %s", b.text)
		return
	}
	r.Errorf(path, "must be %s, got %s", b.text, c.formatInt(n, t))
}

// CheckTags parses the range tag of every field reachable from the type t
// (through pointers, slices, maps and structs) and returns what is wrong
// with them, so that a test finds a malformed tag before a load does.
func (c *Codec) CheckTags(t reflect.Type) error {
	var errs []error
	seen := make(map[reflect.Type]bool)
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, ok := f.Tag.Lookup("range")
			if !ok {
				walk(f.Type)
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if _, err := c.parseBounds(tag, ft); err != nil {
				errs = append(errs, errors.New(t.String()+"."+f.Name+": "+err.Error()))
			}
		}
	}
	walk(t)
	return errors.Join(errs...)
}

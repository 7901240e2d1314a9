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
	c.checkPlan(r, c.planOf(val.Type()), val, path)
}

// rangePlan is what CheckRanges does with a value of one type, worked out
// once per type with its tags parsed: a load checks thousands of routes of
// the same few types. A nil plan means no range tag is reachable.
type rangePlan struct {
	kind   reflect.Kind // Pointer, Slice, Map or Struct
	elem   *rangePlan   // what a pointer, slice or map holds
	fields []rangeField // a struct's fields that have a tag or lead to one
}

type rangeField struct {
	index int
	name  string
	// b is the field's range; nil for a field whose value holds tagged
	// fields (sub).
	b   *bounds
	sub *rangePlan
}

// planOf returns the plan of t, from the cache when it was made before.
func (c *Codec) planOf(t reflect.Type) *rangePlan {
	if p, ok := c.plans.Load(t); ok {
		return p.(*rangePlan)
	}
	p := c.makePlan(t, map[reflect.Type]bool{})
	c.plans.Store(t, p)
	return p
}

// makePlan works out the plan of t; busy holds the types being worked
// out, so that a type that contains itself ends the walk.
func (c *Codec) makePlan(t reflect.Type, busy map[reflect.Type]bool) *rangePlan {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if t.Kind() == reflect.Map && t.Key().Kind() != reflect.String {
			return nil
		}
		elem := c.makePlan(t.Elem(), busy)
		if elem == nil {
			return nil
		}
		return &rangePlan{kind: t.Kind(), elem: elem}
	case reflect.Struct:
	default:
		return nil
	}
	if busy[t] {
		return nil
	}
	busy[t] = true
	defer delete(busy, t)
	p := &rangePlan{kind: reflect.Struct}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		rf := rangeField{index: i, name: FieldName(f)}
		tag, ok := f.Tag.Lookup("range")
		if !ok {
			if rf.sub = c.makePlan(f.Type, busy); rf.sub != nil {
				p.fields = append(p.fields, rf)
			}
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		b, err := c.parseBounds(tag, ft)
		if err != nil {
			panic(err.Error())
		}
		rf.b = &b
		p.fields = append(p.fields, rf)
	}
	if len(p.fields) == 0 {
		return nil
	}
	return p
}

// checkPlan is CheckRanges for val, whose type's plan is p.
func (c *Codec) checkPlan(r *Reporter, p *rangePlan, val reflect.Value, path string) {
	if p == nil {
		return
	}
	switch p.kind {
	case reflect.Pointer:
		if !val.IsNil() {
			c.checkPlan(r, p.elem, val.Elem(), path)
		}
	case reflect.Slice:
		for i := 0; i < val.Len(); i++ {
			c.checkPlan(r, p.elem, val.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		for _, k := range val.MapKeys() {
			c.checkPlan(r, p.elem, val.MapIndex(k), KeyPath(path, k.String()))
		}
	case reflect.Struct:
		for i := range p.fields {
			f := &p.fields[i]
			fv := val.Field(f.index)
			if f.b == nil {
				c.checkPlan(r, f.sub, fv, JoinPath(path, f.name))
				continue
			}
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Float64 {
				if x := fv.Float(); !(x >= f.b.fmin && x <= f.b.fmax) && !(f.b.zero && x == 0) {
					inRangeFloat(r, JoinPath(path, f.name), x, *f.b)
				}
				continue
			}
			if n := fv.Int(); !(n >= f.b.min && n <= f.b.max) && !(f.b.zero && n == 0) {
				c.inRange(r, JoinPath(path, f.name), n, *f.b, fv.Type())
			}
		}
	}
}

// inRangeFloat reports f, the value of the field at path, when it is
// outside b (or not a number).
func inRangeFloat(r *Reporter, path string, f float64, b bounds) {
	if (f >= b.fmin && f <= b.fmax) || (b.zero && f == 0) {
		return
	}
	if r.Secret(path) {
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
	if r.Secret(path) {
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

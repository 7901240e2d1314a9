package yamlcodec

import (
	"reflect"
	"slices"
	"strings"
)

// How a setting takes a new value, by its reload struct tag. A field
// without the tag takes effect when a new document is applied; a field
// tagged reload:"restart" keeps the value the process started with until
// it restarts (a listener's address, the parts built once at start).
const reloadRestart = "restart"

// WalkSettings calls visit for each setting of a and b, two values of one
// struct type, by path: a field tagged reload:"restart" as a whole (then
// restartOnly is true), an untagged struct field field by field, any other
// field as a whole. Fields whose path is in skip are left out.
func WalkSettings(a, b reflect.Value, skip []string, visit func(path string, a, b reflect.Value, restartOnly bool)) {
	walkSettings(a, b, "", skip, visit)
}

func walkSettings(a, b reflect.Value, path string, skip []string, visit func(path string, a, b reflect.Value, restartOnly bool)) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		p := JoinPath(path, FieldName(f))
		if slices.Contains(skip, p) {
			continue
		}
		restartOnly := f.Tag.Get("reload") == reloadRestart
		if !restartOnly && f.Type.Kind() == reflect.Struct {
			walkSettings(a.Field(i), b.Field(i), p, skip, visit)
			continue
		}
		visit(p, a.Field(i), b.Field(i), restartOnly)
	}
}

// FieldAt returns the field of the struct v at a dotted path of YAML keys
// ("server.read_timeout").
func FieldAt(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && FieldName(t.Field(i)) == name {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

// Under reports whether path is one of roots or lies inside one.
func Under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+".") || strings.HasPrefix(path, r+"[") {
			return true
		}
	}
	return false
}

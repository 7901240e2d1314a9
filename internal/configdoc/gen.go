package main

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// The command that writes the reference, as its header and the drift test
// name it.
const regenerate = "go run ./internal/configdoc -o docs/config-reference.md"

// namedType is a type declared in the config package.
type namedType struct {
	name string
	doc  string
	spec *ast.TypeSpec
}

// section is one struct type of the reference and the keys it is reached
// by, the first one first.
type section struct {
	t    *namedType
	keys []string
}

// schema walks the struct types reachable from Config.
type schema struct {
	types    map[string]*namedType
	sections map[string]*section
	order    []*section
	values   []*namedType // non-struct types the fields use, in order of use
}

// generate returns the reference for the config package in dir.
func generate(dir string) ([]byte, error) {
	s, err := load(dir)
	if err != nil {
		return nil, err
	}
	if _, ok := s.types["Config"]; !ok {
		return nil, errors.New("configdoc: no type Config in " + dir)
	}
	s.visit("Config", "")
	return s.render(), nil
}

// load reads the declarations of the package in dir (tests left out).
func load(dir string) (*schema, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.New("configdoc: " + err.Error())
	}
	s := &schema{types: map[string]*namedType{}, sections: map[string]*section{}}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, errors.New("configdoc: " + err.Error())
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, sp := range gd.Specs {
				ts := sp.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				s.types[ts.Name.Name] = &namedType{name: ts.Name.Name, doc: doc.Text(), spec: ts}
			}
		}
	}
	return s, nil
}

// visit adds the struct type name, reached by key, and the types below it
// (depth first, in field order) unless it was seen before.
func (s *schema) visit(name, key string) {
	if sec, ok := s.sections[name]; ok {
		sec.keys = append(sec.keys, key)
		return
	}
	t := s.types[name]
	st := t.spec.Type.(*ast.StructType)
	sec := &section{t: t, keys: []string{key}}
	s.sections[name] = sec
	s.order = append(s.order, sec)
	for _, f := range fieldsOf(st) {
		child, suffix := s.elem(f.Type)
		if child == nil {
			continue
		}
		if _, ok := child.spec.Type.(*ast.StructType); ok {
			s.visit(child.name, joinKey(key, yamlName(f))+suffix)
		} else if !containsType(s.values, child) {
			s.values = append(s.values, child)
		}
	}
}

// elem returns the package's named type a field of type e holds, through
// pointers, slices ("[]" added to the key) and maps (".NAME"), or nil.
func (s *schema) elem(e ast.Expr) (*namedType, string) {
	suffix := ""
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ArrayType:
			e, suffix = x.Elt, suffix+"[]"
		case *ast.MapType:
			e, suffix = x.Value, suffix+".NAME"
		case *ast.Ident:
			return s.types[x.Name], suffix
		default:
			return nil, ""
		}
	}
}

// fieldsOf returns the fields of st that are keys of the configuration.
func fieldsOf(st *ast.StructType) []*ast.Field {
	var out []*ast.Field
	for _, f := range st.Fields.List {
		if len(f.Names) != 1 || !f.Names[0].IsExported() {
			continue
		}
		if n := yamlName(f); n == "" || n == "-" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func tag(f *ast.Field) reflect.StructTag {
	if f.Tag == nil {
		return ""
	}
	v, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	return reflect.StructTag(v)
}

func yamlName(f *ast.Field) string {
	name, _, _ := strings.Cut(tag(f).Get("yaml"), ",")
	return name
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func containsType(list []*namedType, t *namedType) bool {
	for _, x := range list {
		if x == t {
			return true
		}
	}
	return false
}

// rangeText writes a range tag as the Keys table of docs/config.md does:
// `1ms`–`1h`, or `0` or `1ms`–`1h` when the tag allows zero.
func rangeText(tag string) string {
	parts := strings.Split(tag, ",")
	if len(parts) < 2 {
		return "`" + tag + "`"
	}
	text := "`" + parts[0] + "`–`" + parts[1] + "`"
	if len(parts) == 3 && parts[2] == "zero" {
		text = "`0` or " + text
	}
	return text
}

// oneLine joins a comment's lines into one table cell.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

// paragraphs writes a type's doc comment as Markdown paragraphs.
func paragraphs(b *bytes.Buffer, doc string) {
	for _, p := range strings.Split(strings.TrimSpace(doc), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			b.WriteString(p + "\n\n")
		}
	}
}

// render writes the reference: a header, one section per struct type and
// a table of the other named types the fields use.
func (s *schema) render() []byte {
	var b bytes.Buffer
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("[Back to the README](../README.md#documentation) · [Configuration](config.md)\n\n")
	b.WriteString("Generated from the types of the `config` package and their doc comments by\n`" +
		regenerate + "` (`make docs`); do not edit it by hand.\n" +
		"One table per configuration type, in the order its keys are reached from the\n" +
		"top of the file. [Configuration](config.md) explains the file and has the\n" +
		"table of keys with their defaults.\n\n")
	for _, sec := range s.order {
		title := "`" + sec.keys[0] + "`"
		if sec.keys[0] == "" {
			title = "Top level"
		}
		b.WriteString("## " + title + " (`" + sec.t.name + "`)\n\n")
		if len(sec.keys) > 1 {
			b.WriteString("Also at `" + strings.Join(sec.keys[1:], "`, `") + "`.\n\n")
		}
		paragraphs(&b, sec.t.doc)
		b.WriteString("| key | type | range | meaning |\n| --- | --- | --- | --- |\n")
		for _, f := range fieldsOf(sec.t.spec.Type.(*ast.StructType)) {
			rng := "—"
			if r, ok := tag(f).Lookup("range"); ok {
				rng = rangeText(r)
			}
			doc := f.Doc.Text()
			if doc == "" {
				doc = f.Comment.Text()
			}
			b.WriteString("| `" + joinKey(sec.keys[0], yamlName(f)) + "` | `" + types.ExprString(f.Type) +
				"` | " + rng + " | " + oneLine(doc) + " |\n")
		}
		b.WriteString("\n")
	}
	if len(s.values) > 0 {
		b.WriteString("## Value types\n\n| type | underlying | meaning |\n| --- | --- | --- |\n")
		for _, t := range s.values {
			b.WriteString("| `" + t.name + "` | `" + types.ExprString(t.spec.Type) + "` | " + oneLine(t.doc) + " |\n")
		}
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

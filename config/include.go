package config

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// includedFileWords are the problems of an included file without routes.
var includedFileWords = yamlcodec.Words{
	Empty:          "the file is empty; an included file holds a routes list (write routes: [] for none)",
	SecondDocument: "a second YAML document; keep the whole file in one document",
	NotMapping:     "the top level of an included file must be a mapping with a routes list, got ",
}

// includeRoutes reads the files that c.Include names, in order, and
// appends the routes of each to c.Routes; starts gets the index of each
// included file's first route. Problems with an include entry are
// reported at the entry; problems inside a file, in that file.
func includeRoutes(d *yamlcodec.Decoder, src yamlcodec.Source, c *Config, starts map[string]int) yamlcodec.Included {
	main := d.File()
	return d.Include(src, "include", c.Include, func(data []byte) {
		includedFile(d, data, c, main, starts)
	})
}

// includedFile decodes an included file, d's File, whose routes are
// appended to c.Routes. main names the file that included it.
func includedFile(d *yamlcodec.Decoder, data []byte, c *Config, main string, starts map[string]int) {
	root, ferr := yamlcodec.ReadDocument(data, d.File(), includedFileWords)
	if ferr != nil {
		d.Errs = append(d.Errs, ferr)
		return
	}
	for _, p := range d.Pairs(root, "") {
		switch key := p.Key.Value; {
		case key == "routes":
			appendRoutes(d, p.Val, c, starts)
		case strings.HasPrefix(key, "x-"):
			// anchors for this file's routes
		case key == "include":
			d.KeyErrorf(p.Key, "", "an included file cannot include others; list every file or glob in the include of %s", main)
		case yamlcodec.HasField(configType, key):
			d.KeyErrorf(p.Key, "", "%s is a setting of the main file (%s); an included file holds only routes", key, main)
		default:
			d.KeyErrorf(p.Key, "", "unknown field %q%s; an included file holds only routes", key, yamlcodec.Suggest(key, "routes"))
		}
	}
}

var configType = reflect.TypeFor[Config]()

// appendRoutes decodes the routes list n of an included file and appends
// it to c.Routes, numbering the routes after those already there.
func appendRoutes(d *yamlcodec.Decoder, n *yaml.Node, c *Config, starts map[string]int) {
	if !d.Step() {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if yamlcodec.IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		// Not Errorf: "routes" is not bad as a whole, the other files'
		// routes are still checked.
		d.KeyErrorf(n, "routes", "want a list, got %s", yamlcodec.Describe(n))
		return
	}
	start := len(c.Routes)
	starts[d.File()] = start
	routes := make([]Route, len(n.Content))
	for i, item := range n.Content {
		d.Decode(item, reflect.ValueOf(&routes[i]).Elem(), "routes["+strconv.Itoa(start+i)+"]")
	}
	c.Routes = append(c.Routes, routes...)
}

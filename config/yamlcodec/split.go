package yamlcodec

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"

	"go.yaml.in/yaml/v3"
)

// splitMinBytes is the size of a list below which ReadDocumentList parses
// it in one piece: starting goroutines costs more than it saves there.
const splitMinBytes = 64 << 10

// ReadDocumentList is ReadDocument for a document whose top-level key
// (written "key:" alone at the start of a line) holds a long block list,
// such as the routes of a large file: the list's text is cut at item
// boundaries and the pieces are parsed at once, on as many goroutines as
// GOMAXPROCS allows, beside the rest of the document; the pieces are then
// joined into the one tree ReadDocument would return, positions included.
// Comments are not kept where pieces meet (the decoder reads none).
//
// Whenever the text is not plainly cut that way (a list under 64 KiB,
// line breaks other than "\n", tabs in indentation, a construct that runs
// across a cut, an alias to an anchor in another piece, any piece or the
// rest failing to parse), it parses the whole document as ReadDocument
// does, and returns what ReadDocument returns, errors included.
func ReadDocumentList(data []byte, file string, words Words, key string) (*yaml.Node, *FieldError) {
	if root := readSplit(data, key, runtime.GOMAXPROCS(0), splitMinBytes); root != nil {
		return root, nil
	}
	return ReadDocument(data, file, words)
}

// listText is where a top-level block list lies in a document's text.
type listText struct {
	keyLine   int   // 1-based line of "key:"
	start     int   // byte offset of the list's first item
	end       int   // byte offset just past the list's last line
	startLine int   // 1-based line at start
	lines     int   // line breaks from start to end
	indent    int   // column of the items' "-", 0-based
	items     []int // byte offsets of the lines that begin an item
	cuts      []int // indexes into items of those after a line of content
	valueAt   int   // index in the rest's top-level mapping of key's value
}

// span is one piece of a list's text, and its parsed items.
type span struct {
	from, to int        // byte offsets
	lineBase int        // lines of the document before from
	items    int        // item lines in it
	seq      *yaml.Node // the parsed piece; nil until parsed, or when it fails
}

// readSplit parses data in up to procs pieces (see ReadDocumentList), or
// returns nil; a list shorter than minBytes is not cut.
func readSplit(data []byte, key string, procs, minBytes int) *yaml.Node {
	if procs < 2 || len(data) == 0 || len(data) < minBytes || unusualBreaks(data) {
		return nil
	}
	lt, ok := findList(data, key)
	if !ok || lt.end-lt.start < minBytes || len(lt.cuts) < 2 {
		return nil
	}
	pieces := pieceSpans(data, lt, procs)
	indent := lt.indent
	var wg sync.WaitGroup
	for i := 1; i < len(pieces); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pieces[i].parse(data, indent)
		}()
	}
	head := make([]byte, 0, len(data)-(lt.end-lt.start))
	head = append(append(head, data[:lt.start]...), data[lt.end:]...)
	root := parseHead(head, &lt, key)
	pieces[0].parse(data, indent)
	wg.Wait()
	if root == nil {
		return nil
	}
	for _, p := range pieces {
		if p.seq == nil {
			return nil
		}
	}
	seq := pieces[0].seq
	for _, p := range pieces[1:] {
		seq.Content = append(seq.Content, p.seq.Content...)
	}
	root.Content[lt.valueAt] = seq
	return root
}

// unusualBreaks reports whether data holds a line break that the YAML
// parser counts and findList would not (a carriage return, NEL, a Unicode
// line or paragraph separator), or starts with a UTF-16 byte order mark.
func unusualBreaks(data []byte) bool {
	return bytes.IndexByte(data, '\r') >= 0 || data[0] == 0xFE || data[0] == 0xFF ||
		bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) ||
		bytes.Contains(data, []byte("\u2029"))
}

// findList finds the block list under the first line "key:" (nothing after
// it but a comment) and the lines where its items begin: lines indented as
// the first item and starting "- ". The list ends before the first line of
// content indented less, or as much and not an item. ok is false when
// there is no such list, or a tab in the indentation of a line that could
// end it makes its end uncertain.
func findList(data []byte, key string) (lt listText, ok bool) {
	const (
		seekKey = iota
		seekItem
		inList
	)
	state, line, prevContent := seekKey, 0, false
	for off := 0; off < len(data); {
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		text := bytes.TrimSuffix(data[off:next], []byte("\n"))
		line++
		switch state {
		case seekKey:
			if keyLine(text, key) {
				lt.keyLine, state = line, seekItem
			}
		case seekItem, inList:
			sp := 0
			for sp < len(text) && text[sp] == ' ' {
				sp++
			}
			rest := bytes.TrimLeft(text[sp:], " \t")
			switch {
			case len(rest) == 0 || rest[0] == '#': // blank or a comment
				prevContent = false
			case state == inList && sp > lt.indent:
				prevContent = true
			case sp < len(text) && text[sp] == '\t':
				return lt, false
			case state == seekItem:
				if !itemLine(text, sp) {
					return lt, false
				}
				lt.start, lt.startLine, lt.indent, state = off, line, sp, inList
				lt.items, lt.cuts, prevContent = append(lt.items, off), append(lt.cuts, 0), true
			case sp == lt.indent && itemLine(text, sp):
				if prevContent {
					lt.cuts = append(lt.cuts, len(lt.items))
				}
				lt.items, prevContent = append(lt.items, off), true
			case sp == lt.indent && text[sp] == '-' && sp+1 < len(text) && text[sp+1] == '\t':
				return lt, false
			default:
				lt.end = off
				lt.lines = bytes.Count(data[lt.start:lt.end], []byte("\n"))
				return lt, true
			}
		}
		off = next
	}
	if state != inList {
		return lt, false
	}
	lt.end = len(data)
	lt.lines = bytes.Count(data[lt.start:lt.end], []byte("\n"))
	return lt, true
}

// keyLine reports whether text is "key:" at the start of the line,
// followed by nothing but spaces and a comment.
func keyLine(text []byte, key string) bool {
	if len(text) < len(key)+1 || string(text[:len(key)]) != key || text[len(key)] != ':' {
		return false
	}
	rest := text[len(key)+1:]
	if len(rest) == 0 {
		return true
	}
	if rest[0] != ' ' {
		return false
	}
	rest = bytes.TrimLeft(rest, " ")
	return len(rest) == 0 || rest[0] == '#'
}

// itemLine reports whether text, indented by sp spaces, begins a list
// item: "-" followed by a space or the end of the line.
func itemLine(text []byte, sp int) bool {
	return sp < len(text) && text[sp] == '-' && (sp+1 == len(text) || text[sp+1] == ' ')
}

// pieceSpans cuts lt into up to procs pieces of about the same size, each
// beginning at one of lt.cuts.
func pieceSpans(data []byte, lt listText, procs int) []span {
	n := min(procs, len(lt.cuts))
	size := (lt.end - lt.start) / n
	starts := []int{0} // item indexes
	for _, c := range lt.cuts[1:] {
		if len(starts) < n && lt.items[c]-lt.start >= len(starts)*size {
			starts = append(starts, c)
		}
	}
	spans := make([]span, len(starts))
	lineBase, prev := lt.startLine-1, lt.start
	for i, first := range starts {
		s := &spans[i]
		s.from, s.to, s.items = lt.items[first], lt.end, len(lt.items)-first
		if i+1 < len(starts) {
			s.to, s.items = lt.items[starts[i+1]], starts[i+1]-first
		}
		lineBase += bytes.Count(data[prev:s.from], []byte("\n"))
		s.lineBase, prev = lineBase, s.from
	}
	return spans
}

// parse parses the piece as a block list of s.items items at column
// indent+1 and moves its lines to where they are in data; s.seq stays nil
// when the piece is not such a list.
func (s *span) parse(data []byte, indent int) {
	defer func() {
		if recover() != nil {
			s.seq = nil
		}
	}()
	doc, ok := onlyDocument(data[s.from:s.to])
	if !ok || len(doc.Content) != 1 {
		return
	}
	seq := doc.Content[0]
	if seq.Kind != yaml.SequenceNode || seq.Style != 0 || seq.Anchor != "" || seq.Tag != "!!seq" ||
		seq.Column != indent+1 || len(seq.Content) != s.items {
		return
	}
	moveLines(seq, s.lineBase, 0)
	s.seq = seq
}

// parseHead parses head, the document without its list's lines, and
// returns its top-level mapping with lines as they are in the whole
// document, lt.valueAt set to the index of key's (empty) value; nil when
// head is not one document whose top level is a mapping with key where
// findList found it.
func parseHead(head []byte, lt *listText, key string) (root *yaml.Node) {
	defer func() {
		if recover() != nil {
			root = nil
		}
	}()
	doc, ok := onlyDocument(head)
	if !ok || len(doc.Content) != 1 {
		return nil
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Line == lt.keyLine && k.Column == 1 && k.Kind == yaml.ScalarNode && k.Value == key &&
			v.Kind == yaml.ScalarNode && v.Value == "" && v.Tag == "!!null" && v.Anchor == "" {
			lt.valueAt = i + 1
			moveLines(root, lt.lines, lt.startLine)
			return root
		}
	}
	return nil
}

// onlyDocument parses data, which must hold exactly one document.
func onlyDocument(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return &doc, true
}

// moveLines adds by to the line of n and of every node under it that is
// on line from or later.
func moveLines(n *yaml.Node, by, from int) {
	if n.Line >= from {
		n.Line += by
	}
	for _, c := range n.Content {
		moveLines(c, by, from)
	}
}

package grpcbridge

import (
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestJSONPathAt(t *testing.T) {
	body := `{"a": 1, "b": {"c": [10, {"d": true}], "e": "x"}, "f": [[1, 2]]}`
	tests := []struct {
		desc string
		give string // the text at the offset
		want string
	}{
		{desc: "top key", give: `"a"`, want: "a"},
		{desc: "top value", give: `1,`, want: "a"},
		{desc: "nested object", give: `{"c"`, want: "b"},
		{desc: "nested key", give: `"c"`, want: "b.c"},
		{desc: "array element", give: `10`, want: "b.c[0]"},
		{desc: "object in array", give: `"d"`, want: "b.c[1].d"},
		{desc: "value in array object", give: `true`, want: "b.c[1].d"},
		{desc: "after an array", give: `"e"`, want: "b.e"},
		{desc: "nested arrays", give: `2]`, want: "f[0][1]"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			off := indexOf(body, tt.give)
			if off < 0 {
				t.Fatalf("%q not in body", tt.give)
			}
			if got := jsonPathAt([]byte(body), off); got != tt.want {
				t.Errorf("jsonPathAt(%d) = %q, want %q", off, got, tt.want)
			}
		})
	}
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestErrorOffset(t *testing.T) {
	body := []byte("{\n  \"é\": 1,\n  \"x\": 2}")
	tests := []struct {
		desc   string
		give   string
		want   int
		wantOK bool
	}{
		{desc: "first line", give: "proto: (line 1:1): x", want: 0, wantOK: true},
		{desc: "third line", give: "(line 3:3): unknown field", want: indexOf(string(body), `"x"`), wantOK: true},
		{desc: "runes, not bytes", give: "(line 2:8): x", want: indexOf(string(body), `1,`), wantOK: true},
		{desc: "no position", give: "unexpected EOF"},
		{desc: "line beyond", give: "(line 9:1): x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := errorOffset(body, tt.give)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("errorOffset = %d %v, want %d %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestQueryUnescape(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{give: "a+b%20c%2B", want: "a b c+", wantOK: true},
		{give: "%e2%82%AC", want: "€", wantOK: true},
		{give: "plain", want: "plain", wantOK: true},
		{give: "%2"},
		{give: "%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := queryUnescape(nil, []byte(tt.give))
			if ok != tt.wantOK || (ok && string(got) != tt.want) {
				t.Errorf("queryUnescape = %q %v, want %q %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAddMetadataDropsUnsafeValues(t *testing.T) {
	e := &Endpoint{respMD: []string{"x-a", "x-b-bin"}}
	var w Response
	e.addMetadata(&w, metadata.MD{
		"x-a":     {"ok", "bad\r\nSet-Cookie: x=1", "nul\x00", "lf\n", "fine too"},
		"x-b-bin": {"\r\n\x00"},
		"x-c":     {"not asked for"},
	})
	want := []string{"x-a: ok", "x-a: fine too", "x-b-bin: DQoA"}
	if len(w.Header) != len(want) {
		t.Fatalf("header %q, want %q", w.Header, want)
	}
	for i, p := range w.Header {
		if got := p.Name + ": " + string(p.Value); got != want[i] {
			t.Errorf("header %d %q, want %q", i, got, want[i])
		}
	}
}

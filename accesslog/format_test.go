package accesslog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The examples of doc.go, kept in step with it.
const (
	wantFullJSON   = `{"time":"2026-03-01T12:00:00.123Z","request_id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","client":"203.0.113.7","method":"GET","host":"api.example.com","path":"/users/7","query":"fields=name","proto":"HTTP/1.1","route":"users","status":200,"bytes_in":0,"bytes_out":512,"duration_ms":12.345,"upstream":"10.0.0.5:8080","upstream_ms":11.002,"source":"upstream","headers":{"user-agent":"curl/8.5.0"}}` + "\n"
	wantFullCommon = `203.0.113.7 - - [01/Mar/2026:12:00:00 +0000] "GET /users/7?fields=name HTTP/1.1" 200 512 "req-1" 12.345` + "\n"
)

func TestJSONLine(t *testing.T) {
	tests := []struct {
		desc string
		give *Entry
		want string
	}{
		{desc: "every field", give: fullEntry(), want: wantFullJSON},
		{
			desc: "optional fields left out",
			give: minimalEntry(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","status":404,"duration_ms":0.042}` + "\n",
		},
		{
			desc: "zero byte counts are known",
			give: func() *Entry { e := minimalEntry(); e.BytesIn, e.BytesOut = 0, 0; return e }(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","status":404,"bytes_in":0,"bytes_out":0,"duration_ms":0.042}` + "\n",
		},
		{
			desc: "the error answered and the upstream's failure",
			give: func() *Entry {
				e := minimalEntry()
				e.Status, e.Error, e.UpstreamError = 502, "upstream failed", "reset"
				return e
			}(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","status":502,"duration_ms":0.042,"error":"upstream failed","upstream_error":"reset"}` + "\n",
		},
		{
			desc: "the consumer access control admitted",
			give: func() *Entry { e := minimalEntry(); e.Route, e.Consumer = "users", []byte("alice"); return e }(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","route":"users","consumer":"alice","status":404,"duration_ms":0.042}` + "\n",
		},
		{
			desc: "headers without value left out",
			give: func() *Entry {
				e := minimalEntry()
				e.Headers = []Header{{Name: "X-Empty"}, {Name: "X-A", Value: []byte("1")}, {Name: "X-B"}, {Name: "x-c", Value: []byte("3")}}
				return e
			}(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","status":404,"duration_ms":0.042,"headers":{"x-a":"1","x-c":"3"}}` + "\n",
		},
		{
			desc: "no header with a value: no headers object",
			give: func() *Entry { e := minimalEntry(); e.Headers = []Header{{Name: "X-Empty"}}; return e }(),
			want: `{"time":"2026-03-01T12:00:00.123Z","method":"GET","path":"/","status":404,"duration_ms":0.042}` + "\n",
		},
		{
			desc: "time in another zone is written in UTC",
			give: func() *Entry {
				e := minimalEntry()
				e.Time = time.Date(2026, 12, 31, 23, 30, 5, 7e6, time.FixedZone("", -2*3600))
				return e
			}(),
			want: `{"time":"2027-01-01T01:30:05.007Z","method":"GET","path":"/","status":404,"duration_ms":0.042}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := string(appendJSON(nil, tt.give))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Error("not valid JSON")
			}
		})
	}
}

// TestJSONHostile puts hostile bytes in every string field and checks
// that encoding/json reads back what was given, invalid UTF-8 as U+FFFD.
func TestJSONHostile(t *testing.T) {
	tests := []struct {
		desc string
		give string
		want string // what encoding/json decodes
	}{
		{desc: "quote", give: `a"b`, want: `a"b`},
		{desc: "backslash", give: `a\b\`, want: `a\b\`},
		{desc: "newline and carriage return", give: "a\nb\r\n{\"x\":1}", want: "a\nb\r\n{\"x\":1}"},
		{desc: "tab", give: "a\tb", want: "a\tb"},
		{desc: "NUL", give: "a\x00b", want: "a\x00b"},
		{desc: "every C0 control", give: "\x01\x02\x08\x0b\x0c\x1b\x1f", want: "\x01\x02\x08\x0b\x0c\x1b\x1f"},
		{desc: "DEL", give: "a\x7fb", want: "a\x7fb"},
		{desc: "script end tag", give: "</script><script>alert(1)</script>", want: "</script><script>alert(1)</script>"},
		{desc: "invalid UTF-8 bytes", give: "a\xffb\xc3", want: "a\ufffdb\ufffd"},
		{desc: "overlong encoding", give: "\xc0\xaf", want: "\ufffd\ufffd"},
		{desc: "surrogate half", give: "\xed\xa0\x80", want: "\ufffd\ufffd\ufffd"},
		{desc: "valid multibyte kept", give: "/caf\u00e9/\u65e5\u672c/\U0001f600", want: "/caf\u00e9/\u65e5\u672c/\U0001f600"},
		{desc: "C1 control", give: "a\u0085b\u009bc", want: "a\u0085b\u009bc"},
		{desc: "line and paragraph separators", give: "a\u2028b\u2029c", want: "a\u2028b\u2029c"},
		{desc: "escapes next to each other", give: "\"\\\n\x00\xff\"", want: "\"\\\n\x00\ufffd\""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			v := []byte(tt.give)
			e := &Entry{
				Time: arrival, RequestID: v, TraceID: v, Client: v, Method: v, Host: v,
				Path: v, Query: v, Proto: v, Route: tt.give, Status: 200, Upstream: tt.give,
				Source: tt.give, Headers: []Header{{Name: "X-H", Value: v}},
			}
			line := appendJSON(nil, e)
			if i := strings.IndexByte(string(line), '\n'); i != len(line)-1 {
				t.Fatalf("newline at %d of %d: %q", i, len(line), line)
			}
			if !utf8.Valid(line) {
				t.Errorf("line is not valid UTF-8: %q", line)
			}
			for _, c := range line[:len(line)-1] {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("raw control byte %#x in %q", c, line)
				}
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("decode %q: %v", line, err)
			}
			for _, k := range []string{"request_id", "trace_id", "client", "method", "host", "path", "query", "proto", "route", "upstream", "source"} {
				if got[k] != tt.want {
					t.Errorf("%s = %q, want %q", k, got[k], tt.want)
				}
			}
			if h, _ := got["headers"].(map[string]any); h["x-h"] != tt.want {
				t.Errorf("headers = %q, want x-h: %q", got["headers"], tt.want)
			}
		})
	}
}

// TestHostileHeaderName checks that a header name is escaped, then
// lowered, without lowering its escapes.
func TestHostileHeaderName(t *testing.T) {
	e := minimalEntry()
	e.Headers = []Header{{Name: "X-\"Q\"\n\xffÄ", Value: []byte("v")}}
	var got struct{ Headers map[string]string }
	line := appendJSON(nil, e)
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	want := map[string]string{"x-\"q\"\n\ufffdÄ": "v"}
	if !reflect.DeepEqual(got.Headers, want) {
		t.Errorf("headers = %q, want %q", got.Headers, want)
	}
}

// FuzzAppendJSONString checks the escaper against encoding/json: both
// must decode to the same string, for any bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\x00", "\xff\xfe", "\u2028</script>", "\xed\xa0\x80\xf4\x90\x80\x80", "é\xc3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		ours := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatalf("decode %q: %v", ours, err)
		}
		ref, _ := json.Marshal(string(s))
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q decodes to %q, want %q", s, got, want)
		}
		if str := appendJSONString(nil, string(s)); string(str) != string(ours) {
			t.Errorf("string and []byte differ: %q, %q", str, ours)
		}
	})
}

func TestCommonLine(t *testing.T) {
	tests := []struct {
		desc string
		give *Entry
		want string
	}{
		{desc: "every field", give: fullEntry(), want: wantFullCommon},
		{
			desc: "empty fields are dashes",
			give: minimalEntry(),
			want: `- - - [01/Mar/2026:12:00:00 +0000] "GET /" 404 - "-" 0.042` + "\n",
		},
		{
			desc: "the consumer in the user field",
			give: func() *Entry { e := minimalEntry(); e.Consumer = []byte("bob smith"); return e }(),
			want: `- - bob\x20smith [01/Mar/2026:12:00:00 +0000] "GET /" 404 - "-" 0.042` + "\n",
		},
		{
			desc: "no bytes written is a dash",
			give: func() *Entry { e := fullEntry(); e.BytesOut = 0; return e }(),
			want: `203.0.113.7 - - [01/Mar/2026:12:00:00 +0000] "GET /users/7?fields=name HTTP/1.1" 200 - "req-1" 12.345` + "\n",
		},
		{
			desc: "hostile request line and client",
			give: func() *Entry {
				e := minimalEntry()
				e.Client = []byte("1.2.3.4 evil\"")
				e.Path = []byte("/a\"b\\c\nd\x00é</script> x")
				e.RequestID = []byte("r\"1")
				return e
			}(),
			want: `1.2.3.4\x20evil\" - - [01/Mar/2026:12:00:00 +0000] "GET /a\"b\\c\x0ad\x00\xc3\xa9</script> x" 404 - "r\"1" 0.042` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := string(appendCommon(nil, tt.give)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		desc string
		give time.Duration
		want string
	}{
		{desc: "zero", give: 0, want: "0.000"},
		{desc: "one microsecond", give: time.Microsecond, want: "0.001"},
		{desc: "rounds down below half a microsecond", give: 1499 * time.Nanosecond, want: "0.001"},
		{desc: "rounds up from half a microsecond", give: 1500 * time.Nanosecond, want: "0.002"},
		{desc: "carries into the milliseconds", give: 999999600 * time.Nanosecond, want: "1000.000"},
		{desc: "seconds", give: 2*time.Second + 30*time.Millisecond, want: "2030.000"},
		{desc: "negative", give: -1500 * time.Microsecond, want: "-1.500"},
		{desc: "most negative", give: time.Duration(-1 << 63), want: "-9223372036854.776"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := string(appendMillis(nil, tt.give)); got != tt.want {
				t.Errorf("appendMillis(%v) = %s, want %s", tt.give, got, tt.want)
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	tests := []struct {
		desc       string
		give       time.Time
		wantRFC    string
		wantCommon string
	}{
		{
			desc:       "truncated to the millisecond",
			give:       time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
			wantRFC:    "2026-01-02T03:04:05.999Z",
			wantCommon: "02/Jan/2026:03:04:05 +0000",
		},
		{
			desc:       "zero time",
			give:       time.Time{},
			wantRFC:    "0001-01-01T00:00:00.000Z",
			wantCommon: "01/Jan/0001:00:00:00 +0000",
		},
		{
			desc:       "agrees with the time package",
			give:       time.Date(1999, 12, 31, 23, 59, 59, 1e6, time.FixedZone("", 5*3600+1800)),
			wantRFC:    time.Date(1999, 12, 31, 23, 59, 59, 1e6, time.FixedZone("", 5*3600+1800)).UTC().Format("2006-01-02T15:04:05.000Z"),
			wantCommon: "31/Dec/1999:18:29:59 +0000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := string(appendRFC3339Millis(nil, tt.give)); got != tt.wantRFC {
				t.Errorf("RFC 3339: %s, want %s", got, tt.wantRFC)
			}
			if got := string(appendCLFTime(nil, tt.give)); got != tt.wantCommon {
				t.Errorf("common: %s, want %s", got, tt.wantCommon)
			}
		})
	}
}

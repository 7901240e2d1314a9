package compress

import "testing"

func TestNegotiate(t *testing.T) {
	all := []Encoding{Zstd, Brotli, Gzip}
	gzipFirst := []Encoding{Gzip, Brotli, Zstd}
	tests := []struct {
		desc    string
		give    string
		offered []Encoding
		want    Encoding
	}{
		{desc: "empty value: identity only", give: "", want: Identity},
		{desc: "one coding", give: "gzip", want: Gzip},
		{desc: "browser list, server order decides a tie", give: "gzip, deflate, br, zstd", want: Zstd},
		{desc: "server order gzip first", give: "gzip, deflate, br, zstd", offered: gzipFirst, want: Gzip},
		{desc: "higher q wins over server order", give: "zstd;q=0.5, br;q=0.8, gzip;q=0.9", want: Gzip},
		{desc: "q=0 refuses", give: "zstd;q=0, br;q=0, gzip", want: Gzip},
		{desc: "q=0.000 refuses", give: "gzip;q=0.000", want: Identity},
		{desc: "only refusals", give: "gzip;q=0, br;q=0", want: Identity},
		{desc: "star covers what is not listed", give: "*", want: Zstd},
		{desc: "star with refusal of one", give: "zstd;q=0, *;q=0.5", want: Brotli},
		{desc: "star q=0 refuses the rest", give: "gzip;q=0.2, *;q=0", want: Gzip},
		{desc: "listed coding beats star", give: "*;q=0.1, gzip;q=0.9", want: Gzip},
		{desc: "identity weighed higher than every coding", give: "gzip;q=0.5, identity", want: Identity},
		{desc: "identity weighed lower", give: "gzip, identity;q=0.5", want: Gzip},
		{desc: "identity alone", give: "identity", want: Identity},
		{desc: "case-insensitive tokens and q", give: "GZIP;Q=1, Br;q=0", want: Gzip},
		{desc: "x-gzip is gzip", give: "x-gzip", want: Gzip},
		{desc: "whitespace and tabs", give: " \tbr \t; \tq=0.7 ,\tgzip ; q=0.6 ", want: Brotli},
		{desc: "empty elements", give: ",,, ,gzip,,", want: Gzip},
		{desc: "unknown codings", give: "deflate, compress, lzma", want: Identity},
		{desc: "first listing counts", give: "gzip;q=0, gzip", want: Identity},
		{desc: "other parameters are ignored", give: "gzip;level=9;q=0.5", want: Gzip},
		{desc: "q over 1 ignores the element", give: "zstd;q=1.5, gzip", want: Gzip},
		{desc: "q with four decimals ignores the element", give: "zstd;q=0.1234, gzip;q=0.1", want: Gzip},
		{desc: "q not a number ignores the element", give: "zstd;q=high, gzip;q=0.1", want: Gzip},
		{desc: "empty q ignores the element", give: "zstd;q=, gzip;q=0.1", want: Gzip},
		{desc: "q with a sign ignores the element", give: "zstd;q=-1, br;q=+1", want: Identity},
		{desc: "garbage", give: "\x00\xff;;;==,;q", want: Identity},
		{desc: "token with a space inside is unknown", give: "g zip", want: Identity},
		{desc: "offered none", give: "gzip", offered: []Encoding{}, want: Identity},
		{desc: "not offered", give: "br", offered: []Encoding{Gzip}, want: Identity},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			offered := tt.offered
			if offered == nil {
				offered = all
			}
			if got := Negotiate([]byte(tt.give), offered); got != tt.want {
				t.Errorf("Negotiate(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		give string
		want Encoding
		ok   bool
	}{{"gzip", Gzip, true}, {"BR", Brotli, true}, {"zstd", Zstd, true}, {"identity", Identity, false}, {"deflate", unknown, false}} {
		if got, ok := Parse(tt.give); got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, br;q=0.5", "*;q=0", "identity;q=1.000, zstd;q=0.999", ";;,=q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Negotiate([]byte(s), []Encoding{Zstd, Brotli, Gzip})
		if e >= numEncodings {
			t.Fatalf("Negotiate(%q) = %d", s, e)
		}
	})
}

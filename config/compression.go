package config

import (
	"mime"
	"slices"
	"strconv"
	"strings"
)

// Compression is how a route compresses its answers for clients that
// accept it (Accept-Encoding): gzip, brotli or zstd, in the order
// listed here when the client weighs them alike. The section is
// optional; without it nothing is compressed. Only answers of the types
// listed, of at least min_size, are compressed, and never an answer that
// is encoded already, partial (206), to a HEAD, without a body (204,
// 304, 1xx), marked Cache-Control: no-transform, or an event stream.
//
// Compressing an answer that reflects what the request sent beside a
// secret (a token, a CSRF value) lets an attacker who can send requests
// and see sizes guess the secret (BREACH): leave compression off on such
// routes.
type Compression struct {
	// Encodings lists the encodings the route offers, the preferred
	// first: gzip, br, zstd. Default [zstd, br, gzip]: zstd costs the
	// least CPU per byte for as good a ratio, brotli compresses text
	// best, gzip every client takes.
	Encodings []string `yaml:"encodings"`
	// GzipLevel is gzip's level, 1 (fastest) to 9. Default 5: twice the
	// CPU of level 1 for a tenth smaller answers; 6 to 9 cost more for
	// little more.
	GzipLevel int `yaml:"gzip_level" range:"1,9"`
	// BrotliLevel is brotli's quality, 1 to 11. Default 4: about 1.5
	// times gzip 5's CPU per MiB for a tenth smaller answers; 5 and up
	// cost twice as much again, 10 and 11 are for compressing ahead of
	// time, not per request.
	BrotliLevel int `yaml:"brotli_level" range:"1,11"`
	// ZstdLevel is zstd's level, 1 to 22 (the encoder has four speeds:
	// 1-2, 3-5, 6-9, 10 and up). Default 1: on JSON it was both the
	// fastest and the best ratio of the levels measured with the pooled
	// encoders' 512 KiB window.
	ZstdLevel int `yaml:"zstd_level" range:"1,22"`
	// MinSize is the smallest answer compressed, when its size is known
	// (an answer of unknown size is always compressed). Default 1KiB, as
	// Traefik: below it the encoding's framing and the CPU are not worth
	// the bytes saved.
	MinSize ByteSize `yaml:"min_size" range:"1B,1GiB"`
	// MaxStreams caps the route's answers being compressed as they
	// stream at once: each holds an encoder (about 1 to 1.5 MiB at the
	// default levels) for as long as it streams. Past it a streamed
	// answer goes plain (counted as skipped, reason busy). Default 256.
	MaxStreams int `yaml:"max_streams" range:"1,100000"`
	// Types lists the media types compressed: "text/html", or a whole
	// family "text/*"; parameters (charset) are not compared, case does
	// not matter. Default: text/* but event streams, and JSON, JavaScript,
	// XML, SVG, WebAssembly, fonts that are not compressed already, and
	// the +json and +xml types (application/problem+json, ...). Images,
	// video, audio, archives and woff2 are compressed already: leave them
	// off.
	Types []string `yaml:"types"`
}

// DefaultCompressionEncodings is the order encodings are offered in by
// default.
var DefaultCompressionEncodings = []string{"zstd", "br", "gzip"}

// DefaultCompressionTypes is the default list of compressed types.
var DefaultCompressionTypes = []string{
	"text/*",
	"application/json", "application/*+json", "application/x-ndjson",
	"application/javascript", "application/x-javascript", "text/javascript",
	"application/xml", "application/*+xml", "image/svg+xml",
	"application/wasm", "application/graphql-response+json",
	"font/ttf", "font/otf", "application/vnd.ms-fontobject",
}

const (
	defaultGzipLevel   = 5
	defaultBrotliLevel = 4
	defaultZstdLevel   = 1
	defaultMinCompress = 1 << 10
	defaultMaxStreams  = 256
)

// compressionEncodings are the tokens an encodings list may hold.
var compressionEncodings = []string{"gzip", "br", "zstd"}

func compressionDefaults(c *Compression) {
	if c.Encodings == nil {
		c.Encodings = append([]string(nil), DefaultCompressionEncodings...)
	}
	for i, e := range c.Encodings {
		c.Encodings[i] = strings.ToLower(e)
	}
	if c.Types == nil {
		c.Types = append([]string(nil), DefaultCompressionTypes...)
	}
	for i, t := range c.Types {
		c.Types[i] = strings.ToLower(strings.TrimSpace(t))
	}
	zeroDefault(&c.GzipLevel, defaultGzipLevel)
	zeroDefault(&c.BrotliLevel, defaultBrotliLevel)
	zeroDefault(&c.ZstdLevel, defaultZstdLevel)
	zeroDefault(&c.MinSize, defaultMinCompress)
	zeroDefault(&c.MaxStreams, defaultMaxStreams)
}

// compression checks a route's compression section.
func (v *validator) compression(c *Compression, p string) {
	if len(c.Encodings) == 0 {
		v.errorf(p+".encodings", "lists no encoding; remove the section to compress nothing")
	}
	seen := map[string]bool{}
	for i, e := range c.Encodings {
		ep := p + ".encodings[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(compressionEncodings, e):
			v.invalid(ep, e, "want gzip, br or zstd")
		case seen[e]:
			v.invalid(ep, e, "listed twice")
		}
		seen[e] = true
	}
	if len(c.Types) == 0 {
		v.errorf(p+".types", "lists no type; remove it for the default list, or the section to compress nothing")
	}
	if len(c.Types) == 0 {
		v.errorf(p+".types", "lists no type; remove it for the default list, or the section to compress nothing")
	}
	for i, t := range c.Types {
		if msg := checkMediaRange(t); msg != "" {
			v.invalid(p+".types["+strconv.Itoa(i)+"]", t, msg)
		}
	}
}

// checkMediaRange accepts "type/subtype", "type/*" and "type/*+suffix",
// without parameters.
func checkMediaRange(t string) string {
	typ, sub, ok := strings.Cut(t, "/")
	switch {
	case !ok || typ == "" || sub == "":
		return `want type/subtype, "type/*" or "type/*+suffix"`
	case strings.ContainsAny(t, ";, \t"):
		return "a media type without parameters"
	case typ == "*":
		return `"*/*" would compress images and archives; list the types`
	case t == "text/event-stream":
		return "event streams are never compressed (they must flow unbuffered)"
	}
	check := sub
	if rest, ok := strings.CutPrefix(sub, "*"); ok {
		if rest != "" && !strings.HasPrefix(rest, "+") {
			return `a wildcard stands for the whole subtype ("type/*") or before a suffix ("type/*+json")`
		}
		check = "x" + rest
	}
	if _, _, err := mime.ParseMediaType(typ + "/" + check); err != nil {
		return "not a media type"
	}
	return ""
}

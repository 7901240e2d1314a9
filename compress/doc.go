// Package compress holds what response compression needs apart from HTTP
// plumbing: the choice of an encoding from a client's Accept-Encoding
// (Negotiate, which does not allocate), pools of gzip, brotli and zstd
// encoders with bounded windows (Pool), and a streamed body compressed as
// it is read (Stream).
//
// The gateway's compression step (gateway/compress.go) decides which
// answers are compressed; this package never looks at a response.
package compress

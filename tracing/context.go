package tracing

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// TraceID identifies a trace. The zero value is invalid.
type TraceID [16]byte

// SpanID identifies a span within a trace. The zero value is invalid.
type SpanID [8]byte

// Trace flags of version 00 of traceparent.
const (
	// FlagSampled marks a trace whose caller may have recorded it; the
	// gateway records its own spans for exactly these traces.
	FlagSampled byte = 0x01
	// FlagRandom says the trace id's rightmost 7 bytes are random (Trace
	// Context Level 2). It is passed on unchanged.
	FlagRandom byte = 0x02
	// knownFlags are the flags passed on; other bits are reset to zero.
	knownFlags = FlagSampled | FlagRandom
)

// traceparentLen is the length of a version 00 traceparent:
// "00-" 32 hex "-" 16 hex "-" 2 hex.
const traceparentLen = 55

// SpanContext is the part of a span that crosses process boundaries: the
// ids and flags of a traceparent header. It is a plain value, safe to copy
// and to share.
type SpanContext struct {
	Trace TraceID
	Span  SpanID
	Flags byte // bit 0: sampled (FlagSampled); bit 1: random (FlagRandom)
}

// IsValid reports whether both the trace id and the span id are non-zero.
func (sc SpanContext) IsValid() bool {
	return sc.Trace != TraceID{} && sc.Span != SpanID{}
}

// IsSampled reports whether the sampled flag is set.
func (sc SpanContext) IsSampled() bool { return sc.Flags&FlagSampled != 0 }

// Child returns the context the gateway passes on for a call it makes
// within sc's trace: the same trace id and flags, and a new span id.
//
// When sc is not valid (no incoming traceparent, or a malformed one),
// Child starts a new trace instead: a new trace id, a new span id and no
// flags (not sampled). Child allocates nothing.
func (sc SpanContext) Child() SpanContext {
	if sc.Trace == (TraceID{}) {
		return SpanContext{Trace: NewTraceID(), Span: NewSpanID()}
	}
	return SpanContext{Trace: sc.Trace, Span: NewSpanID(), Flags: sc.Flags}
}

// NewSpanID returns a random, non-zero span id. It is fast and safe for
// concurrent use, and not fit for any purpose that needs secrecy.
func NewSpanID() SpanID {
	var id SpanID
	for {
		if v := rand.Uint64(); v != 0 {
			binary.BigEndian.PutUint64(id[:], v)
			return id
		}
	}
}

// NewTraceID returns a random, non-zero trace id. It is fast and safe for
// concurrent use, and not fit for any purpose that needs secrecy.
func NewTraceID() TraceID {
	var id TraceID
	for {
		hi, lo := rand.Uint64(), rand.Uint64()
		if hi|lo != 0 {
			binary.BigEndian.PutUint64(id[:8], hi)
			binary.BigEndian.PutUint64(id[8:], lo)
			return id
		}
	}
}

// ParseTraceparent parses the value of a traceparent header. It reports
// false, and the zero SpanContext, for anything the W3C specification
// says to ignore: a version other than lower-case hex or equal to "ff", a
// version 00 value that is not exactly 55 characters, upper-case or
// non-hex digits, misplaced separators, or an all-zero trace or parent
// id. A higher version is read by its first four fields (see the package
// documentation). Flags other than sampled and random are reset to zero.
//
// ParseTraceparent allocates nothing and does not keep b.
func ParseTraceparent(b []byte) (SpanContext, bool) {
	var sc SpanContext
	if len(b) < traceparentLen {
		return sc, false
	}
	v, ok := hexByte(b[0], b[1])
	if !ok || v == 0xff || b[2] != '-' || b[35] != '-' || b[52] != '-' {
		return sc, false
	}
	if len(b) > traceparentLen && (v == 0 || b[traceparentLen] != '-') {
		return sc, false
	}
	if !decodeHex(sc.Trace[:], b[3:35]) || !decodeHex(sc.Span[:], b[36:52]) {
		return SpanContext{}, false
	}
	flags, ok := hexByte(b[53], b[54])
	if !ok || !sc.IsValid() {
		return SpanContext{}, false
	}
	sc.Flags = flags & knownFlags
	return sc, true
}

// AppendTraceparent appends sc as a version 00 traceparent value,
// "00-<trace id>-<span id>-<flags>", to dst and returns the extended
// buffer. It does not check sc: the caller passes on only a valid one.
func (sc SpanContext) AppendTraceparent(dst []byte) []byte {
	dst = append(dst, '0', '0', '-')
	dst = hex.AppendEncode(dst, sc.Trace[:])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, sc.Span[:])
	return append(dst, '-', hexDigits[sc.Flags>>4], hexDigits[sc.Flags&0x0f])
}

// AppendTraceID appends sc's trace id as 32 lower-case hex digits, the
// form logs and trace viewers use, to dst and returns the extended
// buffer.
func (sc SpanContext) AppendTraceID(dst []byte) []byte {
	return hex.AppendEncode(dst, sc.Trace[:])
}

const hexDigits = "0123456789abcdef"

// unhex maps a lower-case hex digit to its value and anything else to
// 0xff. Upper-case digits are invalid in traceparent.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range 16 {
		t[hexDigits[i]] = byte(i)
	}
	return t
}()

func hexByte(hi, lo byte) (byte, bool) {
	h, l := unhex[hi], unhex[lo]
	return h<<4 | l, (h|l)&0xf0 == 0
}

// decodeHex decodes the lower-case hex src into dst, len(src) ==
// 2*len(dst).
func decodeHex(dst, src []byte) bool {
	src = src[:2*len(dst)]
	for i := range dst {
		v, ok := hexByte(src[2*i], src[2*i+1])
		if !ok {
			return false
		}
		dst[i] = v
	}
	return true
}

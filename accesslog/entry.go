package accesslog

import (
	"strconv"
	"time"
)

// Entry is what one line records of a request. Log reads it and does not
// retain it, nor any of its slices. Empty optional fields are left out of
// a JSON line.
type Entry struct {
	// Time is when the request arrived. Written in UTC, to the
	// millisecond.
	Time time.Time
	// RequestID is the request's id; empty: left out.
	RequestID []byte
	// TraceID is the W3C trace id (32 hex digits); empty: left out.
	TraceID []byte
	// Client is the client address as the gateway decided it (e.g.
	// "203.0.113.7"); empty: left out.
	Client []byte
	// Method, Host and Path (without the query) of the request. Method
	// and Path are always written, Host only when not empty.
	Method, Host, Path []byte
	// Query is the query string without "?"; empty: left out. The caller
	// decides whether to pass it.
	Query []byte
	// Proto is the request's protocol ("HTTP/1.1"), the third word of the
	// common format's request line; empty: left out.
	Proto []byte
	// TLSVersion ("1.2", "1.3") and SNI (the server name the client
	// asked for) describe a request that came over TLS; empty: left out.
	// The common format does not write them.
	TLSVersion string
	SNI        string
	// Consumer is who the route's access control admitted: the API
	// key's consumer, the basic auth user or the token's subject (never
	// the credential itself); empty: left out (common format: "-", in
	// the user field).
	Consumer []byte
	// Route is the name of the route that matched; "" when none did, and
	// then left out.
	Route string
	// Status is the response status, always written.
	Status int
	// BytesIn is the number of request body bytes read, BytesOut the
	// number of response body bytes written; -1 (any negative value)
	// means unknown and leaves the field out (common format: "-").
	BytesIn, BytesOut int64
	// Duration is how long the gateway took, from Time to the last byte
	// written. Written in milliseconds with three decimals.
	Duration time.Duration
	// Upstream is the "host:port" that answered; "" when none did, and
	// then Upstream and UpstreamDuration are left out.
	Upstream string
	// UpstreamDuration is how long the upstream took to answer.
	UpstreamDuration time.Duration
	// Source is what answered: upstream, cache, static, respond,
	// rate_limit, breaker, grpc, publish or error; "": left out.
	Source string
	// Error is the error the gateway answered with, as its JSON body
	// says it (e.g. "upstream timed out"); "" when none, and then left
	// out.
	Error string
	// UpstreamError is the kind of the last failed upstream attempt
	// (connect, timeout, reset, protocol, pool_exhausted, no_instance,
	// too_large), also when a fallback answered; "" when none, and then
	// left out.
	UpstreamError string
	// Headers are extra request headers to log, each name once. The
	// caller filters out secrets. A header with an empty value is left
	// out. The common format does not write them.
	Headers []Header
}

// Header is one request header of Entry.Headers.
type Header struct {
	Name  string // written in lower case
	Value []byte
}

// appendJSON appends e as one JSON object and a newline. The field order
// is fixed.
func appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, e.Time)
	b = append(b, '"')
	b = appendOptional(b, `,"request_id":`, e.RequestID)
	b = appendOptional(b, `,"trace_id":`, e.TraceID)
	b = appendOptional(b, `,"client":`, e.Client)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = appendOptional(b, `,"host":`, e.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	b = appendOptional(b, `,"query":`, e.Query)
	b = appendOptional(b, `,"proto":`, e.Proto)
	b = appendOptional(b, `,"tls_version":`, e.TLSVersion)
	b = appendOptional(b, `,"sni":`, e.SNI)
	b = appendOptional(b, `,"route":`, e.Route)
	b = appendOptional(b, `,"consumer":`, e.Consumer)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	if e.BytesIn >= 0 {
		b = append(b, `,"bytes_in":`...)
		b = strconv.AppendInt(b, e.BytesIn, 10)
	}
	if e.BytesOut >= 0 {
		b = append(b, `,"bytes_out":`...)
		b = strconv.AppendInt(b, e.BytesOut, 10)
	}
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.Duration)
	if e.Upstream != "" {
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, e.Upstream)
		b = append(b, `,"upstream_ms":`...)
		b = appendMillis(b, e.UpstreamDuration)
	}
	b = appendOptional(b, `,"source":`, e.Source)
	b = appendOptional(b, `,"error":`, e.Error)
	b = appendOptional(b, `,"upstream_error":`, e.UpstreamError)
	b = appendHeaders(b, e.Headers)
	return append(b, "}\n"...)
}

// appendOptional appends key and v as a JSON string unless v is empty.
func appendOptional[S string | []byte](b []byte, key string, v S) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, v)
}

// appendHeaders appends `,"headers":{...}` with the headers of hs that
// have a value, names in lower case; nothing when none has.
func appendHeaders(b []byte, hs []Header) []byte {
	first := true
	for i := range hs {
		h := &hs[i]
		if len(h.Value) == 0 {
			continue
		}
		if first {
			b = append(b, `,"headers":{`...)
			first = false
		} else {
			b = append(b, ',')
		}
		start := len(b)
		b = appendJSONString(b, h.Name)
		lowerASCII(b[start:]) // escapes use lower-case letters only
		b = append(b, ':')
		b = appendJSONString(b, h.Value)
	}
	if !first {
		b = append(b, '}')
	}
	return b
}

// appendCommon appends e in the NCSA common log format followed by the
// quoted request id and the duration in milliseconds, and a newline:
//
//	client - consumer [02/Jan/2006:15:04:05 +0000] "METHOD path?query proto" status bytes_out "request_id" duration_ms
func appendCommon(b []byte, e *Entry) []byte {
	b = appendCLF(b, e.Client, false)
	b = append(b, " - "...)
	b = appendCLF(b, e.Consumer, false)
	b = append(b, " ["...)
	b = appendCLFTime(b, e.Time)
	b = append(b, `] "`...)
	b = appendCLF(b, e.Method, true)
	b = append(b, ' ')
	b = appendCLF(b, e.Path, true)
	if len(e.Query) > 0 {
		b = append(b, '?')
		b = appendCLF(b, e.Query, true)
	}
	if len(e.Proto) > 0 {
		b = append(b, ' ')
		b = appendCLF(b, e.Proto, true)
	}
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	if e.BytesOut > 0 {
		b = strconv.AppendInt(b, e.BytesOut, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ` "`...)
	b = appendCLF(b, e.RequestID, true)
	b = append(b, `" `...)
	b = appendMillis(b, e.Duration)
	return append(b, '\n')
}

package grpcbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// DefaultMaxBufferedBytes is the default of
// EndpointSettings.MaxBufferedBytes.
const DefaultMaxBufferedBytes = 4 << 20

// AlwaysMetadata are the headers every Endpoint passes on as metadata, for
// request ids and tracing, besides those of EndpointSettings.Metadata.
var AlwaysMetadata = []string{"x-request-id", "traceparent", "tracestate"}

// EndpointSettings configure an Endpoint. The zero value is usable: strict
// decoding, JSON names, unpopulated fields left out, only AlwaysMetadata
// passed on.
type EndpointSettings struct {
	// Route is the route's name, put in error bodies as "route". "" leaves
	// it out.
	Route string
	// AllowUnknownFields ignores body fields and query keys the request
	// message does not have. false makes them a RequestError. A path
	// parameter the message lacks is an error either way.
	AllowUnknownFields bool
	// EmitDefaults writes every field of an answer, also those at their
	// zero value (protojson's EmitUnpopulated). false leaves them out.
	EmitDefaults bool
	// UseProtoNames writes an answer's fields by their proto names
	// (user_id) instead of their JSON names (userId). Requests accept
	// both either way.
	UseProtoNames bool
	// BodyField is the top-level field of the request message that the
	// HTTP body fills, as google.api.http's body: "user" means the body is
	// the JSON of the user field. "" or "*" means the body is the whole
	// message.
	BodyField string
	// Metadata are the HTTP headers passed on as gRPC metadata (lower
	// case keys), besides AlwaysMetadata. A value that is not printable
	// ASCII is dropped (keys ending in -bin take any bytes). Reserved
	// names (grpc-*, content-type, te, user-agent, hop-by-hop headers)
	// are an error.
	Metadata []string
	// ResponseMetadata are the keys of the answer's header and trailer
	// metadata returned in Response.Header, header values first. Values
	// of keys ending in -bin are base64; a value holding CR, LF or NUL is
	// dropped. nil returns none.
	ResponseMetadata []string
	// MaxBufferedBytes bounds the JSON array that Invoke gathers from a
	// server-streaming method, in bytes; beyond it the call ends with
	// RESOURCE_EXHAUSTED. 0 (or less) means DefaultMaxBufferedBytes
	// (4 MiB). Stream does not buffer and ignores it.
	MaxBufferedBytes int
}

// Endpoint is one route's compiled call of one method: it turns a Request
// into the request message, calls the method on a connection and writes
// the answer (or the status) as JSON into a Response. It is safe for
// concurrent use.
type Endpoint struct {
	m          *Method
	cc         grpc.ClientConnInterface
	in, out    protoreflect.MessageDescriptor
	route      string
	fields     fieldIndex
	bodyField  string
	bodyPrefix []byte // {"field": before a BodyField body
	md         []string
	respMD     []string
	maxBuf     int

	allowUnknown bool
	unmarshal    protojson.UnmarshalOptions
	marshal      protojson.MarshalOptions
	details      protojson.MarshalOptions

	scratch sync.Pool // *[]byte
}

// reserved are the metadata keys that gRPC sets itself or that HTTP/2
// forbids.
var reserved = map[string]bool{
	"content-type": true, "te": true, "user-agent": true, "host": true,
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true,
}

// NewEndpoint compiles a call of m on cc. The method may be unary or
// server-streaming (see Invoke and Stream).
func NewEndpoint(m *Method, cc grpc.ClientConnInterface, s EndpointSettings) (*Endpoint, error) {
	if m == nil || cc == nil {
		return nil, errors.New("grpcbridge: endpoint needs a method and a connection")
	}
	res := typeResolver{schema: m.schema.types}
	e := &Endpoint{
		m:            m,
		cc:           cc,
		in:           m.desc.Input(),
		out:          m.desc.Output(),
		route:        s.Route,
		fields:       newFieldIndex(m.desc.Input()),
		maxBuf:       s.MaxBufferedBytes,
		allowUnknown: s.AllowUnknownFields,
		// The check of required fields walks (and allocates) every call;
		// it is left out for messages without any (all of proto3).
		unmarshal: protojson.UnmarshalOptions{DiscardUnknown: s.AllowUnknownFields, Resolver: res,
			AllowPartial: !hasRequired(m.desc.Input(), map[protoreflect.FullName]bool{})},
		marshal: protojson.MarshalOptions{EmitUnpopulated: s.EmitDefaults, UseProtoNames: s.UseProtoNames, Resolver: res,
			AllowPartial: !hasRequired(m.desc.Output(), map[protoreflect.FullName]bool{})},
		details: detailsMarshaler(res),
	}
	if e.maxBuf <= 0 {
		e.maxBuf = DefaultMaxBufferedBytes
	}
	if s.BodyField != "" && s.BodyField != "*" {
		fd := e.in.Fields().ByName(protoreflect.Name(s.BodyField))
		if fd == nil {
			return nil, fmt.Errorf("grpcbridge: %s: body field %q is not a field of %s", m.name, s.BodyField, e.in.FullName())
		}
		e.bodyField = string(fd.Name())
		e.bodyPrefix = []byte(`{"` + e.bodyField + `":`)
	}
	seen := make(map[string]bool)
	for _, h := range append(append([]string(nil), AlwaysMetadata...), s.Metadata...) {
		k := strings.ToLower(strings.TrimSpace(h))
		if err := checkRequestMetadataKey(k); err != nil {
			return nil, fmt.Errorf("grpcbridge: %s: metadata %q: %w", m.name, h, err)
		}
		if !seen[k] {
			seen[k] = true
			e.md = append(e.md, k)
		}
	}
	for _, h := range s.ResponseMetadata {
		k := strings.ToLower(strings.TrimSpace(h))
		if err := checkMetadataKey(k); err != nil {
			return nil, fmt.Errorf("grpcbridge: %s: response metadata %q: %w", m.name, h, err)
		}
		e.respMD = append(e.respMD, k)
	}
	e.scratch.New = func() any { b := make([]byte, 0, 512); return &b }
	return e, nil
}

// maxScratch is the largest scratch buffer kept for reuse; a larger one
// (a large wrapped body) goes to the garbage collector.
const maxScratch = 64 << 10

// putScratch returns a scratch buffer to the pool.
func (e *Endpoint) putScratch(b *[]byte) {
	if cap(*b) <= maxScratch {
		e.scratch.Put(b)
	}
}

// hasRequired reports whether md or a message type it reaches has a
// required (proto2) field.
func hasRequired(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if md.RequiredNumbers().Len() > 0 {
		return true
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if sub := fields.Get(i).Message(); sub != nil && hasRequired(sub, seen) {
			return true
		}
	}
	return false
}

// checkMetadataKey tells whether k may be sent as metadata.
func checkMetadataKey(k string) error {
	if k == "" {
		return errors.New("empty name")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("a metadata key holds only a-z, 0-9, '-', '_' and '.'")
		}
	}
	return nil
}

// checkRequestMetadataKey tells whether k may be sent as request metadata.
func checkRequestMetadataKey(k string) error {
	if err := checkMetadataKey(k); err != nil {
		return err
	}
	if strings.HasPrefix(k, "grpc-") || reserved[k] {
		return errors.New("reserved for gRPC or HTTP/2")
	}
	return nil
}

// Method returns the endpoint's method.
func (e *Endpoint) Method() *Method { return e.m }

// CheckField reports whether name (dotted for nested fields) reaches a
// field of the request message that a path or query value can set, so a
// route's path parameters can be checked when the route is built.
func (e *Endpoint) CheckField(name string) error {
	md := e.in
	rest := name
	for {
		seg, tail, nested := strings.Cut(rest, ".")
		fd := field(e.fields, md, seg)
		switch {
		case fd == nil:
			return fmt.Errorf("grpcbridge: %s: %s has no field %q (of %q)", e.m.name, md.FullName(), seg, name)
		case nested && (fd.Message() == nil || fd.IsList() || fd.IsMap()):
			return fmt.Errorf("grpcbridge: %s: %q: %s is not a message field", e.m.name, name, seg)
		case nested:
			md, rest = fd.Message(), tail
			continue
		case fd.IsMap():
			return fmt.Errorf("grpcbridge: %s: %q is a map field", e.m.name, name)
		case fd.Message() != nil && !settableMessage(fd.Message().FullName()):
			return fmt.Errorf("grpcbridge: %s: %q is a message field; name one of its fields", e.m.name, name)
		}
		return nil
	}
}

// Response is the answer to write to the HTTP client. A Response may be
// reused for one call after another; Invoke and Stream reset it first
// and keep its buffers.
type Response struct {
	// Status is the HTTP status: 200, or HTTPStatus(Code), or 400 for a
	// RequestError.
	Status int
	// Code is the gRPC code of the call (INVALID_ARGUMENT for a
	// RequestError), for the breaker and the metrics.
	Code codes.Code
	// Body is the JSON answer, or the error body
	// {"error": message, "code": "NOT_FOUND", "details": [...], "route": name}
	// (details are the status details in protojson, "field" names the
	// field of a RequestError).
	Body []byte
	// Header holds the response metadata of
	// EndpointSettings.ResponseMetadata, to set as HTTP headers.
	Header []Param
}

// Reset empties w and keeps its buffers.
func (w *Response) Reset() {
	w.Status, w.Code = 0, codes.OK
	w.Body = w.Body[:0]
	w.Header = w.Header[:0]
}

// addHeader appends one header, reusing the Value buffer of an earlier
// call where there is one.
func (w *Response) addHeader(name, value string) {
	n := len(w.Header)
	if n < cap(w.Header) {
		w.Header = w.Header[:n+1]
		w.Header[n].Name = name
		w.Header[n].Value = append(w.Header[n].Value[:0], value...)
		return
	}
	w.Header = append(w.Header, Param{Name: name, Value: []byte(value)})
}

// Invoke calls a unary method with the message r makes and fills w with
// the answer. It returns a *RequestError, with w filled as a 400 answer,
// when r does not make a message; nothing is sent then. Every gRPC
// status (UNAVAILABLE, DEADLINE_EXCEEDED at ctx's deadline, ...) is
// written to w and Invoke returns nil: w.Code tells the breaker.
//
// For a server-streaming method Invoke gathers the messages into one
// JSON array (at most EndpointSettings.MaxBufferedBytes).
func (e *Endpoint) Invoke(ctx context.Context, r *Request, w *Response) error {
	w.Reset()
	if e.m.desc.IsStreamingServer() {
		return e.gather(ctx, r, w)
	}
	req := dynamicpb.NewMessage(e.in)
	sp := e.scratch.Get().(*[]byte)
	re := e.build(req, r, sp)
	e.putScratch(sp)
	if re != nil {
		e.writeRequestError(w, re)
		return re
	}
	ctx = e.outgoing(ctx, r.Header)
	resp := dynamicpb.NewMessage(e.out)
	var err error
	if len(e.respMD) == 0 {
		err = e.cc.Invoke(ctx, e.m.path, req, resp, callOptions...)
	} else {
		var hdr, trl metadata.MD
		err = e.cc.Invoke(ctx, e.m.path, req, resp, callOptions[0], grpc.Header(&hdr), grpc.Trailer(&trl))
		e.addMetadata(w, hdr)
		e.addMetadata(w, trl)
	}
	if err != nil {
		e.writeStatus(w, status.Convert(err))
		return nil
	}
	body, err := e.marshal.MarshalAppend(w.Body[:0], resp)
	if err != nil {
		e.writeStatus(w, status.New(codes.Internal, "grpcbridge: the answer does not convert to JSON: "+err.Error()))
		return nil
	}
	w.Body = body
	w.Status, w.Code = http.StatusOK, codes.OK
	return nil
}

// outgoing adds the metadata of h to ctx.
func (e *Endpoint) outgoing(ctx context.Context, h Headers) context.Context {
	if h == nil {
		return ctx
	}
	var buf [16]string
	kv := buf[:0]
	for _, k := range e.md {
		v := h.Peek(k)
		if len(v) == 0 || (!strings.HasSuffix(k, "-bin") && !printable(v)) {
			continue
		}
		kv = append(kv, k, string(v))
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// printable reports whether v is all printable ASCII, as gRPC requires
// of a metadata value.
func printable(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// addMetadata appends the values of md under the keys of
// ResponseMetadata to w.Header.
func (e *Endpoint) addMetadata(w *Response, md metadata.MD) {
	if len(md) == 0 {
		return
	}
	for _, k := range e.respMD {
		for _, v := range md[k] {
			if strings.HasSuffix(k, "-bin") {
				v = base64Std(v)
			} else if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			w.addHeader(k, v)
		}
	}
}

// Package grpcbridge turns an HTTP request with a JSON body into a call of
// a gRPC method, and the answer back into JSON, for routes with a `grpc:`
// backend. It knows nothing of the HTTP server: the gateway hands it the
// body, path parameters, raw query and a header getter, and writes out
// the Response it gets back.
//
// # Pieces
//
// A [Schema] holds the descriptors of the methods: from a descriptor set
// compiled by protoc (--include_imports), [LoadDescriptorSet], or from a
// server's reflection service, [Reflect] (v1, falling back to v1alpha).
// Messages are dynamic (dynamicpb): no generated code is needed.
//
// A [Conn] is one gRPC client connection to a set of addresses, balanced
// round-robin, fed by the gateway's service discovery through
// [Conn.Update] (a manual resolver per Conn, nothing registered
// globally). It uses insecure credentials: backends on loopback or an
// internal network.
//
// An [Endpoint] is one route's compiled call: [Endpoint.Invoke] makes the
// request message, calls the method and fills a [Response]. The request
// message is filled in this order, later ones winning for a singular
// field and appending to a repeated one:
//
//  1. the body, as protojson (JSON or proto field names; unknown fields
//     are an error unless EndpointSettings.AllowUnknownFields);
//  2. the query string, each key=value setting the field the key names
//     (dotted for nested fields, repeated keys for repeated fields);
//  3. the path parameters, by name, as the query.
//
// A request that does not make a message is a [RequestError] (400) naming
// the field; nothing is sent then. Every gRPC status, including
// UNAVAILABLE and DEADLINE_EXCEEDED, is an answer: Invoke writes it to
// the Response (HTTP status by [HTTPStatus], error body with the status
// details) and returns nil, and the gateway feeds its breaker from
// Response.Code. The route's timeout is the call's deadline through ctx.
//
// [Endpoint.Stream] serves server-streaming methods as newline-delimited
// JSON, one message per line. Client-streaming and bidirectional methods
// are not supported ([ErrClientStreaming]).
//
// [Schema.HTTPRules] lists the bindings of a service's google.api.http
// annotations, from which routes can be generated.
//
// # Cost
//
// A call allocates: gRPC and dynamic messages do. Endpoint keeps what it
// can out of the request path (field lookups indexed when it is built,
// scratch buffers pooled, Response buffers reused by the caller);
// BenchmarkInvoke measures a JSON to gRPC to JSON round trip on loopback.
//
// The package grpctest holds a real gRPC server of a test schema, for
// this package's tests and the gateway's.
package grpcbridge

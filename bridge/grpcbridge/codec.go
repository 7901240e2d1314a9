package grpcbridge

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// codec is gRPC's proto codec made for dynamic messages. grpc's own
// sizes a message before it marshals it (a second walk that only
// generated messages can cache) and checks required fields after
// (another walk, allocating for a dynamic message); proto3 has no
// required fields, and a proto2 one the server requires is the server's
// to report. codec marshals once and skips the check, which saves about
// a tenth of a call's allocations. Its name is "proto", so the wire
// format and content-type stay those of every gRPC server.
type codec struct{}

var _ encoding.CodecV2 = codec{}

var (
	codecMarshal   = proto.MarshalOptions{AllowPartial: true}
	codecUnmarshal = proto.UnmarshalOptions{AllowPartial: true}
	// callOptions are the options of every call an Endpoint makes.
	callOptions = []grpc.CallOption{grpc.ForceCodecV2(codec{})}
)

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("grpcbridge: cannot marshal %T, want proto.Message", v)
	}
	b, err := codecMarshal.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("grpcbridge: cannot unmarshal into %T, want proto.Message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return codecUnmarshal.Unmarshal(buf.ReadOnlyData(), m)
}

func (codec) Name() string { return "proto" }

package grpctest

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// What each method of test.v1.Users does:
//
//   - GetUser answers a User made of the request: id, name "user-<id>",
//     role, tags, active = verbose, address = filter.
//   - CreateUser answers the request's user, with id 1000 when it had none.
//   - Fail answers with the status of code and message; details adds an
//     ErrorInfo (reason "TEST", domain "grpctest") and a BadRequest
//     (field "code"). Code 0 answers OK with note "ok".
//   - Sleep waits millis (or until the call is over) and answers the time
//     slept.
//   - Watch sends count users (ids 1..count, at most 1000), then ends with
//     fail_code when it is not 0.
//   - Upload and Chat read the client's stream (at most 1000 messages);
//     Upload answers the count, Chat echoes each message.
//
// Every answer carries the header metadata x-served-by (Options.Name) and
// the trailer metadata x-trailer: done.

// maxMessages bounds the messages of a stream, either way.
const maxMessages = 1000

// serviceDesc makes the grpc.ServiceDesc of sd with the handlers above.
func (s *Server) serviceDesc(sd protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{
		ServiceName: string(sd.FullName()),
		HandlerType: (*any)(nil),
		Metadata:    sd.ParentFile().Path(),
	}
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		md := methods.Get(i)
		path := "/" + string(sd.FullName()) + "/" + string(md.Name())
		if !md.IsStreamingClient() && !md.IsStreamingServer() {
			desc.Methods = append(desc.Methods, grpc.MethodDesc{
				MethodName: string(md.Name()),
				Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
					in := dynamicpb.NewMessage(md.Input())
					if err := dec(in); err != nil {
						return nil, err
					}
					s.record(ctx, path, in)
					_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", s.name))
					_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
					return s.unary(ctx, md, in)
				},
			})
			continue
		}
		desc.Streams = append(desc.Streams, grpc.StreamDesc{
			StreamName:    string(md.Name()),
			ServerStreams: md.IsStreamingServer(),
			ClientStreams: md.IsStreamingClient(),
			Handler: func(_ any, ss grpc.ServerStream) error {
				_ = ss.SetHeader(metadata.Pairs("x-served-by", s.name))
				ss.SetTrailer(metadata.Pairs("x-trailer", "done"))
				return s.streaming(ss, md, path)
			},
		})
	}
	return desc
}

// unary answers the unary methods.
func (s *Server) unary(ctx context.Context, md protoreflect.MethodDescriptor, in *dynamicpb.Message) (any, error) {
	out := dynamicpb.NewMessage(md.Output())
	switch md.Name() {
	case "GetUser":
		fillUser(out, in)
	case "CreateUser":
		user := in.Get(field(in, "user")).Message()
		copyFields(out, user)
		if out.Get(field(out, "id")).Int() == 0 {
			out.Set(field(out, "id"), protoreflect.ValueOfInt64(1000))
		}
	case "Fail":
		return failAnswer(in, out)
	case "Sleep":
		d := time.Duration(in.Get(field(in, "millis")).Int()) * time.Millisecond
		start := time.Now()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		out.Set(field(out, "slept_millis"), protoreflect.ValueOfInt64(time.Since(start).Milliseconds()))
	default:
		return nil, status.Errorf(codes.Unimplemented, "grpctest: %s has no handler", md.Name())
	}
	return out, nil
}

// fillUser makes GetUser's answer of its request.
func fillUser(out, in *dynamicpb.Message) {
	id := in.Get(field(in, "id")).Int()
	out.Set(field(out, "id"), protoreflect.ValueOfInt64(id))
	out.Set(field(out, "name"), protoreflect.ValueOfString("user-"+strconv.FormatInt(id, 10)))
	out.Set(field(out, "role"), in.Get(field(in, "role")))
	out.Set(field(out, "active"), in.Get(field(in, "verbose")))
	if tags := in.Get(field(in, "tags")).List(); tags.Len() > 0 {
		dst := out.Mutable(field(out, "tags")).List()
		for i := 0; i < tags.Len(); i++ {
			dst.Append(tags.Get(i))
		}
	}
	if in.Has(field(in, "filter")) {
		out.Set(field(out, "address"), in.Get(field(in, "filter")))
	}
}

// failAnswer answers Fail.
func failAnswer(in, out *dynamicpb.Message) (any, error) {
	code := codes.Code(in.Get(field(in, "code")).Int())
	if code == codes.OK {
		out.Set(field(out, "note"), protoreflect.ValueOfString("ok"))
		return out, nil
	}
	st := status.New(code, in.Get(field(in, "message")).String())
	if in.Get(field(in, "details")).Bool() {
		withDetails, err := st.WithDetails(
			&errdetails.ErrorInfo{Reason: "TEST", Domain: "grpctest"},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "code", Description: "asked for"},
			}},
		)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "grpctest: details: %v", err)
		}
		st = withDetails
	}
	return nil, st.Err()
}

// streaming serves Watch, Upload and Chat.
func (s *Server) streaming(ss grpc.ServerStream, md protoreflect.MethodDescriptor, path string) error {
	switch md.Name() {
	case "Watch":
		in := dynamicpb.NewMessage(md.Input())
		if err := ss.RecvMsg(in); err != nil {
			return err
		}
		s.record(ss.Context(), path, in)
		n := min(int(in.Get(field(in, "count")).Int()), maxMessages)
		for i := 1; i <= n; i++ {
			out := dynamicpb.NewMessage(md.Output())
			out.Set(field(out, "id"), protoreflect.ValueOfInt64(int64(i)))
			out.Set(field(out, "name"), protoreflect.ValueOfString("user-"+strconv.Itoa(i)))
			if err := ss.SendMsg(out); err != nil {
				return err
			}
		}
		if code := codes.Code(in.Get(field(in, "fail_code")).Int()); code != codes.OK {
			return status.Error(code, "grpctest: the stream failed as asked")
		}
		return nil
	case "Upload", "Chat":
		var n int64
		for ; n < maxMessages; n++ {
			in := dynamicpb.NewMessage(md.Input())
			err := ss.RecvMsg(in)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			s.record(ss.Context(), path, in)
			if md.Name() == "Chat" {
				if err := ss.SendMsg(in); err != nil {
					return err
				}
			}
		}
		if md.Name() == "Upload" {
			out := dynamicpb.NewMessage(md.Output())
			out.Set(field(out, "received"), protoreflect.ValueOfInt32(int32(n)))
			return ss.SendMsg(out)
		}
		return nil
	}
	return status.Errorf(codes.Unimplemented, "grpctest: %s has no handler", md.Name())
}

// field returns m's field of the name; the schema is fixed, so a missing
// field is a bug of this file.
func field(m protoreflect.Message, name protoreflect.Name) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil {
		panic("grpctest: " + string(m.Descriptor().FullName()) + " has no field " + string(name))
	}
	return fd
}

// copyFields copies the populated fields of src into dst, both of one type.
func copyFields(dst, src protoreflect.Message) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
}

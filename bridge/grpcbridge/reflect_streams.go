package grpcbridge

import (
	"context"

	"google.golang.org/grpc"
	rv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// The two versions of the reflection protocol differ only in the name of
// the service: v1 is v1alpha's messages, field for field, under a new
// package. So v1's message types speak both; only the method path differs.
const (
	reflectV1      = rv1.ServerReflection_ServerReflectionInfo_FullMethodName
	reflectV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// reflectStream is one open ServerReflectionInfo stream; each call sends
// one request and reads its answer.
type reflectStream struct {
	s grpc.BidiStreamingClient[rv1.ServerReflectionRequest, rv1.ServerReflectionResponse]
}

// openReflect opens a ServerReflectionInfo stream on the method path of
// one version of the protocol (reflectV1 or reflectV1Alpha).
func openReflect(ctx context.Context, cc grpc.ClientConnInterface, method string) (*reflectStream, error) {
	desc := &grpc.StreamDesc{StreamName: "ServerReflectionInfo", ServerStreams: true, ClientStreams: true}
	s, err := cc.NewStream(ctx, desc, method)
	if err != nil {
		return nil, err
	}
	return &reflectStream{&grpc.GenericClientStream[rv1.ServerReflectionRequest, rv1.ServerReflectionResponse]{ClientStream: s}}, nil
}

func (r *reflectStream) do(req *rv1.ServerReflectionRequest) (*rv1.ServerReflectionResponse, error) {
	if err := r.s.Send(req); err != nil {
		// The stream's status comes with Recv.
		if _, rerr := r.s.Recv(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	resp, err := r.s.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, reflectError(e.GetErrorCode(), e.GetErrorMessage())
	}
	return resp, nil
}

func (r *reflectStream) files(req *rv1.ServerReflectionRequest) ([][]byte, error) {
	resp, err := r.do(req)
	if err != nil {
		return nil, err
	}
	fr := resp.GetFileDescriptorResponse()
	if fr == nil {
		return nil, errReflectAnswer
	}
	return fr.GetFileDescriptorProto(), nil
}

func (r *reflectStream) fileContainingSymbol(symbol string) ([][]byte, error) {
	return r.files(&rv1.ServerReflectionRequest{
		MessageRequest: &rv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
}

func (r *reflectStream) fileByFilename(name string) ([][]byte, error) {
	return r.files(&rv1.ServerReflectionRequest{
		MessageRequest: &rv1.ServerReflectionRequest_FileByFilename{FileByFilename: name},
	})
}

func (r *reflectStream) listServices() ([]string, error) {
	resp, err := r.do(&rv1.ServerReflectionRequest{
		MessageRequest: &rv1.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if err != nil {
		return nil, err
	}
	lr := resp.GetListServicesResponse()
	if lr == nil {
		return nil, errReflectAnswer
	}
	var out []string
	for _, s := range lr.GetService() {
		out = append(out, s.GetName())
	}
	return out, nil
}

package grpcbridge

//lint:file-ignore SA1019 v1alpha is the fallback for servers without reflection v1.

import (
	"context"

	"google.golang.org/grpc"
	rv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// The two versions of the reflection protocol have the same messages in
// two packages; reflectV1 and reflectV1Alpha adapt each to reflectStream.

type reflectV1 struct {
	s grpc.BidiStreamingClient[rv1.ServerReflectionRequest, rv1.ServerReflectionResponse]
}

func openReflectV1(ctx context.Context, cc grpc.ClientConnInterface) (reflectStream, error) {
	s, err := rv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	return reflectV1{s}, nil
}

func (r reflectV1) do(req *rv1.ServerReflectionRequest) (*rv1.ServerReflectionResponse, error) {
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

func (r reflectV1) files(req *rv1.ServerReflectionRequest) ([][]byte, error) {
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

func (r reflectV1) fileContainingSymbol(symbol string) ([][]byte, error) {
	return r.files(&rv1.ServerReflectionRequest{
		MessageRequest: &rv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
}

func (r reflectV1) fileByFilename(name string) ([][]byte, error) {
	return r.files(&rv1.ServerReflectionRequest{
		MessageRequest: &rv1.ServerReflectionRequest_FileByFilename{FileByFilename: name},
	})
}

func (r reflectV1) listServices() ([]string, error) {
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

type reflectV1Alpha struct {
	s grpc.BidiStreamingClient[rv1alpha.ServerReflectionRequest, rv1alpha.ServerReflectionResponse]
}

func openReflectV1Alpha(ctx context.Context, cc grpc.ClientConnInterface) (reflectStream, error) {
	s, err := rv1alpha.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	return reflectV1Alpha{s}, nil
}

func (r reflectV1Alpha) do(req *rv1alpha.ServerReflectionRequest) (*rv1alpha.ServerReflectionResponse, error) {
	if err := r.s.Send(req); err != nil {
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

func (r reflectV1Alpha) files(req *rv1alpha.ServerReflectionRequest) ([][]byte, error) {
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

func (r reflectV1Alpha) fileContainingSymbol(symbol string) ([][]byte, error) {
	return r.files(&rv1alpha.ServerReflectionRequest{
		MessageRequest: &rv1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	})
}

func (r reflectV1Alpha) fileByFilename(name string) ([][]byte, error) {
	return r.files(&rv1alpha.ServerReflectionRequest{
		MessageRequest: &rv1alpha.ServerReflectionRequest_FileByFilename{FileByFilename: name},
	})
}

func (r reflectV1Alpha) listServices() ([]string, error) {
	resp, err := r.do(&rv1alpha.ServerReflectionRequest{
		MessageRequest: &rv1alpha.ServerReflectionRequest_ListServices{ListServices: "*"},
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

package grpcbridge

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// ErrClientStreaming is wrapped by the error of Schema.Method for a
// client-streaming or bidirectional method, which an HTTP request of one
// body cannot drive.
var ErrClientStreaming = errors.New("grpcbridge: client streaming is not supported")

// ErrNoMethod is wrapped by the error of Schema.Method when the schema has
// no such method (or no such service).
var ErrNoMethod = errors.New("grpcbridge: no such method")

// Schema holds the descriptors of the methods the gateway may call: the
// files of a descriptor set, or of the services a server's reflection
// described, with every file they import. A Schema is immutable and safe
// for concurrent use.
type Schema struct {
	files *protoregistry.Files
	types *dynamicpb.Types
}

// LoadDescriptorSet reads a FileDescriptorSet, as written by
//
//	protoc --include_imports --descriptor_set_out=FILE ...
//
// A set compiled without --include_imports fails with an error that names
// the missing import.
func LoadDescriptorSet(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: descriptor set: %w", err)
	}
	s, err := ParseDescriptorSet(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return s, nil
}

// ParseDescriptorSet is LoadDescriptorSet of a FileDescriptorSet already in
// memory.
func ParseDescriptorSet(b []byte) (*Schema, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("grpcbridge: descriptor set is not a FileDescriptorSet: %w", err)
	}
	if len(set.GetFile()) == 0 {
		return nil, errors.New("grpcbridge: descriptor set holds no file")
	}
	return newSchema(&set)
}

// newSchema links the files of set, which must hold every import.
func newSchema(set *descriptorpb.FileDescriptorSet) (*Schema, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: descriptor set (compiled with protoc --include_imports?): %w", err)
	}
	return &Schema{files: files, types: dynamicpb.NewTypes(files)}, nil
}

// Files returns the schema's file registry, for callers that need more
// than methods (for example to serve reflection from it). It must not be
// modified.
func (s *Schema) Files() *protoregistry.Files { return s.files }

// Services returns the full names of the schema's services, in file order.
func (s *Schema) Services() []string {
	var out []string
	s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			out = append(out, string(svcs.Get(i).FullName()))
		}
		return true
	})
	return out
}

// Method returns the method named "pkg.Service/Method" (a leading "/", as
// in a gRPC path, is accepted, and so is "pkg.Service.Method"). The error
// names the method when the schema lacks it, and wraps ErrClientStreaming
// for a client-streaming or bidirectional method.
func (s *Schema) Method(name string) (*Method, error) {
	svc, meth, ok := splitMethod(name)
	if !ok {
		return nil, fmt.Errorf("grpcbridge: method %q: want the form pkg.Service/Method", name)
	}
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("%w: %s (service %s is not in the schema)", ErrNoMethod, svc+"/"+meth, svc)
	}
	sd, isSvc := d.(protoreflect.ServiceDescriptor)
	if !isSvc {
		return nil, fmt.Errorf("%w: %s (%s is not a service)", ErrNoMethod, svc+"/"+meth, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(meth))
	if md == nil {
		return nil, fmt.Errorf("%w: %s (service %s has no method %s)", ErrNoMethod, svc+"/"+meth, svc, meth)
	}
	if md.IsStreamingClient() {
		return nil, fmt.Errorf("%w: method %s/%s streams from the client", ErrClientStreaming, svc, meth)
	}
	return &Method{
		desc:   md,
		name:   svc + "/" + meth,
		path:   "/" + svc + "/" + meth,
		schema: s,
	}, nil
}

// splitMethod splits "pkg.Service/Method", "/pkg.Service/Method" or
// "pkg.Service.Method" into service and method.
func splitMethod(name string) (svc, meth string, ok bool) {
	name = strings.TrimPrefix(name, "/")
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		i = strings.LastIndexByte(name, '.')
	}
	if i <= 0 || i == len(name)-1 {
		return "", "", false
	}
	svc, meth = name[:i], name[i+1:]
	if !protoreflect.FullName(svc).IsValid() || !protoreflect.Name(meth).IsValid() {
		return "", "", false
	}
	return svc, meth, true
}

// Method is one unary or server-streaming method of a Schema. It is
// immutable and safe for concurrent use.
type Method struct {
	desc   protoreflect.MethodDescriptor
	name   string // pkg.Service/Method
	path   string // /pkg.Service/Method, the gRPC path
	schema *Schema
}

// Name returns "pkg.Service/Method".
func (m *Method) Name() string { return m.name }

// ServerStreaming reports whether the server answers with a stream of
// messages (see Endpoint.Stream).
func (m *Method) ServerStreaming() bool { return m.desc.IsStreamingServer() }

// Descriptor returns the method's descriptor.
func (m *Method) Descriptor() protoreflect.MethodDescriptor { return m.desc }

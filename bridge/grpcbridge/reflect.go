package grpcbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxReflectFiles bounds how many files one Reflect fetches, against a
// server that keeps naming new dependencies.
const maxReflectFiles = 4096

// errReflectAnswer is an answer of the wrong kind on a reflection stream.
var errReflectAnswer = errors.New("grpcbridge: reflection answered with the wrong kind of message")

// Reflect builds a Schema from a server's reflection service: the files
// that define the named services, with every file they import. A name is
// a service ("pkg.Service") or a method ("pkg.Service/Method" or
// "pkg.Service.Method"); with no name, all the services the server lists
// (reflection's own left out).
//
// Reflect speaks grpc.reflection.v1 and falls back to v1alpha when the
// server does not implement v1. It uses one stream, ended before it
// returns; ctx bounds the whole exchange.
func Reflect(ctx context.Context, cc grpc.ClientConnInterface, services ...string) (*Schema, error) {
	s, err := reflectOnce(ctx, cc, reflectV1, services)
	if status.Code(err) == codes.Unimplemented {
		s, err = reflectOnce(ctx, cc, reflectV1Alpha, services)
	}
	return s, err
}

// reflectOnce runs one reflection stream on method (reflectV1 or
// reflectV1Alpha), which it ends before it returns.
func reflectOnce(ctx context.Context, cc grpc.ClientConnInterface, method string, services []string) (*Schema, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := openReflect(ctx, cc, method)
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: server reflection: %w", err)
	}
	return reflectWith(st, services)
}

// reflectWith fetches the files of names and their imports over st.
func reflectWith(st *reflectStream, names []string) (*Schema, error) {
	if len(names) == 0 {
		all, err := st.listServices()
		if err != nil {
			return nil, fmt.Errorf("grpcbridge: server reflection: list services: %w", err)
		}
		for _, n := range all {
			if !strings.HasPrefix(n, "grpc.reflection.") {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, errors.New("grpcbridge: server reflection lists no service")
		}
	}
	got := make(map[string]*descriptorpb.FileDescriptorProto)
	var order []*descriptorpb.FileDescriptorProto
	add := func(raw [][]byte) error {
		for _, b := range raw {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fd); err != nil {
				return fmt.Errorf("grpcbridge: server reflection sent a bad file descriptor: %w", err)
			}
			if _, dup := got[fd.GetName()]; !dup {
				got[fd.GetName()] = fd
				order = append(order, fd)
			}
		}
		return nil
	}
	for _, n := range names {
		sym := strings.ReplaceAll(strings.TrimPrefix(n, "/"), "/", ".")
		raw, err := st.fileContainingSymbol(sym)
		if err != nil {
			return nil, fmt.Errorf("grpcbridge: server reflection: symbol %s: %w", n, err)
		}
		if err := add(raw); err != nil {
			return nil, err
		}
	}
	// Fetch missing imports; order grows while the loop runs.
	for i := 0; i < len(order); i++ {
		if len(order) > maxReflectFiles {
			return nil, fmt.Errorf("grpcbridge: server reflection: more than %d files", maxReflectFiles)
		}
		for _, dep := range order[i].GetDependency() {
			if _, ok := got[dep]; ok {
				continue
			}
			raw, err := st.fileByFilename(dep)
			if err != nil {
				return nil, fmt.Errorf("grpcbridge: server reflection: file %s: %w", dep, err)
			}
			if err := add(raw); err != nil {
				return nil, err
			}
			if _, ok := got[dep]; !ok {
				return nil, fmt.Errorf("grpcbridge: server reflection: file %s was not sent", dep)
			}
		}
	}
	s, err := newSchema(&descriptorpb.FileDescriptorSet{File: order})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		sym := strings.ReplaceAll(strings.TrimPrefix(n, "/"), "/", ".")
		if _, err := s.files.FindDescriptorByName(protoreflect.FullName(sym)); err != nil {
			return nil, fmt.Errorf("grpcbridge: server reflection: %s is not in the files the server sent", n)
		}
	}
	return s, nil
}

// reflectError turns a reflection ErrorResponse into an error.
func reflectError(code int32, msg string) error {
	return status.Error(codes.Code(code), msg)
}

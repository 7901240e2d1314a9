package grpctest

//lint:file-ignore SA1019 v1alpha reflection is served on purpose, to test the client's fallback.

import (
	"context"
	"crypto/tls"
	_ "embed" // the test schema
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	rv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

//go:generate protoc -I testdata -I /usr/include --include_imports --descriptor_set_out=testdata/users.pb testdata/users.proto

//go:embed testdata/users.pb
var descriptorSet []byte

// Service is the full name of the test schema's service.
const Service = "test.v1.Users"

// DescriptorSet returns the compiled test schema (testdata/users.pb): a
// FileDescriptorSet with its imports. The slice must not be modified.
func DescriptorSet() []byte { return descriptorSet }

// DescriptorFile returns the absolute path of testdata/users.pb, for
// tests that load the schema from a file as the gateway's config does.
func DescriptorFile() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "users.pb")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "users.pb")
}

// Reflection says which server reflection services a Server offers.
type Reflection int

// The reflection choices of Options.
const (
	ReflectionOff     Reflection = iota // no reflection service
	ReflectionV1                        // grpc.reflection.v1 only
	ReflectionV1Alpha                   // v1alpha only, as older servers
	ReflectionBoth                      // v1 and v1alpha, as reflection.Register
)

// Options configure a Server. The zero value serves without reflection on
// 127.0.0.1 at a free port.
type Options struct {
	// Reflection chooses the reflection services. ReflectionOff (0) means
	// none.
	Reflection Reflection
	// Addr is the address to listen on, on loopback. "" means
	// 127.0.0.1:0, a free port.
	Addr string
	// Name is sent as the x-served-by header metadata of every answer, to
	// tell servers apart. "" means "grpctest".
	Name string
	// TLS, when set, serves over TLS with this configuration. Nil means
	// plain text.
	TLS *tls.Config
}

// Server is a real grpc-go server of the test schema, without generated
// code: its handlers read and write dynamicpb messages. It counts the
// calls it receives and keeps the last request. Safe for concurrent use.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string

	name  string
	srv   *grpc.Server
	files *protoregistry.Files
	calls atomic.Int64
	done  chan struct{}
	stop  sync.Once

	mu         sync.Mutex
	lastMethod string
	lastReq    proto.Message // not changed after the handler read it
	lastMD     metadata.MD
}

// Files parses the test schema.
func Files() (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorSet, &set); err != nil {
		return nil, err
	}
	return protodesc.NewFiles(&set)
}

// Start starts a Server and stops it when the test ends. It fails the
// test when it cannot listen.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := New(o)
	if err != nil {
		tb.Fatalf("grpctest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// New starts a Server; the caller must Stop it.
func New(o Options) (*Server, error) {
	files, err := Files()
	if err != nil {
		return nil, fmt.Errorf("test schema: %w", err)
	}
	d, err := files.FindDescriptorByName(Service)
	if err != nil {
		return nil, err
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:  lis.Addr().String(),
		name:  o.Name,
		srv:   newGRPCServer(o.TLS),
		files: files,
		done:  make(chan struct{}),
	}
	if s.name == "" {
		s.name = "grpctest"
	}
	s.srv.RegisterService(s.serviceDesc(d.(protoreflect.ServiceDescriptor)), s)
	ropts := reflection.ServerOptions{Services: s.srv, DescriptorResolver: files}
	switch o.Reflection {
	case ReflectionV1:
		rv1.RegisterServerReflectionServer(s.srv, reflection.NewServerV1(ropts))
	case ReflectionBoth:
		rv1.RegisterServerReflectionServer(s.srv, reflection.NewServerV1(ropts))
		rv1alpha.RegisterServerReflectionServer(s.srv, reflection.NewServer(ropts))
	case ReflectionV1Alpha:
		rv1alpha.RegisterServerReflectionServer(s.srv, reflection.NewServer(ropts))
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(lis) // returns when Stop closes the listener
	}()
	return s, nil
}

// Stop stops the server at once: calls in flight end, the connections
// close. It is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.srv.Stop()
		<-s.done
	})
}

// Calls returns how many calls of the test service the server received
// (reflection not counted).
func (s *Server) Calls() int64 { return s.calls.Load() }

// LastMethod returns the method of the last call, "/test.v1.Users/GetUser".
func (s *Server) LastMethod() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastMethod
}

// LastRequest returns the last request message as compact JSON with
// proto field names and keys in sorted order (for comparing as text);
// "" before the first call.
func (s *Server) LastRequest() string {
	s.mu.Lock()
	req := s.lastReq
	s.mu.Unlock()
	if req == nil {
		return ""
	}
	return canonicalJSON(req)
}

// LastMetadata returns the metadata of the last call.
func (s *Server) LastMetadata() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastMD.Copy()
}

// record counts a call and keeps its request.
func (s *Server) record(ctx context.Context, method string, req proto.Message) {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastMethod = method
	s.lastReq = req
	s.lastMD = md.Copy()
}

// canonicalJSON is protojson made stable: protojson varies its spacing
// on purpose.
func canonicalJSON(m proto.Message) string {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return "error: " + err.Error()
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "error: " + err.Error()
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// newGRPCServer is a grpc.Server, over TLS when cfg is set.
func newGRPCServer(cfg *tls.Config) *grpc.Server {
	if cfg == nil {
		return grpc.NewServer()
	}
	return grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
}

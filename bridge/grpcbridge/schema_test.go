package grpcbridge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

func TestLoadDescriptorSetErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pb")
	if err := os.WriteFile(garbage, []byte("not a descriptor set \xff\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test schema without its imports, as protoc writes it without
	// --include_imports.
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(grpctest.DescriptorSet(), &set); err != nil {
		t.Fatal(err)
	}
	set.File = set.File[len(set.File)-1:]
	b, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	noImports := filepath.Join(dir, "noimports.pb")
	if err := os.WriteFile(noImports, b, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		give string
		want []string // in the error
	}{
		{desc: "missing file", give: filepath.Join(dir, "nope.pb"), want: []string{"nope.pb"}},
		{desc: "not a descriptor set", give: garbage, want: []string{"FileDescriptorSet", "garbage.pb"}},
		{desc: "without imports", give: noImports, want: []string{"--include_imports", "google/api/annotations.proto"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := grpcbridge.LoadDescriptorSet(tt.give)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestSchemaMethod(t *testing.T) {
	s := loadSchema(t)
	tests := []struct {
		desc      string
		give      string
		want      string // Name, or a part of the error
		wantErr   error
		streaming bool
	}{
		{desc: "unary", give: "test.v1.Users/GetUser", want: "test.v1.Users/GetUser"},
		{desc: "grpc path", give: "/test.v1.Users/CreateUser", want: "test.v1.Users/CreateUser"},
		{desc: "dotted", give: "test.v1.Users.Fail", want: "test.v1.Users/Fail"},
		{desc: "server streaming", give: "test.v1.Users/Watch", want: "test.v1.Users/Watch", streaming: true},
		{desc: "missing method", give: "test.v1.Users/Nope", want: "test.v1.Users/Nope", wantErr: grpcbridge.ErrNoMethod},
		{desc: "missing service", give: "test.v1.Nobody/GetUser", want: "test.v1.Nobody/GetUser", wantErr: grpcbridge.ErrNoMethod},
		{desc: "not a service", give: "test.v1.User/GetUser", want: "test.v1.User/GetUser", wantErr: grpcbridge.ErrNoMethod},
		{desc: "client streaming", give: "test.v1.Users/Upload", want: "test.v1.Users/Upload", wantErr: grpcbridge.ErrClientStreaming},
		{desc: "bidi streaming", give: "test.v1.Users/Chat", want: "test.v1.Users/Chat", wantErr: grpcbridge.ErrClientStreaming},
		{desc: "malformed", give: "GetUser", want: `"GetUser"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m, err := s.Method(tt.give)
			if tt.wantErr == nil && strings.HasPrefix(tt.want, `"`) {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one naming %s", err, tt.want)
				}
				return
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %v naming %s", err, tt.wantErr, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != tt.want || m.ServerStreaming() != tt.streaming {
				t.Errorf("got %s streaming %v, want %s streaming %v", m.Name(), m.ServerStreaming(), tt.want, tt.streaming)
			}
		})
	}
}

func TestReflect(t *testing.T) {
	tests := []struct {
		desc    string
		give    grpctest.Reflection
		names   []string
		wantErr string
	}{
		{desc: "v1, service", give: grpctest.ReflectionV1, names: []string{"test.v1.Users"}},
		{desc: "v1, method symbol", give: grpctest.ReflectionV1, names: []string{"test.v1.Users/GetUser"}},
		{desc: "v1, all services", give: grpctest.ReflectionV1},
		{desc: "v1alpha fallback", give: grpctest.ReflectionV1Alpha, names: []string{"test.v1.Users"}},
		{desc: "both", give: grpctest.ReflectionBoth, names: []string{"test.v1.Users"}},
		{desc: "unknown service", give: grpctest.ReflectionV1, names: []string{"test.v1.Nobody"}, wantErr: "test.v1.Nobody"},
		{desc: "reflection off", give: grpctest.ReflectionOff, names: []string{"test.v1.Users"}, wantErr: "Unimplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			srv := grpctest.Start(t, grpctest.Options{Reflection: tt.give})
			conn := dial(t, srv.Addr)
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			s, err := grpcbridge.Reflect(ctx, conn, tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Services(); !reflect.DeepEqual(got, []string{grpctest.Service}) {
				t.Errorf("services %v", got)
			}
			// The reflected schema calls the method as the file's does.
			m, err := s.Method("test.v1.Users/GetUser")
			if err != nil {
				t.Fatal(err)
			}
			e, err := grpcbridge.NewEndpoint(m, conn, grpcbridge.EndpointSettings{})
			if err != nil {
				t.Fatal(err)
			}
			w, err := invoke(t, e, &grpcbridge.Request{Params: []grpcbridge.Param{{Name: "id", Value: []byte("7")}}})
			if err != nil || w.Status != 200 {
				t.Fatalf("Invoke: %v, status %d %s", err, w.Status, w.Body)
			}
			if !jsonEqual(t, w.Body, `{"id":"7","name":"user-7"}`) {
				t.Errorf("body %s", w.Body)
			}
			if _, err := s.HTTPRules(grpctest.Service); err != nil {
				t.Errorf("HTTPRules of a reflected schema: %v", err)
			}
		})
	}
}

func TestHTTPRules(t *testing.T) {
	s := loadSchema(t)
	got, err := s.HTTPRules(grpctest.Service)
	if err != nil {
		t.Fatal(err)
	}
	want := []grpcbridge.HTTPRule{
		{Method: "test.v1.Users/GetUser", Verb: "GET", Path: "/v1/users/{id}"},
		{Method: "test.v1.Users/GetUser", Verb: "GET", Path: "/v1/cities/{filter.city}/users"},
		{Method: "test.v1.Users/CreateUser", Verb: "POST", Path: "/v1/users", Body: "user"},
		{Method: "test.v1.Users/Fail", Verb: "POST", Path: "/v1/fail", Body: "*"},
		{Method: "test.v1.Users/Watch", Verb: "GET", Path: "/v1/users:watch"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := s.HTTPRules("test.v1.Nobody"); err == nil || !strings.Contains(err.Error(), "test.v1.Nobody") {
		t.Errorf("missing service: %v", err)
	}
}

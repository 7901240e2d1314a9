// Package grpctest runs a real grpc-go server of a small test schema
// (testdata/users.proto, service test.v1.Users) on loopback, for the tests
// of the gRPC bridge and the gateway's end-to-end tests. The server has no
// generated code: it builds its grpc.ServiceDesc from the checked-in
// descriptor set and handles dynamicpb messages. It can serve reflection
// (v1 and v1alpha, or v1alpha only) and records the calls it receives.
//
// testdata/users.pb is compiled from testdata/users.proto with protoc; see
// testdata/README, or run go generate in this directory.
package grpctest

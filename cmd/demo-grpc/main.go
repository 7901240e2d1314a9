// Command demo-grpc serves the test.v1.Users gRPC service (the schema in
// bridge/grpcbridge/grpctest/testdata/users.proto) with server reflection, for
// trying configs/grpc.yaml by hand and for the gRPC load benchmark.
//
//	demo-grpc -listen 127.0.0.1:50051
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "address to serve on")
	name := flag.String("name", "demo-grpc", "the x-served-by metadata of every answer")
	flag.Parse()
	srv, err := grpctest.New(grpctest.Options{Addr: *listen, Name: *name, Reflection: grpctest.ReflectionBoth})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-grpc:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "demo-grpc: serving test.v1.Users on", srv.Addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	srv.Stop()
}

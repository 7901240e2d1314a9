// Command bare-proxy is the load benchmark's reference: the least a proxy
// built on fasthttp does, one fasthttp.Server in front of one HostClient,
// with no routing, no checks and no features. scripts/loadbench.sh loads it
// and the gateway at once to tell what the gateway's own pipeline costs
// apart from what Go and fasthttp cost per request.
//
//	bare-proxy -listen 127.0.0.1:18083 -upstream 127.0.0.1:19001
package main

import (
	"flag"
	"log"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18083", "address to serve on")
	upstream := flag.String("upstream", "127.0.0.1:19001", "host:port every request is forwarded to")
	flag.Parse()

	client := &fasthttp.HostClient{
		Addr:                          *upstream,
		MaxConns:                      4096,
		MaxIdemponentCallAttempts:     1,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
	}
	server := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			// Keep-alive upstream whatever the client asked for.
			ctx.Request.Header.ResetConnectionClose()
			if err := client.DoTimeout(&ctx.Request, &ctx.Response, 60*time.Second); err != nil {
				ctx.Error("upstream failed", fasthttp.StatusBadGateway)
			}
			ctx.Response.Header.ResetConnectionClose()
		},
		ReadTimeout:           120 * time.Second,
		WriteTimeout:          120 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReduceMemoryUsage:     true,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
	log.Printf("bare-proxy: %s -> %s", *listen, *upstream)
	log.Fatal(server.ListenAndServe(*listen))
}

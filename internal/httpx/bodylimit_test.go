package httpx

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/valyala/fasthttp"
)

// TestWatchBody reads a streamed body through WatchBody and checks what
// the reader sees and what Failure then tells the client.
func TestWatchBody(t *testing.T) {
	tests := []struct {
		desc     string
		body     io.Reader
		length   int // -1: chunked
		limit    int
		wantRead string
		wantErr  error // of the read, as the upstream's writer sees it
		wantFail error
	}{
		{desc: "chunked under the limit", body: strings.NewReader("hello"), length: -1, limit: 10, wantRead: "hello"},
		{desc: "chunked exactly at the limit", body: strings.NewReader("hello"), length: -1, limit: 5, wantRead: "hello"},
		{desc: "chunked over the limit", body: strings.NewReader("hello world"), length: -1, limit: 5,
			wantRead: "hello", wantErr: ErrChunkedTooLarge, wantFail: ErrBodyTooLarge},
		{desc: "declared length, client gone early", body: strings.NewReader("abc"), length: 10, limit: 10,
			wantRead: "abc", wantFail: ErrClientClosed},
		{desc: "client too slow", body: iotest.ErrReader(os.ErrDeadlineExceeded), length: -1, limit: 10,
			wantErr: os.ErrDeadlineExceeded, wantFail: ErrRequestTimeout},
		{desc: "broken framing", body: iotest.ErrReader(errors.New("cannot parse chunk size")), length: -1, limit: 10,
			wantErr: errors.New("any"), wantFail: ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetBodyStream(tt.body, tt.length)
			ctx.Request.Header.Set(fasthttp.HeaderTrailer, "X-Sum")
			l := WatchBody(&ctx, tt.limit, 0)
			got, err := io.ReadAll(ctx.Request.BodyStream())
			if string(got) != tt.wantRead {
				t.Errorf("read %q, want %q", got, tt.wantRead)
			}
			switch {
			case tt.wantErr == nil && err != nil, tt.wantErr != nil && err == nil:
				t.Errorf("read error %v, want %v", err, tt.wantErr)
			case tt.wantErr == ErrChunkedTooLarge && err != ErrChunkedTooLarge:
				t.Errorf("read error %v, want %v", err, ErrChunkedTooLarge)
			}
			if fail := l.Failure(); fail != tt.wantFail {
				t.Errorf("Failure = %v, want %v", fail, tt.wantFail)
			}
			if tt.wantFail == nil && ctx.Request.Header.Peek(fasthttp.HeaderTrailer) != nil {
				t.Error("the trailers survived the end of the body")
			}
			l.Release(&ctx.Request)
			if ctx.Request.BodyStream() != tt.body {
				t.Error("Release did not give the request its own body stream back")
			}
		})
	}
}

package grpcbridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/dynamicpb"
)

// streamDesc describes every call Stream makes: one request message, any
// number of answers. A unary method is called the same way.
var streamDesc = grpc.StreamDesc{ServerStreams: true}

// Stream calls the method with the message r makes and passes each answer
// message to emit as one line of newline-delimited JSON (the JSON and
// "\n"); the line is valid only during the call of emit, which should
// write and flush it. It serves server-streaming and unary methods alike.
//
// The caller writes the HTTP status and headers when emit is first
// called: w.Header holds the response metadata of the answer's headers by
// then, with w.Status still 0 and w.Code OK.
//
// When emit is never called, Stream ends as Invoke does: w holds the
// status and the answer (an error body, or an empty body for a stream
// without messages), a *RequestError is returned for a request that does
// not make a message, and nil for every gRPC status. When the stream
// fails after a message was emitted, Stream emits one last line, the
// error body, and returns nil with w.Status and w.Code set by the status.
// An error of emit (the client went away) ends the call and is returned
// as is. Trailer metadata is added to w.Header at the end.
func (e *Endpoint) Stream(ctx context.Context, r *Request, w *Response, emit func(line []byte) error) error {
	return e.stream(ctx, r, w, emit, true)
}

// errBufferFull ends a gathered stream that outgrew MaxBufferedBytes.
var errBufferFull = errors.New("grpcbridge: answer too large")

// gather is Invoke of a server-streaming method: the messages as one
// JSON array.
func (e *Endpoint) gather(ctx context.Context, r *Request, w *Response) error {
	arr := []byte{'['}
	err := e.stream(ctx, r, w, func(line []byte) error {
		if len(arr)+len(line) > e.maxBuf {
			return errBufferFull
		}
		if len(arr) > 1 {
			arr = append(arr, ',')
		}
		arr = append(arr, line[:len(line)-1]...)
		return nil
	}, false)
	switch {
	case err == errBufferFull:
		e.writeStatus(w, status.New(codes.ResourceExhausted,
			"grpcbridge: the streamed answer exceeds "+strconv.Itoa(e.maxBuf)+" bytes"))
		return nil
	case err != nil:
		return err
	case w.Code != codes.OK:
		return nil
	}
	w.Body = append(append(w.Body[:0], arr...), ']')
	return nil
}

// stream runs Stream; errorLine says whether an error after the first
// message is emitted as a last line.
func (e *Endpoint) stream(ctx context.Context, r *Request, w *Response, emit func([]byte) error, errorLine bool) error {
	w.Reset()
	req := dynamicpb.NewMessage(e.in)
	sp := e.scratch.Get().(*[]byte)
	defer e.putScratch(sp)
	if re := e.build(req, r, sp); re != nil {
		e.writeRequestError(w, re)
		return re
	}
	ctx, cancel := context.WithCancel(e.outgoing(ctx, r.Header))
	defer cancel() // ends the call when emit fails
	cs, err := e.cc.NewStream(ctx, &streamDesc, e.m.path, callOptions...)
	if err != nil {
		e.writeStatus(w, status.Convert(err))
		return nil
	}
	// An error of SendMsg is io.EOF when the server already ended the
	// call; RecvMsg returns its status.
	if err := cs.SendMsg(req); err != nil && err != io.EOF {
		e.writeStatus(w, status.Convert(err))
		return nil
	}
	_ = cs.CloseSend() // never fails on a client stream
	if len(e.respMD) > 0 {
		if hdr, err := cs.Header(); err == nil {
			e.addMetadata(w, hdr)
		}
	}
	sent := 0
	for {
		msg := dynamicpb.NewMessage(e.out)
		err := cs.RecvMsg(msg)
		var line []byte
		if err == nil {
			line, err = e.marshal.MarshalAppend((*sp)[:0], msg)
			if err != nil {
				cancel()
				err = status.Error(codes.Internal, "grpcbridge: the answer does not convert to JSON: "+err.Error())
			}
		}
		if err != nil {
			if len(e.respMD) > 0 {
				e.addMetadata(w, cs.Trailer())
			}
			if err == io.EOF {
				w.Status, w.Code = http.StatusOK, codes.OK
				return nil
			}
			e.writeStatus(w, status.Convert(err))
			if sent == 0 || !errorLine {
				return nil
			}
			*sp = append(append((*sp)[:0], w.Body...), '\n')
			return emit(*sp)
		}
		line = append(line, '\n')
		*sp = line
		if err := emit(line); err != nil {
			return err
		}
		sent++
	}
}

package grpcbridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"

	// The google.rpc detail messages (ErrorInfo, BadRequest, RetryInfo,
	// ...) registered, so status details read as JSON.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// StatusClientClosed is the status of a call canceled on the client's
// side (nginx's 499), which the standard library does not name.
const StatusClientClosed = 499

// httpStatus is the well-known table of google.api.http (and
// grpc-gateway), by code.
var httpStatus = [...]int{
	codes.OK:                 http.StatusOK,
	codes.Canceled:           StatusClientClosed,
	codes.Unknown:            http.StatusInternalServerError,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.Aborted:            http.StatusConflict,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Internal:           http.StatusInternalServerError,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DataLoss:           http.StatusInternalServerError,
	codes.Unauthenticated:    http.StatusUnauthorized,
}

// HTTPStatus returns the HTTP status of a gRPC code: OK 200, CANCELLED
// 499, INVALID_ARGUMENT, FAILED_PRECONDITION and OUT_OF_RANGE 400,
// UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// ALREADY_EXISTS and ABORTED 409, RESOURCE_EXHAUSTED 429,
// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, and 500 for
// UNKNOWN, INTERNAL, DATA_LOSS and any code outside the table.
func HTTPStatus(c codes.Code) int {
	if int(c) < len(httpStatus) {
		return httpStatus[c]
	}
	return http.StatusInternalServerError
}

// codeNames are the names of google.rpc.Code, by code.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName returns the google.rpc.Code name of c ("NOT_FOUND",
// "CANCELLED"), the "code" of error bodies and a bounded metric label.
// A code outside the table is "UNKNOWN".
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// errorBody is the JSON of a failed call.
type errorBody struct {
	Error   string            `json:"error"`
	Code    string            `json:"code"`
	Field   string            `json:"field,omitempty"`
	Details []json.RawMessage `json:"details,omitempty"`
	Route   string            `json:"route,omitempty"`
}

// appendErrorBody appends the JSON of b (and no newline) to dst.
func appendErrorBody(dst []byte, b *errorBody) []byte {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		// Only strings and raw JSON that protojson wrote: not reached.
		return append(dst, `{"error":"grpcbridge: error body","code":"INTERNAL"}`...)
	}
	out := buf.Bytes()
	return out[:len(out)-1] // Encode's newline
}

// writeStatus fills w with the status and error body of st.
func (e *Endpoint) writeStatus(w *Response, st *status.Status) {
	w.Code = st.Code()
	w.Status = HTTPStatus(w.Code)
	b := errorBody{Error: st.Message(), Code: CodeName(w.Code), Route: e.route}
	if b.Error == "" {
		b.Error = CodeName(w.Code)
	}
	for _, d := range st.Proto().GetDetails() {
		j, err := e.details.Marshal(d)
		if err != nil {
			// A detail of a type neither the schema nor the binary knows.
			j, _ = json.Marshal(map[string]string{
				"@type": d.GetTypeUrl(),
				"value": base64.StdEncoding.EncodeToString(d.GetValue()),
			})
		}
		b.Details = append(b.Details, j)
	}
	w.Body = appendErrorBody(w.Body[:0], &b)
}

// writeRequestError fills w with the 400 answer to a request that did
// not make a message.
func (e *Endpoint) writeRequestError(w *Response, re *RequestError) {
	w.Code = codes.InvalidArgument
	w.Status = http.StatusBadRequest
	w.Body = appendErrorBody(w.Body[:0], &errorBody{
		Error: re.message(),
		Code:  CodeName(codes.InvalidArgument),
		Field: re.Field,
		Route: e.route,
	})
}

// typeResolver looks a type up in the schema first, then in the types
// linked into the binary (the google.rpc details, well-known types).
type typeResolver struct {
	schema *dynamicpb.Types
}

func (r typeResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if t, err := r.schema.FindMessageByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t, err := r.schema.FindMessageByURL(url); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r typeResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t, err := r.schema.FindExtensionByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r typeResolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t, err := r.schema.FindExtensionByNumber(m, n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

var _ interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
} = typeResolver{}

// detailsMarshaler is the protojson of status details.
func detailsMarshaler(r typeResolver) protojson.MarshalOptions {
	return protojson.MarshalOptions{Resolver: r}
}

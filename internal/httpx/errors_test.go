package httpx

import "testing"

// TestErrors pins the status and the message of each error: clients,
// dashboards and the gateway's own tests read them.
func TestErrors(t *testing.T) {
	tests := []struct {
		give       *Error
		wantStatus int
		wantMsg    string
	}{
		{ErrBadRequest, 400, "malformed request"},
		{ErrMethodNotAllowed, 405, "method not allowed"},
		{ErrRequestTimeout, 408, "request not received in time"},
		{ErrBodyTooLarge, 413, "request body too large"},
		{ErrChunkedTooLarge, 413, "gateway: request body too large"},
		{ErrURITooLong, 414, "request URI too long"},
		{ErrHeaderTooLarge, 431, "request header too large"},
		{ErrClientClosed, 499, "client closed the request"},
		{ErrVersionNotSupported, 505, "http version not supported"},
	}
	for _, tt := range tests {
		var err error = tt.give
		s, ok := err.(interface{ StatusCode() int })
		if !ok {
			t.Fatalf("%q: no StatusCode method", tt.wantMsg)
		}
		if got := s.StatusCode(); got != tt.wantStatus {
			t.Errorf("%q: status %d, want %d", tt.wantMsg, got, tt.wantStatus)
		}
		if got := err.Error(); got != tt.wantMsg {
			t.Errorf("message %q, want %q", got, tt.wantMsg)
		}
	}
}

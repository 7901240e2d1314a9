package router

import "testing"

func TestSegment(t *testing.T) {
	tests := []struct {
		path string
		i    int
		want string
	}{
		{path: "/v1/users/42", i: 0, want: "v1"},
		{path: "/v1/users/42", i: 2, want: "42"},
		{path: "/v1/users/42/", i: 3, want: ""},
		{path: "/v1/users/42", i: 3, want: "<nil>"},
		{path: "/", i: 0, want: ""},
		{path: "v1/x", i: 1, want: "x"},
	}
	for _, tt := range tests {
		got := Segment([]byte(tt.path), tt.i)
		s := string(got)
		if got == nil {
			s = "<nil>"
		}
		if s != tt.want {
			t.Errorf("Segment(%q, %d) = %q, want %q", tt.path, tt.i, s, tt.want)
		}
	}
}

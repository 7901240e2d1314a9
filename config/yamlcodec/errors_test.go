package yamlcodec

import "testing"

func TestFieldErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		give FieldError
		want string
	}{
		{"full", FieldError{File: "f.yaml", Line: 3, Col: 7, Field: "routes[1].upstream.timeout", Msg: "must be > 0"}, "f.yaml:3:7: routes[1].upstream.timeout: must be > 0"},
		{"no field", FieldError{File: "f.yaml", Line: 3, Col: 1, Field: "", Msg: "unknown field \"x\""}, `f.yaml:3:1: unknown field "x"`},
		{"no column", FieldError{File: "f.yaml", Line: 3, Col: 0, Field: "", Msg: "invalid YAML: x"}, "f.yaml:3: invalid YAML: x"},
		{"no position", FieldError{File: "f.yaml", Line: 0, Col: 0, Field: "", Msg: "empty"}, "f.yaml: empty"},
		{"line breaks escaped", FieldError{File: "f.yaml", Line: 1, Col: 1, Field: "a", Msg: "x\ny"}, `f.yaml:1:1: a: x\ny`},
	}
	for _, tt := range tests {
		if got := tt.give.Error(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.desc, got, tt.want)
		}
	}
}

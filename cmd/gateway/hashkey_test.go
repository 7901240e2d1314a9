package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHashKey(t *testing.T) {
	// sha256("secret-key"), as sha256sum prints it for: printf %s secret-key
	const want = "85dbe15d75ef9308c7ae0f33c7a324cc6f4bf519a2ed2f3027bd33c140a4f9aa"
	tests := []struct {
		desc  string
		args  []string
		stdin string
		want  string
		code  int
	}{
		{desc: "argument", args: []string{"secret-key"}, want: want + "\n"},
		{desc: "stdin, first line", stdin: "secret-key\nignored\n", want: want + "\n"},
		{desc: "stdin without newline", stdin: "secret-key", want: want + "\n"},
		{desc: "key file line", args: []string{"-consumer", "alice", "secret-key"}, want: "alice:" + want + "\n"},
		{desc: "empty", stdin: "\n", code: 1},
		{desc: "two keys", args: []string{"a", "b"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cmdHashKey(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.code || (tt.code == 0 && out.String() != tt.want) {
				t.Errorf("exit %d, output %q (stderr %q); want exit %d, %q", code, out.String(), errOut.String(), tt.code, tt.want)
			}
		})
	}
}

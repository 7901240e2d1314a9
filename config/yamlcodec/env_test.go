package yamlcodec

import (
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOST": "db", "PORT": "5432", "EMPTY": "", "DOLLAR": "${HOST}"}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	tests := []struct {
		desc     string
		give     string
		want     string
		wantRefs bool
		wantErr  string
	}{
		{desc: "no reference", give: "plain $HOST text", want: "plain $HOST text"},
		{desc: "whole value", give: "${HOST}", want: "db", wantRefs: true},
		{desc: "inside text", give: "http://${HOST}:${PORT}/", want: "http://db:5432/", wantRefs: true},
		{desc: "default when unset", give: "${NOPE:-fallback}", want: "fallback", wantRefs: true},
		{desc: "default when empty", give: "${EMPTY:-fallback}", want: "fallback", wantRefs: true},
		{desc: "value beats default", give: "${HOST:-fallback}", want: "db", wantRefs: true},
		{desc: "empty default", give: "a${NOPE:-}b", want: "ab", wantRefs: true},
		{desc: "default with colon", give: "${NOPE:-:8080}", want: ":8080", wantRefs: true},
		{desc: "set but empty without default", give: "[${EMPTY}]", want: "[]", wantRefs: true},
		{desc: "escape", give: "$${HOST}", want: "${HOST}"},
		{desc: "escape then reference", give: "$${HOST}=${HOST}", want: "${HOST}=db", wantRefs: true},
		{desc: "dollars before escape", give: "$$$${X}", want: "$$${X}"},
		{desc: "lone dollars", give: "$ $$ $", want: "$ $$ $"},
		{desc: "values are not expanded again", give: "${DOLLAR}", want: "${HOST}", wantRefs: true},
		{desc: "unset", give: "Bearer ${TOKEN}", wantErr: "environment variable TOKEN is not set"},
		{desc: "unterminated", give: "${HOST", wantErr: `unterminated "${"`},
		{desc: "empty name", give: "${}", wantErr: `invalid environment variable name ""`},
		{desc: "bad name", give: "${A-B}", wantErr: `invalid environment variable name "A-B"`},
		{desc: "name with digit first", give: "${1A}", wantErr: `invalid environment variable name "1A"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, refs, err := Expand(tt.give, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Expand(%q) error = %v, want %q", tt.give, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || refs != tt.wantRefs {
				t.Fatalf("Expand(%q) = %q, %v, %v; want %q, %v", tt.give, got, refs, err, tt.want, tt.wantRefs)
			}
			if back, _, err := Expand(EscapeEnv(got), noEnv); err != nil || back != got {
				t.Fatalf("EscapeEnv(%q) reads back as %q, %v", got, back, err)
			}
		})
	}
}

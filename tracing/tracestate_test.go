package tracing

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidTracestate(t *testing.T) {
	members := func(n int) string {
		m := make([]string, n)
		for i := range m {
			m[i] = fmt.Sprintf("k%d=v", i)
		}
		return strings.Join(m, ",")
	}
	tests := []struct {
		desc string
		give string
		want bool
	}{
		{desc: "one member", give: "rojo=00f067aa0ba902b7", want: true},
		{desc: "two members", give: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", want: true},
		{desc: "spaces and tabs around members", give: " rojo=1 ,\tcongo=2\t", want: true},
		{desc: "empty members", give: "rojo=1,,  ,congo=2,", want: true},
		{desc: "multi-tenant key", give: "fw529a3039@dt=1,0tenant@sys-1=2", want: true},
		{desc: "key characters", give: "a_b-c*d/e9=x", want: true},
		{desc: "value with inner space and symbols", give: "k=a b!~/+", want: true},
		{desc: "32 members", give: members(32), want: true},
		{desc: "33 members", give: members(33), want: false},
		{desc: "512 bytes", give: "k=" + strings.Repeat("v", 256) + ",l=" + strings.Repeat("v", 251), want: true},
		{desc: "513 bytes", give: "k=" + strings.Repeat("v", 256) + ",l=" + strings.Repeat("v", 252), want: false},
		{desc: "value of 257", give: "k=" + strings.Repeat("v", 257), want: false},
		{desc: "empty", give: "", want: false},
		{desc: "blank", give: " , ", want: false},
		{desc: "no equals", give: "rojo", want: false},
		{desc: "empty value", give: "rojo=", want: false},
		{desc: "empty key", give: "=1", want: false},
		{desc: "upper-case key", give: "Rojo=1", want: false},
		{desc: "key starts with digit", give: "1rojo=1", want: false},
		{desc: "key with dot", give: "ro.jo=1", want: false},
		{desc: "two equals", give: "rojo=1=2", want: false},
		{desc: "control character in value", give: "rojo=1\x01", want: false},
		{desc: "non-ASCII value", give: "rojo=é", want: false},
		{desc: "duplicate key", give: "rojo=1,congo=2,rojo=3", want: false},
		{desc: "system id too long", give: "t@" + strings.Repeat("s", 15) + "=1", want: false},
		{desc: "empty tenant", give: "@sys=1", want: false},
		{desc: "empty system", give: "t@=1", want: false},
		{desc: "two at signs", give: "t@s@x=1", want: false},
		{desc: "system starts with digit", give: "t@1s=1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := ValidTracestate([]byte(tt.give)); got != tt.want {
				t.Errorf("ValidTracestate(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

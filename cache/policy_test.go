package cache

import "testing"

func TestStorable(t *testing.T) {
	type give struct {
		policy       Policy
		method       string
		status       int
		cacheControl string
		setCookie    bool
	}
	tests := []struct {
		desc string
		give give
		want bool
	}{
		{desc: "plain GET 200", give: give{method: "GET", status: 200}, want: true},
		{desc: "HEAD 200", give: give{method: "HEAD", status: 200}, want: true},
		{desc: "204", give: give{method: "GET", status: 204}, want: true},
		{desc: "POST", give: give{method: "POST", status: 200}, want: false},
		{desc: "lower-case get is another method", give: give{method: "get", status: 200}, want: false},
		{desc: "206 partial", give: give{method: "GET", status: 206}, want: false},
		{desc: "304", give: give{method: "GET", status: 304}, want: false},
		{desc: "404", give: give{method: "GET", status: 404}, want: false},
		{desc: "500", give: give{method: "GET", status: 500}, want: false},
		{desc: "public max-age", give: give{method: "GET", status: 200, cacheControl: "public, max-age=60"}, want: true},
		{desc: "no-store", give: give{method: "GET", status: 200, cacheControl: "no-store"}, want: false},
		{desc: "no-store in upper case", give: give{method: "GET", status: 200, cacheControl: "max-age=0, No-Store"}, want: false},
		{desc: "no-store among others", give: give{method: "GET", status: 200, cacheControl: "max-age=0,no-store,must-revalidate"}, want: false},
		{desc: "no-store with spaces and tabs", give: give{method: "GET", status: 200, cacheControl: " \tno-store\t, x"}, want: false},
		{desc: "private", give: give{method: "GET", status: 200, cacheControl: "private, max-age=60"}, want: false},
		{desc: "private with field names", give: give{method: "GET", status: 200, cacheControl: `private="Set-Cookie", max-age=60`}, want: false},
		{desc: "no-store inside a quoted value", give: give{method: "GET", status: 200, cacheControl: `ext="no-store, private", max-age=60`}, want: true},
		{desc: "escaped quote inside a quoted value", give: give{method: "GET", status: 200, cacheControl: `ext="a\", no-store", public`}, want: true},
		{desc: "no-store after a quoted value", give: give{method: "GET", status: 200, cacheControl: `ext="a, b", no-store`}, want: false},
		{desc: "no-store as a value", give: give{method: "GET", status: 200, cacheControl: "x=no-store"}, want: true},
		{desc: "a longer token", give: give{method: "GET", status: 200, cacheControl: "no-stored, privately"}, want: true},
		{desc: "unclosed quote", give: give{method: "GET", status: 200, cacheControl: `ext="no-store`}, want: true},
		{desc: "no-cache is storable", give: give{method: "GET", status: 200, cacheControl: "no-cache"}, want: true},
		{desc: "set-cookie", give: give{method: "GET", status: 200, setCookie: true}, want: false},
		{desc: "set-cookie allowed", give: give{policy: Policy{AllowPrivate: true}, method: "GET", status: 200, setCookie: true}, want: true},
		{desc: "private allowed", give: give{policy: Policy{AllowPrivate: true}, method: "GET", status: 200, cacheControl: "private"}, want: true},
		{desc: "private allowed, no-store not", give: give{policy: Policy{AllowPrivate: true}, method: "GET", status: 200, cacheControl: "private, no-store"}, want: false},
		{desc: "no-store allowed", give: give{policy: Policy{AllowNoStore: true}, method: "GET", status: 200, cacheControl: "no-store"}, want: true},
		{desc: "no-store allowed, private not", give: give{policy: Policy{AllowNoStore: true}, method: "GET", status: 200, cacheControl: "no-store, private"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var cc []byte
			if tt.give.cacheControl != "" {
				cc = []byte(tt.give.cacheControl)
			}
			got := tt.give.policy.Storable([]byte(tt.give.method), tt.give.status, cc, tt.give.setCookie)
			if got != tt.want {
				t.Errorf("Storable = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzForbids(f *testing.F) {
	for _, s := range []string{"no-store", `a="no-store"`, `private="x\"y"`, `"`, `a=\`, ",,,= "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		Policy{}.Forbids([]byte(v)) // must not panic nor loop
	})
}

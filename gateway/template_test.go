package gateway

import "testing"

func TestPathTemplate(t *testing.T) {
	tests := []struct {
		desc, give, route, path string
		want                    string
		wantOK                  bool
	}{
		{desc: "literal", give: "events", route: "/v1/events", path: "/v1/events", want: "events", wantOK: true},
		{desc: "one parameter", give: "orders.{id}", route: "/v1/orders/{id}", path: "/v1/orders/42", want: "orders.42", wantOK: true},
		{desc: "two parameters", give: "{kind}.{id}.x", route: "/t/{kind}/o/{id}", path: "/t/shop/o/a-1_b~", want: "shop.a-1_b~.x", wantOK: true},
		{desc: "a dot would add a subject token", give: "orders.{id}", route: "/v1/orders/{id}", path: "/v1/orders/a.>", wantOK: false},
		{desc: "a space", give: "orders.{id}", route: "/v1/orders/{id}", path: "/v1/orders/a b", wantOK: false},
		{desc: "empty value", give: "orders.{id}", route: "/v1/orders/{id}", path: "/v1/orders/", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tpl, err := compileTemplate(tt.give, tt.route)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tpl.expand(nil, []byte(tt.path))
			if ok != tt.wantOK || (ok && string(got) != tt.want) {
				t.Errorf("expand(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, err := compileTemplate("x.{nope}", "/v1/{id}"); err == nil {
		t.Error("a parameter the route's path lacks compiled")
	}
}

package grpcbridge_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/fastgate/gateway/bridge/grpcbridge"
)

func params(kv ...string) []grpcbridge.Param {
	var out []grpcbridge.Param
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, grpcbridge.Param{Name: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

func TestInvokeFields(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		desc       string
		method     string
		settings   grpcbridge.EndpointSettings
		give       grpcbridge.Request
		wantServer string // the request the server received
		wantBody   string // the answer
	}{
		{
			desc:   "path and query, every kind",
			method: "GetUser",
			give: grpcbridge.Request{
				Params: params("id", "42"),
				Query: []byte("filter.city=New+York&filter.zip=10115&tags=a&tags=b%26c&role=ROLE_ADMIN&verbose=true" +
					"&limit=5&big=18446744073709551615&score=1.5&token=aGk&ids=1&ids=2&since=2024-01-02T03:04:05Z&pageToken=x%20y&&"),
			},
			wantServer: `{"id":"42","filter":{"city":"New York","zip":10115},"tags":["a","b&c"],"role":"ROLE_ADMIN","verbose":true,
				"limit":5,"big":"18446744073709551615","score":1.5,"token":"aGk=","ids":[1,2],"since":"2024-01-02T03:04:05Z","page_token":"x y"}`,
			wantBody: `{"id":"42","name":"user-42","role":"ROLE_ADMIN","tags":["a","b&c"],"active":true,"address":{"city":"New York","zip":10115}}`,
		},
		{
			desc:       "enum by number, bool as 1",
			method:     "GetUser",
			give:       grpcbridge.Request{Query: []byte("role=2&verbose=1&id=-3")},
			wantServer: `{"id":"-3","role":"ROLE_MEMBER","verbose":true}`,
			wantBody:   `{"id":"-3","name":"user--3","role":"ROLE_MEMBER","active":true}`,
		},
		{
			desc:       "empty request",
			method:     "GetUser",
			give:       grpcbridge.Request{Body: []byte(" \n")},
			wantServer: `{}`,
			wantBody:   `{"name":"user-0"}`,
		},
		{
			desc:     "body field, with query",
			method:   "CreateUser",
			settings: grpcbridge.EndpointSettings{BodyField: "user"},
			give: grpcbridge.Request{
				Body:  []byte(`{"name":"ann","role":"ROLE_MEMBER","labels":{"k":"v"},"created":"2024-01-02T03:04:05Z","address":{"zip":1}}`),
				Query: []byte("validate_only=true"),
			},
			wantServer: `{"user":{"name":"ann","role":"ROLE_MEMBER","labels":{"k":"v"},"created":"2024-01-02T03:04:05Z","address":{"zip":1}},"validate_only":true}`,
			wantBody:   `{"id":"1000","name":"ann","role":"ROLE_MEMBER","labels":{"k":"v"},"created":"2024-01-02T03:04:05Z","address":{"zip":1}}`,
		},
		{
			desc:       "whole body, a path parameter wins",
			method:     "CreateUser",
			give:       grpcbridge.Request{Body: []byte(`{"user":{"id":"5","name":"bo","tags":["x"]}}`), Params: params("user.id", "9", "user.tags", "y")},
			wantServer: `{"user":{"id":"9","name":"bo","tags":["x","y"]}}`,
			wantBody:   `{"id":"9","name":"bo","tags":["x","y"]}`,
		},
		{
			desc:       "proto names out, defaults emitted",
			method:     "GetUser",
			settings:   grpcbridge.EndpointSettings{EmitDefaults: true, UseProtoNames: true},
			give:       grpcbridge.Request{Body: []byte(`{"pageToken":"t"}`), Query: []byte("page_token=u")},
			wantServer: `{"page_token":"u"}`,
			wantBody:   `{"id":"0","name":"user-0","role":"ROLE_UNSPECIFIED","tags":[],"active":false,"address":null,"created":null,"labels":{}}`,
		},
		{
			desc:       "unknown fields allowed",
			method:     "GetUser",
			settings:   grpcbridge.EndpointSettings{AllowUnknownFields: true},
			give:       grpcbridge.Request{Body: []byte(`{"id":"1","nope":{"a":[1]}}`), Query: []byte("utm_source=x&id=2")},
			wantServer: `{"id":"2"}`,
			wantBody:   `{"id":"2","name":"user-2"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := f.endpoint(t, tt.method, tt.settings)
			w, err := invoke(t, e, &tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if w.Status != 200 || w.Code != codes.OK {
				t.Fatalf("status %d code %v body %s", w.Status, w.Code, w.Body)
			}
			if !jsonEqual(t, []byte(f.srv.LastRequest()), tt.wantServer) {
				t.Errorf("server got %s\nwant %s", f.srv.LastRequest(), tt.wantServer)
			}
			if !jsonEqual(t, w.Body, tt.wantBody) {
				t.Errorf("body %s\nwant %s", w.Body, tt.wantBody)
			}
		})
	}
}

func TestInvokeRequestErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		desc       string
		method     string
		settings   grpcbridge.EndpointSettings
		give       grpcbridge.Request
		wantField  string
		wantReason string // part of the reason
	}{
		{desc: "unknown field", method: "GetUser", give: grpcbridge.Request{Body: []byte(`{"id":"1","nmae":"x"}`)},
			wantField: "nmae", wantReason: "unknown field"},
		{desc: "unknown nested field", method: "GetUser", give: grpcbridge.Request{Body: []byte("{\n \"filter\": {\"city\": \"a\", \"zipp\": 1}}")},
			wantField: "filter.zipp", wantReason: "unknown field"},
		{desc: "unknown field under body field", method: "CreateUser", settings: grpcbridge.EndpointSettings{BodyField: "user"},
			give: grpcbridge.Request{Body: []byte(`{"address":{"town":"x"}}`)}, wantField: "user.address.town", wantReason: "unknown field"},
		{desc: "body field sets a sibling", method: "CreateUser", settings: grpcbridge.EndpointSettings{BodyField: "user"},
			give: grpcbridge.Request{Body: []byte(`{}, "validate_only": true`)}, wantField: "user", wantReason: "not one JSON value"},
		{desc: "syntax error under body field", method: "CreateUser", settings: grpcbridge.EndpointSettings{BodyField: "user"},
			give: grpcbridge.Request{Body: []byte(`{"name": ]`)}, wantField: "user.name", wantReason: "syntax error: unexpected token"},
		{desc: "wrong type", method: "GetUser", give: grpcbridge.Request{Body: []byte(`{"id":"abc"}`)},
			wantField: "id", wantReason: "invalid value for int64 field id"},
		{desc: "wrong type in a list", method: "GetUser", give: grpcbridge.Request{Body: []byte(`{"tags":["a",5]}`)},
			wantField: "tags[1]", wantReason: "invalid value"},
		{desc: "object for a scalar", method: "GetUser", give: grpcbridge.Request{Body: []byte(`{"verbose":{"a":1}}`)},
			wantField: "verbose", wantReason: "invalid value"},
		{desc: "malformed JSON", method: "GetUser", give: grpcbridge.Request{Body: []byte(`{"id": }`)},
			wantField: "id", wantReason: "syntax error"},
		{desc: "not JSON", method: "GetUser", give: grpcbridge.Request{Body: []byte(`hello`)},
			wantField: "", wantReason: "syntax error"},
		{desc: "unknown query key", method: "GetUser", give: grpcbridge.Request{Query: []byte("id=1&nope=2")},
			wantField: "nope", wantReason: "unknown field"},
		{desc: "query value of the wrong type", method: "GetUser", give: grpcbridge.Request{Query: []byte("id=abc")},
			wantField: "id", wantReason: "invalid value for int64"},
		{desc: "int32 out of range", method: "GetUser", give: grpcbridge.Request{Query: []byte("filter.zip=99999999999")},
			wantField: "filter.zip", wantReason: "invalid value for int32"},
		{desc: "bad percent escape", method: "GetUser", give: grpcbridge.Request{Query: []byte("tags=%zz")},
			wantField: "tags", wantReason: "percent-encoding"},
		{desc: "bad enum", method: "GetUser", give: grpcbridge.Request{Query: []byte("role=ROLE_NOPE")},
			wantField: "role", wantReason: "test.v1.Role"},
		{desc: "bad timestamp", method: "GetUser", give: grpcbridge.Request{Query: []byte("since=yesterday")},
			wantField: "since", wantReason: "Timestamp"},
		{desc: "bad bool", method: "GetUser", give: grpcbridge.Request{Query: []byte("verbose=yes")},
			wantField: "verbose", wantReason: "bool"},
		{desc: "message field as a value", method: "GetUser", give: grpcbridge.Request{Query: []byte("filter=x")},
			wantField: "filter", wantReason: "message field"},
		{desc: "map field in the query", method: "CreateUser", give: grpcbridge.Request{Query: []byte("user.labels=x")},
			wantField: "user.labels", wantReason: "map field"},
		{desc: "path parameter the message lacks", method: "GetUser", give: grpcbridge.Request{Params: params("user_id", "1")},
			wantField: "user_id", wantReason: "unknown field"},
		{desc: "path through a scalar", method: "GetUser", settings: grpcbridge.EndpointSettings{AllowUnknownFields: true},
			give: grpcbridge.Request{Params: params("id.x", "1")}, wantField: "id.x", wantReason: "not a message field"},
		{desc: "string not UTF-8", method: "GetUser", give: grpcbridge.Request{Query: []byte("page_token=%ff")},
			wantField: "page_token", wantReason: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.settings.Route = "users"
			e := f.endpoint(t, tt.method, tt.settings)
			before := f.srv.Calls()
			w, err := invoke(t, e, &tt.give)
			var re *grpcbridge.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a *RequestError", err, err)
			}
			if re.Field != tt.wantField || !strings.Contains(re.Reason, tt.wantReason) {
				t.Errorf("field %q reason %q, want field %q reason with %q", re.Field, re.Reason, tt.wantField, tt.wantReason)
			}
			if strings.Contains(re.Reason, "(line") && tt.settings.BodyField != "" || strings.HasPrefix(re.Reason, ":") {
				t.Errorf("reason %q", re.Reason)
			}
			if tt.wantField != "" && !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("error %q does not name the field", err)
			}
			if got := f.srv.Calls(); got != before {
				t.Errorf("the server received %d calls", got-before)
			}
			if w.Status != 400 || w.Code != codes.InvalidArgument {
				t.Errorf("status %d code %v", w.Status, w.Code)
			}
			body := decode(t, w.Body)
			if body["code"] != "INVALID_ARGUMENT" || body["route"] != "users" || !strings.Contains(body["error"].(string), tt.wantReason) {
				t.Errorf("body %s", w.Body)
			}
			if tt.wantField != "" && body["field"] != tt.wantField {
				t.Errorf("body field %v, want %q", body["field"], tt.wantField)
			}
		})
	}
}

package consultest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The fake answers the recorded session as the real agent did: the same
// status, the same headers (Date aside), the same bytes, the same
// X-Consul-Index, when the writes of the recording are replayed in order.
func TestKVAnswersAsRecorded(t *testing.T) {
	kv := NewKV(t)
	users := []byte(`{"path":"/api/users/","upstream":"consul://users","protocol":"http","timeout":"2s"}`)
	orders := []byte(`{"path":"/api/orders/","upstream":"nats://orders.create","protocol":"nats"}`)
	base := "http://" + kv.Addr() + "/v1/kv/gateway/routes/"
	steps := []struct {
		desc, method, url string
		body              []byte
		before            func() // a write that the recording made outside the request
		want              string
	}{
		{desc: "put users", method: "PUT", url: base + "users", body: users, want: "20-kv-put-users.http"},
		{desc: "put orders", method: "PUT", url: base + "orders", body: orders, want: "21-kv-put-orders.http"},
		{desc: "recurse", method: "GET", url: base + "?recurse=true", want: "22-kv-get-recurse.http"},
		{desc: "keys", method: "GET", url: base + "?keys=true", want: "23-kv-get-keys.http"},
		{desc: "raw", method: "GET", url: base + "users?raw=true", want: "24-kv-get-raw.http"},
		{desc: "missing", method: "GET", url: base + "nope", want: "25-kv-get-missing.http"},
		{desc: "blocking, nothing changes", method: "GET", url: base + "?recurse=true&index=28&wait=100ms", want: "26-kv-get-recurse-block-timeout.http"},
		{
			desc: "blocking, a write elsewhere does not wake it", method: "GET", url: base + "?recurse=true&index=28&wait=100ms",
			// The recording's index 30 was another write outside the prefix.
			before: func() { kv.Put("other/key", []byte("x")); kv.Put("other/key2", []byte("x")) },
			want:   "27-kv-get-recurse-block-unrelated-write.http",
		},
		{
			desc: "blocking, a write under the prefix wakes it", method: "GET", url: base + "?recurse=true&index=28&wait=30s",
			before: func() {
				kv.Put("gateway/routes/users", []byte(`{"path":"/api/users/","upstream":"consul://users","protocol":"grpc"}`))
			},
			want: "28-kv-get-recurse-block-put.http",
		},
		{desc: "cas mismatch", method: "PUT", url: base + "users?cas=1", body: []byte("x"), want: "29-kv-put-cas-mismatch.http"},
		{desc: "after the put", method: "GET", url: base + "?recurse=true", want: "30-kv-get-recurse-after-put.http"},
		{
			desc: "blocking, a delete under the prefix wakes it", method: "GET", url: base + "?recurse=true&index=31&wait=30s",
			before: func() { kv.DeleteTree("gateway/routes/orders") }, // 33: the failed CAS took 32
			want:   "31-kv-get-recurse-block-delete.http",
		},
		{desc: "delete recurse", method: "DELETE", url: base + "?recurse=true", want: "32-kv-delete-recurse.http"},
		{desc: "empty prefix", method: "GET", url: base + "?recurse=true", want: "33-kv-get-recurse-empty.http"},
		{desc: "leader", method: "GET", url: "http://" + kv.Addr() + "/v1/status/leader", want: "34-status-leader.http"},
		{desc: "unknown endpoint", method: "GET", url: "http://" + kv.Addr() + "/v1/agent/version", want: "35-unknown-endpoint-404.http"},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		req, err := http.NewRequest(st.method, st.url, bytes.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.desc, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", st.desc, err)
		}
		want := Load(t, st.want)
		if resp.StatusCode != want.Status {
			t.Errorf("%s: status %d, recorded %d", st.desc, resp.StatusCode, want.Status)
		}
		if !bytes.Equal(body, want.Body) {
			t.Errorf("%s: body\n%q\nrecorded\n%q", st.desc, body, want.Body)
		}
		for k := range want.Header {
			if k == "Date" {
				continue
			}
			if got, w := strings.Join(resp.Header.Values(k), ","), strings.Join(want.Header.Values(k), ","); got != w {
				t.Errorf("%s: %s: %q, recorded %q", st.desc, k, got, w)
			}
		}
		for k := range resp.Header {
			if _, ok := want.Header[k]; !ok && k != "Date" {
				t.Errorf("%s: header %s that the agent did not send", st.desc, k)
			}
		}
	}
}

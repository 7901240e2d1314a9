package consul

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/consultest"
	"github.com/fastgate/gateway/internal/logtest"
)

// sourceToken marks the Source's requests, apart from the publisher's.
const sourceToken = "source"

// sourceConn is testConn with sourceToken.
func sourceConn(addr string) Conn {
	c := testConn(addr)
	c.Token = sourceToken
	return c
}

// pointerQueries are the Source's queries of the pointer.
func pointerQueries(kv *consultest.KV) []consultest.Request {
	var out []consultest.Request
	for _, r := range kv.Requests() {
		if r.Token == sourceToken && r.Method == "GET" && r.Path == "/v1/kv/"+prefix+"current" && !r.Query.Has("keys") {
			out = append(out, r)
		}
	}
	return out
}

// The pointer is read with blocking queries on the last X-Consul-Index;
// an index that went backwards (a restored Consul) is dropped, and the
// next query reads at once.
func TestSourceBlockingQueries(t *testing.T) {
	kv := consultest.NewKV(t)
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	tg := &target{}
	startSource(t, sourceConn(kv.Addr()), tg, "")
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	eventually(t, within, "a blocking query", func() bool {
		qs := pointerQueries(kv)
		return len(qs) >= 2 && qs[len(qs)-1].Query.Get("index") != "" && qs[len(qs)-1].Query.Get("wait") == "1000ms"
	})
	if qs := pointerQueries(kv); qs[0].Query.Has("index") {
		t.Errorf("the first query blocks: %v", qs[0].Query)
	}
	seen := len(pointerQueries(kv))

	// Consul restored from an older snapshot: its indexes are below the
	// one the query blocks on. The query returns when its wait runs out,
	// with the lower index; the next one reads at once.
	kv.Restore(3)
	publish(t, pub, hello("two"))
	eventually(t, 5*time.Second, "the version published after the restore", func() bool { return tg.LastBody() == "two" })
	eventually(t, 5*time.Second, "a query after the lower index", func() bool { return len(pointerQueries(kv)) >= seen+2 })
	if q := pointerQueries(kv)[seen]; q.Query.Has("index") {
		t.Errorf("the query after an index that went backwards blocks: %v", q.Query)
	}
}

// An agent that answers blocking queries at once (a proxy that drops
// ?index=) is asked at most once per MinInterval.
func TestSourceQueryRateLimited(t *testing.T) {
	kv := consultest.NewKV(t)
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	kv.SetMode("noblock")
	tg := &target{}
	src, err := New(Settings[string]{
		Conn: sourceConn(kv.Addr()), WaitTime: time.Second, MinInterval: 50 * time.Millisecond,
		Local: local(t), Target: tg, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	eventually(t, 2*time.Second, "ten queries", func() bool { return len(pointerQueries(kv)) >= 10 })
	// Each query starts at least MinInterval after the one before; seen
	// at the agent, a request may arrive late, so the span of n queries
	// is held to (n-2) intervals rather than each gap to one.
	qs := pointerQueries(kv)
	if span, least := qs[len(qs)-1].At.Sub(qs[0].At), time.Duration(len(qs)-2)*50*time.Millisecond; span < least {
		t.Errorf("%d queries within %v; want them at least MinInterval (50ms) apart, %v in all", len(qs), span, least)
	}
	if a, _ := tg.Counts(); a != 1 {
		t.Errorf("%d applied; the same answer again applies nothing", a)
	}
}

// An outage is logged once, and its end once.
func TestSourceOutageLoggedOnce(t *testing.T) {
	kv := consultest.NewKV(t)
	pub := newPublisher(t, kv.Addr())
	publish(t, pub, hello("one"))
	var logs logtest.Buffer
	tg := &target{}
	src, err := New(Settings[string]{
		Conn: testConn(kv.Addr()), WaitTime: time.Second, MinInterval: 10 * time.Millisecond,
		Local: local(t), Target: tg, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	src.backoff.Min, src.backoff.Max = 10*time.Millisecond, 20*time.Millisecond
	run(t, src)
	eventually(t, within, "version 1 applied", func() bool { return tg.LastBody() == "one" })
	kv.SetMode("500")
	before := len(kv.Requests())
	eventually(t, 5*time.Second, "failed queries", func() bool { return len(kv.Requests()) >= before+4 })
	n, down := logs.Last(t, "gateway: config source does not answer")
	if e, _ := down["error"].(string); n != 1 || down["level"] != "WARN" || down["config_source"] != "consul" || !strings.Contains(e, "500") {
		t.Errorf("%d outage lines, last %v; want 1 warn with the error", n, down)
	}
	kv.SetMode("")
	eventually(t, 5*time.Second, "Consul answering again", func() bool { return src.Status().Reachable })
	if n, _ := logs.Last(t, "gateway: config source answers again"); n != 1 {
		t.Errorf("%d recovery lines; want 1", n)
	}
	if bytes.Contains([]byte(logs.String()), []byte("refused")) {
		t.Errorf("an outage reported as a refusal:\n%s", logs.String())
	}
}

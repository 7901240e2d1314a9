package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/testwait"
)

// fakeRegistry is a discovery.Watcher whose lists the test sets, standing
// in for Consul or etcd (whose own watchers are tested against real
// servers and recordings in discovery/).
type fakeRegistry struct {
	mu      sync.Mutex
	lists   map[string][]discovery.Endpoint
	subs    map[string][]func(discovery.Update)
	watches atomic.Int32
	down    atomic.Bool
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{lists: map[string][]discovery.Endpoint{}, subs: map[string][]func(discovery.Update){}}
}

func (f *fakeRegistry) Watch(ctx context.Context, service string, send func(discovery.Update)) error {
	f.watches.Add(1)
	f.mu.Lock()
	eps := discovery.SortEndpoints(append([]discovery.Endpoint(nil), f.lists[service]...))
	f.subs[service] = append(f.subs[service], send)
	f.mu.Unlock()
	send(discovery.Update{Endpoints: eps, Changed: true})
	<-ctx.Done()
	return nil
}

// set publishes a new list for service, as a registry would.
func (f *fakeRegistry) set(service string, addrs ...string) {
	eps := make([]discovery.Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = discovery.Endpoint{Addr: strings.TrimPrefix(a, "http://"), Weight: 1}
	}
	f.mu.Lock()
	f.lists[service] = eps
	subs := f.subs[service]
	f.mu.Unlock()
	for _, send := range subs {
		if f.down.Load() {
			send(discovery.Update{Err: fmt.Errorf("registry unreachable")})
			continue
		}
		send(discovery.Update{Endpoints: discovery.SortEndpoints(append([]discovery.Endpoint(nil), eps...)), Changed: true})
	}
}

func startDiscoveryGateway(t *testing.T, reg *fakeRegistry, yaml string) *testGateway {
	t.Helper()
	cfg, err := config.Parse([]byte("discovery: { etcd: {} }\n"+yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return serveConfigWith(t, cfg, Options{Sources: map[string]discovery.Watcher{"etcd": reg}})
}

// instanceUpstream answers with its own name.
func instanceUpstream(t *testing.T, name string) string {
	return startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(name) })
}

// seen sends n requests and counts the answers by body.
func seen(t *testing.T, g *testGateway, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		resp := g.do(t, "GET", "/svc/x", nil, "")
		out[fmt.Sprintf("%d %s", resp.StatusCode(), resp.Body())]++
	}
	return out
}

const discoveredRoute = `
routes:
  - { name: svc, match: { path_prefix: /svc/ }, upstream: { service: users, discovery: etcd, timeout: 1s } }
`

func TestDiscoveredInstancesFollowed(t *testing.T) {
	reg := newFakeRegistry()
	a, b := instanceUpstream(t, "a"), instanceUpstream(t, "b")
	reg.set("users", a)
	g := startDiscoveryGateway(t, reg, discoveredRoute)
	if got := seen(t, g, 4); got["200 a"] != 4 {
		t.Fatalf("one instance: %v", got)
	}
	reg.set("users", a, b)
	waitFor(t, time.Second, func() bool { return seen(t, g, 4)["200 b"] > 0 })
	reg.set("users", b)
	waitFor(t, time.Second, func() bool { got := seen(t, g, 6); return got["200 b"] == 6 })
	reg.set("users")
	waitFor(t, time.Second, func() bool {
		return seen(t, g, 2)["503 {\"error\":\"no upstream instance available\",\"route\":\"svc\"}\n"] == 2
	})

	metrics := httpGet(t, g.admin+"/metrics")
	for _, want := range []string{`gateway_discovery_instances{service="users",source="etcd"} 0`, `gateway_discovery_updates_total{service="users",source="etcd"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if routes := httpGet(t, g.admin+"/-/routes"); !strings.Contains(routes, `"service": "users"`) {
		t.Errorf("/-/routes:\n%s", routes)
	}
}

// TestDiscoveryChurnUnderLoad: the instance set changes a hundred times
// while requests flow, each set serving a few dozen of them; one instance
// stays throughout, so none fails.
func TestDiscoveryChurnUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a hundred changes under load")
	}
	reg := newFakeRegistry()
	stable := instanceUpstream(t, "stable")
	others := []string{instanceUpstream(t, "x"), instanceUpstream(t, "y"), instanceUpstream(t, "z")}
	reg.set("users", stable)
	g := startDiscoveryGateway(t, reg, discoveredRoute)
	stop := make(chan struct{})
	var failed, ok atomic.Int64
	var wg sync.WaitGroup
	var halted sync.Once
	halt := func() { halted.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // also when a wait below fails
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &fasthttp.HostClient{Addr: g.addr, MaxIdemponentCallAttempts: 1}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + g.addr + "/svc/x")
			for n := 0; n < 1_000_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := 0; i < 100; i++ {
		set := []string{stable}
		for j, o := range others {
			if (i>>j)&1 == 1 {
				set = append(set, o)
			}
		}
		reg.set("users", set...)
		// Let requests flow across each change: a few answers on the new
		// set before the next, however slow the machine.
		from := ok.Load() + failed.Load()
		waitFor(t, 10*time.Second, func() bool { return ok.Load()+failed.Load() >= from+32 })
	}
	halt()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d answered, %d failed during churn; want none failed", ok.Load(), failed.Load())
	}
}

// TestDiscoveryRegistryDown: an unreachable registry keeps the last known
// instances serving.
func TestDiscoveryRegistryDown(t *testing.T) {
	reg := newFakeRegistry()
	a := instanceUpstream(t, "a")
	reg.set("users", a)
	g := startDiscoveryGateway(t, reg, discoveredRoute)
	reg.down.Store(true)
	reg.set("users") // the registry fails instead of answering
	waitFor(t, 5*time.Second, func() bool {
		return g.metric(t, `gateway_discovery_errors_total{service="users",source="etcd"}`) >= 1
	})
	if got := seen(t, g, 3); got["200 a"] != 3 {
		t.Errorf("registry down: %v, want the last known instance serving", got)
	}
	reg.down.Store(false)
	b := instanceUpstream(t, "b")
	reg.set("users", b)
	waitFor(t, time.Second, func() bool { return seen(t, g, 3)["200 b"] == 3 })
}

// TestDiscoveryOneWatchPerService: two hundred routes on one service open
// one watch.
func TestDiscoveryOneWatchPerService(t *testing.T) {
	reg := newFakeRegistry()
	reg.set("users", instanceUpstream(t, "a"))
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "  - { name: r%d, match: { path: /r%d }, upstream: { service: users, discovery: etcd } }\n", i, i)
	}
	g := startDiscoveryGateway(t, reg, b.String())
	if n := reg.watches.Load(); n != 1 {
		t.Errorf("%d watches for 200 routes on one service, want 1", n)
	}
	if s := g.do(t, "GET", "/r199", nil, "").StatusCode(); s != 200 {
		t.Errorf("status %d", s)
	}
}

// waitFor waits until cond holds, for at most limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	testwait.Until(t, limit, "the condition", cond)
}

// TestDiscoveryRemovedInstanceFinishesInFlight: a request already on an
// instance that the registry drops completes normally.
func TestDiscoveryRemovedInstanceFinishesInFlight(t *testing.T) {
	reg := newFakeRegistry()
	// The slow instance holds the request until the removal is applied.
	arrived, release := make(chan struct{}), make(chan struct{})
	var arrive, let sync.Once
	slow := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		arrive.Do(func() { close(arrived) })
		<-release
		ctx.SetBodyString("slow")
	})
	t.Cleanup(func() { let.Do(func() { close(release) }) })
	other := instanceUpstream(t, "other")
	reg.set("users", slow)
	// A timeout far above the time the removal takes on a loaded machine.
	g := startDiscoveryGateway(t, reg, strings.Replace(discoveredRoute, "timeout: 1s", "timeout: 10s", 1))
	done := make(chan string, 1)
	go func() {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			done <- err.Error()
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "GET /svc/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		all, _ := io.ReadAll(c)
		resp := string(all)
		status, _, _ := strings.Cut(resp, "\r\n")
		done <- status + " " + resp[strings.LastIndex(resp, "\n")+1:]
	}()
	select {
	case <-arrived: // the request is on the slow instance
	case got := <-done:
		t.Fatalf("the request never reached the slow instance: %q", got)
	}
	updates := `gateway_discovery_updates_total{service="users",source="etcd"}`
	before := g.metric(t, updates)
	reg.set("users", other)
	waitFor(t, 5*time.Second, func() bool { return g.metric(t, updates) > before })
	let.Do(func() { close(release) })
	if got := <-done; got != "HTTP/1.1 200 OK slow" {
		t.Errorf("in-flight request on a removed instance: %q, want it to finish", got)
	}
	if got := seen(t, g, 2); got["200 other"] != 2 {
		t.Errorf("after the removal: %v", got)
	}
}

// Command gateway is an API gateway: an edge proxy configured in YAML.
//
//	gateway run -config FILE        serve
//	gateway validate FILE...        check configuration files, print every error
//	gateway validate -diff FILE     and say what applying it to a running gateway would change
//	gateway publish FILE            validate FILE and publish it to the fleet's etcd or Consul KV (docs/fleet.md)
//	gateway version                 print the version and the commit
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/consul"
	"github.com/fastgate/gateway/discovery/etcd"
	"github.com/fastgate/gateway/gateway"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=..." (see the Makefile).
// Without a commit flag, the revision the Go toolchain stamped into the
// binary is used, when there is one.
var (
	version = "dev"
	commit  = ""
)

const usage = `usage:
  gateway run [-config FILE] [-log-level LEVEL] [-log-format text|json]
  gateway validate [-diff [-admin ADDR]] FILE...
  gateway publish [-source FILE | -endpoints ADDRS | -consul ADDR] [-prefix PREFIX] [-dry-run] [-expect N] FILE
  gateway hash-key [-consumer NAME] [KEY]
  gateway version
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs one subcommand and returns the process exit code.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "hash-key":
		return cmdHashKey(args[1:], os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		c := buildCommit()
		if c == "" {
			c = "unknown"
		}
		fmt.Fprintf(stdout, "gateway %s (commit %s, %s)\n", version, c, runtime.Version())
		return 0
	case "publish":
		return cmdPublish(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gateway: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// cmdValidate checks each file and prints every error of every file.
func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	diff := fs.Bool("diff", false, "also print what applying each file to a running gateway would change")
	admin := fs.String("admin", "", "admin address of the running gateway for -diff (default: the file's admin setting)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "gateway validate: name at least one file\n")
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		cfg, err := config.Load(file, gateway.RouteConflicts)
		var notes []string
		if err == nil {
			notes, err = gateway.CheckWith(cfg, gateway.CheckOptions{GRPC: checkGRPCRoute})
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d routes)\n", file, len(cfg.Routes))
		for _, n := range notes {
			fmt.Fprintln(stdout, "  "+n)
		}
		if *diff {
			addr := *admin
			if addr == "" {
				addr = cfg.Admin
			}
			if err := printDiff(stdout, cfg, addr); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", file, err)
				code = 1
			}
		}
	}
	return code
}

// printDiff compares cfg with what the gateway at adminAddr serves, by
// digest: no configuration and no secret crosses the wire.
func printDiff(w io.Writer, cfg *config.Config, adminAddr string) error {
	if strings.HasPrefix(adminAddr, ":") {
		adminAddr = "127.0.0.1" + adminAddr
	}
	client := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/-/config/digest", nil)
	if err != nil {
		return fmt.Errorf("ask the running gateway: %w", err)
	}
	if a := cfg.AdminAuth; a != nil {
		req.Header.Set("Authorization", "Bearer "+string(a.Token()))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the running gateway: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ask the running gateway: %s", resp.Status)
	}
	var serving gateway.Digest
	if err := json.NewDecoder(resp.Body).Decode(&serving); err != nil {
		return fmt.Errorf("ask the running gateway: %w", err)
	}
	lines := gateway.DiffDigests(serving, gateway.DigestOf(cfg))
	if len(lines) == 0 {
		fmt.Fprintln(w, "  no change from what", adminAddr, "serves")
	}
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
	return nil
}

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "configs/gateway.yaml", "configuration file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	}
	routeDependencyLogs(log)
	path, err := configPath(fs, *file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log.Info("gateway: reading the configuration", "file", path)
	// The reloader loads through the same Loader: it keeps the included
	// files, so that the first reload reads only those that changed.
	loader := &config.Loader{}
	cfg, err := loader.Load(path, gateway.RouteConflicts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	warnPlaceholder(cfg, path, log)
	if err := serve(cfg, loader, log); err != nil {
		log.Error(err.Error())
		return 1
	}
	return 0
}

// placeholderRoute is the name of the catch-all route of the container
// image's built-in configuration (configs/container.yaml). A
// configuration with a route of that name is the placeholder.
const placeholderRoute = "container-placeholder"

// warnPlaceholder says at start, at warn, that the gateway runs the
// container image's placeholder configuration, which proxies nothing, so
// that an operator who forgot to mount their own sees it in the log and
// not only in the 404s.
func warnPlaceholder(cfg *config.Config, path string, log *slog.Logger) {
	for _, r := range cfg.Routes {
		if r.Name == placeholderRoute {
			log.Warn("gateway: running the container image's placeholder configuration, which proxies nothing: mount your own over it",
				"file", path)
			return
		}
	}
}

// configPath makes the -config file's name absolute, and says which name
// and why when there is no such file: without -config the default is a
// path relative to the working directory, which is easy to miss.
func configPath(fs *flag.FlagSet, file string) (string, error) {
	path, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("gateway: configuration file %q: %w", file, err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "config" })
		if !given {
			return "", fmt.Errorf("gateway: no configuration file at %s (the default %q, relative to the working directory); name one with -config FILE", path, file)
		}
		return "", fmt.Errorf("gateway: no configuration file at %s (-config %q)", path, file)
	}
	return path, nil
}

// serve runs the gateway until SIGINT or SIGTERM, then drains it.
func serve(cfg *config.Config, loader *config.Loader, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Listen for signals before anything can be told to stop us.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// Before anything opens a descriptor or sizes itself by the limit.
	soft, hard, limErr := gateway.FileLimit()
	sources, closeSources, err := discoverySources(cfg, log)
	if err != nil {
		return err
	}
	defer closeSources()
	grpcs := grpcBackends{log: log}
	edge, err := openTLS(cfg, log)
	if err != nil {
		return err
	}
	defer edge.close()
	reg, err := newRegistration(cfg, log)
	if err != nil {
		return err
	}
	opts := gateway.Options{
		Logger: log, Version: version, Commit: buildCommit(), Sources: sources, StateFile: cfg.Discovery.StateFile,
		Brokers: brokerFactory(log), GRPC: grpcs.build, GRPCCheck: checkGRPCRoute, ACME: edge.acmeClient(),
	}
	if reg != nil {
		defer reg.Close()
		opts.Registration = reg
	}
	gw, err := gateway.New(cfg, opts)
	if err != nil {
		return err
	}
	if limErr != nil {
		log.Warn(limErr.Error())
	} else {
		log.Info("gateway: open file limit", "soft", soft, "hard", hard, "concurrency", gw.Concurrency())
		if c := cfg.Server.Concurrency; c > 0 && soft > 0 && uint64(c) > soft {
			log.Warn("gateway: server.concurrency is above the open file limit: clients can use up the descriptors upstream connections need; raise the limit (ulimit -n, LimitNOFILE=) or lower server.concurrency",
				"concurrency", c, "limit", soft)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	var adminLn net.Listener
	if cfg.Admin != config.AdminOff {
		adminLn, err = net.Listen("tcp", cfg.Admin)
		if err != nil {
			ln.Close()
			return fmt.Errorf("gateway: admin listen: %w", err)
		}
		warnPublicAdmin(log, adminLn.Addr(), cfg)
	}

	configFiles, release, err := newFollower(cfg, loader, gw, log)
	if err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return fmt.Errorf("gateway: watch the configuration: %w", err)
	}
	watching := make(chan struct{})
	gw.SetReloadFunc(configFiles.Reload)
	go func() { defer close(watching); defer release(); configFiles.Run(ctx) }()
	defer func() { cancel(); <-watching }()

	failed := make(chan error, 3)
	go func() { failed <- gw.Serve(ln) }()
	if edge.ln != nil {
		edge.served = true
		go func() { failed <- gw.ServeTLS(edge.ln) }()
		if err := edge.start(ctx); err != nil {
			log.Error(err.Error())
		}
	}
	if adminLn != nil {
		go func() {
			if err := gw.ServeAdmin(adminLn); err != nil {
				failed <- fmt.Errorf("gateway: admin: %w", err)
			}
		}()
	}
	log.Info("gateway serving", "listen", ln.Addr().String(), "tls", cfg.TLS.Listen, "admin", cfg.Admin,
		"routes", len(cfg.Routes), "config", cfg.File(), "version", version, "commit", buildCommit())
	if reg != nil {
		reg.Start() // in the background: a registry that is down never holds up serving
	}

wait:
	for {
		select {
		case <-hup:
			_, _ = configFiles.Reload("SIGHUP", false)
		case sig := <-stop:
			log.Info("gateway draining", "signal", sig.String(), "drain_timeout", gw.Config().Server.DrainTimeout.String())
			break wait
		case err := <-failed:
			return err
		}
	}

	// Out of the registry first, so that load balancers and the other
	// instances' counts move before /readyz turns 503 and connections
	// close.
	if reg != nil {
		reg.deregister(log)
	}
	// The hard deadline: the delay, then the drain; past it the process
	// exits whatever is still in flight.
	srv := gw.Config().Server
	drain, cancelDrain := context.WithTimeout(context.Background(), srv.ShutdownDelay+srv.DrainTimeout)
	defer cancelDrain()
	if err := gw.Shutdown(drain); err != nil {
		log.Warn("gateway: drain did not finish in time", "error", err.Error())
	}
	log.Info("gateway stopped")
	return nil
}

// warnPublicAdmin warns when the admin listener is reachable from other
// hosts while its configuration, reload and debug endpoints are open.
func warnPublicAdmin(log *slog.Logger, addr net.Addr, cfg *config.Config) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || ap.Addr().Unmap().IsLoopback() || cfg.AdminAuth != nil {
		return
	}
	log.Warn("gateway: the admin listener is reachable from other hosts without admin_auth: "+
		"/-/config, /-/routes, /-/reload and /debug/pprof are open to anyone who reaches it; "+
		"set admin_auth.token_file, turn admin_endpoints off, or listen on 127.0.0.1",
		"admin", addr.String())
}

// buildCommit is the commit of the build flags or, without one, the VCS
// revision go build stamped into the binary ("-dirty" when the tree had
// changes); "" when neither says.
func buildCommit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// discoverySources builds the registries the configuration names: this is
// the one place that knows the concrete adapters. Changing them needs a
// restart.
func discoverySources(cfg *config.Config, log *slog.Logger) (map[string]discovery.Watcher, func(), error) {
	sources := map[string]discovery.Watcher{}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	if c := cfg.Discovery.Consul; c != nil {
		w, err := consul.New(consul.Settings{
			Address: c.Address, Token: c.Token, Datacenter: c.Datacenter, Tag: c.Tag,
			Consistency: c.Consistency, IncludeFailing: c.IncludeFailing, WaitTime: c.WaitTime,
		})
		if err != nil {
			return nil, closeAll, fmt.Errorf("discovery.consul: %w", err)
		}
		sources[config.SourceConsul] = w
		closers = append(closers, w.Close)
	}
	if e := cfg.Discovery.Etcd; e != nil {
		w, err := etcd.New(etcd.Settings{
			Endpoints: e.Endpoints, Prefix: e.Prefix, DialTimeout: e.DialTimeout,
			Username: e.Username, Password: e.Password,
		})
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("discovery.etcd: %w", err)
		}
		sources[config.SourceEtcd] = w
		closers = append(closers, w.Close)
	}
	if len(sources) > 0 {
		log.Info("discovery sources", "count", len(sources))
	}
	return sources, closeAll, nil
}

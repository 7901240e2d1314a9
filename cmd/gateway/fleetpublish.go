package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/configsource/consul"
	"github.com/fastgate/gateway/configsource/etcd"
	"github.com/fastgate/gateway/gateway"
)

// cmdPublish validates a configuration file set as validate does, shows
// what changes from the version the fleet serves, and (unless -dry-run)
// publishes it as a new version that the fleet then serves. The
// publication holds only if the fleet's current version is still the one
// it started from.
func cmdPublish(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "an instance's configuration file: its config_source says where to publish")
	endpoints := fs.String("endpoints", "", "etcd endpoints, comma-separated (default "+etcd.DefaultEndpoint+", or -source's)")
	consulAddr := fs.String("consul", "", "publish to Consul KV through the agent at this address (host:port or URL) instead of etcd")
	prefix := fs.String("prefix", "", "the fleet's key prefix (default "+etcd.DefaultPrefix+" in etcd, "+consul.DefaultPrefix+" in Consul, or -source's)")
	dryRun := fs.Bool("dry-run", false, "validate and show the per-route diff against what the fleet serves; publish nothing")
	expect := fs.Int64("expect", -1, "publish only if the fleet's current version is this one (0: none yet)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "gateway publish: name one configuration file (its includes go with it)\n")
		return 2
	}
	target, err := publishTarget(*source, *endpoints, *consulAddr, *prefix)
	if err != nil {
		fmt.Fprintln(stderr, "gateway publish:", err)
		return 2
	}
	file := fs.Arg(0)
	files, cfg, err := versionFiles(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d routes, %d files)\n", file, len(cfg.Routes), len(files))

	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	pub, err := target()
	if err != nil {
		fmt.Fprintln(stderr, "gateway publish:", err)
		return 1
	}
	defer pub.Close()
	cur, err := pub.Current(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gateway publish:", err)
		return 1
	}
	if *expect >= 0 && cur.Version != *expect {
		fmt.Fprintf(stderr, "gateway publish: the fleet's current version is %d, not %d (-expect); nothing was written\n", cur.Version, *expect)
		return 1
	}
	printFleetDiff(ctx, stdout, pub, cur, cfg)
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was published")
		return 0
	}
	n, err := pub.Publish(ctx, files, cur, publisherName())
	if errors.Is(err, configsource.ErrConflict) {
		fmt.Fprintf(stderr, "gateway publish: %v; started from version %d: check the diff again (-dry-run) and publish again\n", err, cur.Version)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "gateway publish:", err)
		return 1
	}
	fmt.Fprintf(stdout, "published version %d (was %d)\n", n, cur.Version)
	return 0
}

// publishTarget is where to publish: -source's config_source, with
// -endpoints (etcd) or -consul, and -prefix, over it.
func publishTarget(source, endpoints, consulAddr, prefix string) (func() (configsource.Publisher, error), error) {
	var cs *config.ConfigSource
	if source != "" {
		cfg, err := config.Load(source)
		if err != nil {
			return nil, err
		}
		if cfg.ConfigSource == nil {
			return nil, fmt.Errorf("%s has no config_source", source)
		}
		cs = cfg.ConfigSource
	}
	if endpoints != "" && consulAddr != "" {
		return nil, errors.New("-endpoints is etcd's, -consul Consul's: name one")
	}
	if consulAddr != "" || (endpoints == "" && cs != nil && cs.Consul != nil) {
		var conn consul.Conn
		if cs != nil && cs.Consul != nil {
			conn = consulConn(cs.Consul)
		}
		if consulAddr != "" {
			conn.Address = consulAddr
		}
		if prefix != "" {
			if strings.HasPrefix(prefix, "/") {
				return nil, fmt.Errorf("-prefix %q: a Consul KV path has no leading \"/\"", prefix)
			}
			conn.Prefix = prefix
		}
		return func() (configsource.Publisher, error) { return consul.NewPublisher(conn) }, nil
	}
	var conn etcd.Conn
	if cs != nil && cs.Etcd != nil {
		conn = etcdConn(cs.Etcd)
	}
	if endpoints != "" {
		conn.Endpoints = strings.Split(endpoints, ",")
	}
	if prefix != "" {
		if !strings.HasPrefix(prefix, "/") {
			return nil, fmt.Errorf("-prefix %q: must start with \"/\"", prefix)
		}
		conn.Prefix = prefix
	}
	return func() (configsource.Publisher, error) { return etcd.NewPublisher(conn) }, nil
}

// versionFiles loads the configuration at file with every check of
// validate, and returns its files as a version holds them: the main file
// as configsource.MainFile, the included ones by their path relative to
// it. The version is loaded back as instances load it, so that what
// passes here loads there.
func versionFiles(file string) (map[string][]byte, *config.Config, error) {
	cfg, err := config.Load(file, gateway.RouteConflicts)
	if err != nil {
		return nil, nil, err
	}
	if _, err := gateway.CheckWith(cfg, gateway.CheckOptions{GRPC: checkGRPCRoute}); err != nil {
		return nil, nil, err
	}
	if cfg.ConfigSource != nil {
		return nil, nil, fmt.Errorf("%s: config_source is each instance's own setting; publish a file without it", file)
	}
	all := cfg.Files()
	dir := filepath.Dir(all[0])
	files := make(map[string][]byte, len(all))
	for i, f := range all {
		name := configsource.MainFile
		if i > 0 {
			rel, err := filepath.Rel(dir, f)
			if err != nil || strings.HasPrefix(rel, "..") {
				return nil, nil, fmt.Errorf("%s: included from outside the main file's directory %s; a version holds the files below it", f, dir)
			}
			name = filepath.ToSlash(rel)
		}
		if _, dup := files[name]; dup {
			return nil, nil, fmt.Errorf("%s: a version names its main file %s; rename the included file", f, configsource.MainFile)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		files[name] = b
	}
	v := configsource.Version{Files: files}
	local := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	if _, err := v.Load(local, gateway.RouteConflicts); err != nil {
		return nil, nil, fmt.Errorf("%s does not load as a published version: %w", file, err)
	}
	return files, cfg, nil
}

// printFleetDiff prints, route by route, what changes from the version
// the fleet serves to cfg (the digests of validate -diff).
func printFleetDiff(ctx context.Context, w io.Writer, pub configsource.Publisher, cur configsource.Current, cfg *config.Config) {
	next := gateway.DigestOf(cfg)
	serving := gateway.Digest{Routes: map[string]string{}, Listen: next.Listen, Admin: next.Admin}
	if cur.Version > 0 {
		v, err := pub.Read(ctx, cur.Version)
		var scfg *config.Config
		if err == nil {
			scfg, err = v.Load(func(name string) string { return pub.Key(v.Number, name) }, gateway.RouteConflicts)
		}
		if err != nil {
			// The fleet refuses it too and serves an older one: a fix
			// must still go out.
			fmt.Fprintf(w, "  note: version %d does not load (%s); the diff is against no routes\n",
				cur.Version, strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			serving = gateway.DigestOf(scfg)
		}
	}
	lines := gateway.DiffDigests(serving, next)
	fmt.Fprintf(w, "  against version %d that the fleet serves:\n", cur.Version)
	if len(lines) == 0 {
		fmt.Fprintln(w, "  no change")
	}
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}

// publisherName says who published, for the version's manifest.
func publisherName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

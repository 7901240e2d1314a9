// Command gateway is an API gateway: an edge proxy configured in YAML.
//
//	gateway run -config FILE        serve
//	gateway validate FILE...        check configuration files, print every error
//	gateway version                 print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage:
  gateway run [-config FILE] [-log-level LEVEL] [-log-format text|json]
  gateway validate FILE...
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
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "gateway %s\n", version)
		return 0
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "gateway validate: name at least one file\n")
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		cfg, err := config.Load(file)
		if err == nil {
			err = gateway.Check(cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d routes)\n", file, len(cfg.Routes))
	}
	return code
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
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := serve(cfg, log); err != nil {
		log.Error(err.Error())
		return 1
	}
	return 0
}

// serve runs the gateway until SIGINT or SIGTERM, then drains it.
func serve(cfg *config.Config, log *slog.Logger) error {
	// Listen for signals before anything can be told to stop us.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)

	gw, err := gateway.New(cfg, gateway.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	var admin *http.Server
	var adminLn net.Listener
	if cfg.Admin != "off" {
		adminLn, err = net.Listen("tcp", cfg.Admin)
		if err != nil {
			ln.Close()
			return fmt.Errorf("gateway: admin listen: %w", err)
		}
		admin = &http.Server{Handler: gw.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	}

	failed := make(chan error, 2)
	go func() { failed <- gw.Serve(ln) }()
	if admin != nil {
		go func() {
			if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("gateway: admin: %w", err)
			}
		}()
	}
	log.Info("gateway serving", "listen", ln.Addr().String(), "admin", cfg.Admin,
		"routes", len(cfg.Routes), "config", cfg.File(), "version", version)

	select {
	case sig := <-stop:
		log.Info("gateway draining", "signal", sig.String(), "drain_timeout", cfg.Server.DrainTimeout.String())
	case err := <-failed:
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.DrainTimeout)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		log.Warn("gateway: drain did not finish in time", "error", err.Error())
	}
	if admin != nil {
		_ = admin.Close()
	}
	log.Info("gateway stopped")
	return nil
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

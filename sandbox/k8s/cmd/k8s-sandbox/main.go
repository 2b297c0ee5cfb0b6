// Command k8s-sandbox drives the sandbox Kubernetes cluster from a shell or
// a Makefile, for when the flightdeck binary itself is not wanted:
//
//	go run ./sandbox/k8s/cmd/k8s-sandbox build|up|status|down
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flightdeckhq/flightdeck/sandbox/k8s"
)

func main() {
	var o k8s.Options
	flag.StringVar(&o.StateDir, "state-dir", "", "sandbox state directory (default $XDG_STATE_HOME/flightdeck/sandbox)")
	flag.StringVar(&o.CacheDir, "cache-dir", "", "binary cache (default $XDG_CACHE_HOME/flightdeck/k8s/"+k8s.KubeVersion+")")
	flag.StringVar(&o.Name, "name", k8s.DefaultName, "cluster name")
	flag.StringVar(&o.ToolsDir, "tools-dir", "", "the sandbox/k8s/tools module (default: found from the working directory)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: k8s-sandbox [flags] build|up|status|down\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, flag.Arg(0), o); err != nil {
		fmt.Fprintf(os.Stderr, "k8s-sandbox %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}

func run(ctx context.Context, verb string, o k8s.Options) error {
	start := time.Now()
	switch verb {
	case "build":
		b, err := k8s.EnsureBinaries(ctx, o)
		if err != nil {
			return err
		}
		fmt.Println(b.Dir)
	case "up":
		c, err := k8s.Up(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sandbox cluster %q up in %s\n", c.Name, time.Since(start).Round(100*time.Millisecond))
		fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	case "status":
		running, detail, err := k8s.Status(ctx, o)
		if err != nil {
			return err
		}
		fmt.Println(detail)
		if !running {
			os.Exit(3)
		}
	case "down":
		return k8s.Down(ctx, o)
	default:
		return fmt.Errorf("unknown command %q (want build, up, status or down)", verb)
	}
	return nil
}

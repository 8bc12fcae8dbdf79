// Command kvbench measures secret writes and reads, and key operations,
// against a real KeyVault server over HTTPS.
//
// It builds ./cmd/keyvault (or takes -server-bin) and runs it as a child
// process with its default settings, on a temporary data directory and a
// free port of 127.0.0.1. It reads credentials.json and ca.pem from that
// directory and gets one access token. Then it drives -conns keep-alive
// HTTP/1.1 connections, with one goroutine and one http.Transport each.
// Every connection dials 127.0.0.1:PORT whatever the host name in the URL
// (default.vault.localhost:PORT), so no host name is ever looked up.
//
// Phases:
//
//	set          PUT /secrets/{guid}?api-version=7.4 with {"value": guid}
//	get          GET /secrets/{name}/?api-version=7.4 of names written before, in random order
//	healthz      GET /healthz: no authentication, audit or store, the floor of every request
//	sign-rsa     POST /keys/kvbench-sign-rsa/{version}/sign, RS256 of a random 32-byte digest
//	sign-ec      POST /keys/kvbench-sign-ec/{version}/sign, ES256 of a random 32-byte digest
//	encrypt-aes  POST /keys/kvbench-encrypt-aes/{version}/encrypt, A256GCM of 32 random bytes
//
// A key phase first creates its key (RSA-2048, P-256 or a 256-bit oct key)
// and checks one operation with it. It checks every response's kid and the
// size of its value, and verifies one signature in 16 with the key's public
// JWK. With -direct (the default) it then runs the same operation on the Go
// crypto library in GOMAXPROCS goroutines of kvbench for the same time,
// while the server is idle, and prints the ratio of the two throughputs.
//
// -server-cpus and -client-cpus pin the server (with the direct operations)
// and kvbench to separate CPUs, and -rounds alternates a key phase's load
// and direct run several times and prints the median of their ratios.
//
// Each phase runs a warm-up, whose requests are left out of the figures, and
// then a measured window of -duration (or -requests requests). For the window
// it prints the request count, throughput and latency percentiles. It also
// prints the CPU time, read from /proc, of the server process, of kvbench
// itself and of every other process on the machine, which shows how the
// cores were shared.
// Any failed request makes kvbench exit with status 1. kvbench runs on Linux
// only, because it reads /proc.
//
// Usage, from the repository root:
//
//	go run ./cmd/kvbench -duration 10s
//	go run ./cmd/kvbench -phases sign-rsa,sign-ec,encrypt-aes -duration 10s
//	go run ./cmd/kvbench -phases sign-rsa -conns 8 -server-cpus 0 -client-cpus 1 -rounds 15 -duration 3s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type options struct {
	conns      int
	duration   time.Duration
	warmup     time.Duration
	requests   int
	phases     []string
	serverBin  string
	jsonOutput bool
	prefill    int
	keep       bool
	parentDir  string
	perfPrefix string
	direct     bool
	rounds     int
	http2      bool
	serverCPUs []int
	clientCPUs []int

	// Set in the child kvbench that runs the direct operations on the
	// server's CPUs.
	directChild     string
	directServerPID int
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kvbench", flag.ContinueOnError)
	fs.IntVar(&o.conns, "conns", 32, "number of keep-alive HTTP/1.1 connections, each driven by one goroutine")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each phase (also the time limit when -requests is set)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "time each phase runs before measuring starts; its requests are left out of the figures")
	fs.IntVar(&o.requests, "requests", 0, "end each phase's measured window after this many requests (0: run for -duration)")
	phases := fs.String("phases", "set,get", "comma-separated phases to run in order: set, get, healthz, sign-rsa, sign-ec, encrypt-aes")
	fs.StringVar(&o.serverBin, "server-bin", "", "keyvault binary `file` to run (default: go build ./cmd/keyvault into the temporary directory)")
	fs.BoolVar(&o.jsonOutput, "json", false, "print one JSON object per phase on standard output instead of text")
	fs.IntVar(&o.prefill, "prefill", 1000, "secrets to write, unmeasured, before a get phase that has no set phase before it")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (data directory and server log) after the run")
	fs.StringVar(&o.parentDir, "dir", "", "`directory` to create the temporary directory in, on the disk to measure (default: $TMPDIR or /tmp)")
	fs.BoolVar(&o.direct, "direct", true, "after each key phase, run its operation on the Go crypto library in GOMAXPROCS goroutines for -duration, with the server idle")
	fs.StringVar(&o.perfPrefix, "perf-record", "", "record a perf CPU profile of the server during each measured window into `PREFIX`-PHASE.data (needs perf)")

	fs.BoolVar(&o.http2, "http2", false, "send the measured requests as HTTP/2 streams over one connection, as the Azure SDK for Go does, instead of -conns HTTP/1.1 connections")
	fs.IntVar(&o.rounds, "rounds", 1, "measured windows of each key phase, each followed by its direct run, and the median ratio printed at the end")
	serverCPUs := fs.String("server-cpus", "", "run the server, and the direct operations, on these CPUs only (a `list` such as 0 or 0-1); GOMAXPROCS follows")
	clientCPUs := fs.String("client-cpus", "", "run kvbench's load on these CPUs only (a `list`); use CPUs other than -server-cpus to keep the two apart")
	fs.StringVar(&o.directChild, "direct-child", "", "internal: run only the direct operations of this `phase` and print them as JSON")
	fs.IntVar(&o.directServerPID, "direct-server-pid", 0, "internal: the server `pid` whose CPU a -direct-child run reports")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.serverCPUs, err = parseCPUList(*serverCPUs); err != nil {
		return nil, fmt.Errorf("-server-cpus: %w", err)
	}
	if o.clientCPUs, err = parseCPUList(*clientCPUs); err != nil {
		return nil, fmt.Errorf("-client-cpus: %w", err)
	}
	if o.directChild != "" {
		if !isKeyPhase(o.directChild) || o.directServerPID <= 0 {
			return nil, fmt.Errorf("-direct-child needs a key phase and -direct-server-pid")
		}
		return o, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: kvbench takes flags only", fs.Arg(0))
	}

	if o.conns < 1 || o.conns > 4096 {
		return nil, fmt.Errorf("-conns must be from 1 to 4096, got %d", o.conns)
	}
	if o.duration <= 0 || o.duration > time.Hour {
		return nil, fmt.Errorf("-duration must be positive and at most 1h, got %s", o.duration)
	}
	if o.warmup < 0 || o.warmup > 10*time.Minute {
		return nil, fmt.Errorf("-warmup must be from 0 to 10m, got %s", o.warmup)
	}
	if o.rounds < 1 || o.rounds > 100 {
		return nil, fmt.Errorf("-rounds must be from 1 to 100, got %d", o.rounds)
	}
	if o.requests < 0 || o.prefill < 1 {
		return nil, fmt.Errorf("-requests must not be negative and -prefill must be at least 1")
	}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if p != "set" && p != "get" && p != "healthz" && !isKeyPhase(p) {
			return nil, fmt.Errorf("-phases: unknown phase %q: use set, get, healthz, sign-rsa, sign-ec or encrypt-aes, separated by commas", p)
		}
		o.phases = append(o.phases, p)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if o.directChild != "" {
		err := runDirectChild(ctx, o)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kvbench -direct-child:", err)
			os.Exit(1)
		}
		return
	}
	failed, err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench: error:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// run starts the server, runs the phases and stops the server. failed is
// true when any request or the server's shutdown failed.
func run(ctx context.Context, o *options) (failed bool, err error) {
	dir, err := os.MkdirTemp(o.parentDir, "kvbench-")
	if err != nil {
		return false, err
	}
	if o.keep {
		defer fmt.Fprintln(os.Stderr, "kvbench: kept", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	if len(o.clientCPUs) > 0 {
		if err := pinSelf(o.clientCPUs); err != nil {
			return false, err
		}
	}
	bin := o.serverBin
	if bin == "" {
		if bin, err = buildServer(ctx, dir); err != nil {
			return false, err
		}
	}
	srv, err := startServer(ctx, bin, dir, o.serverCPUs)
	if err != nil {
		return false, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil {
			fmt.Fprintln(os.Stderr, "kvbench: server shutdown:", serr)
			failed = true
		}
		if errs, warns, lines := srv.logProblems(); errs+warns > 0 {
			fmt.Fprintf(os.Stderr, "kvbench: the server log has %d ERROR and %d WARN lines, the first:\n%s", errs, warns, lines)
			failed = failed || errs > 0
		}
	}()

	token, err := srv.fetchToken(ctx)
	if err != nil {
		return false, err
	}
	info := os.Stdout
	if o.jsonOutput {
		info = os.Stderr
	}
	fmt.Fprintf(info, "kvbench: server pid %d at %s, %s, %d CPUs, kvbench GOMAXPROCS %d, CPU clock %d ticks/s\n",
		srv.cmd.Process.Pid, srv.vaultURL, runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0), clockTicks)
	serverOn, err := allowedCPUs(srv.cmd.Process.Pid)
	if err != nil {
		return false, err
	}
	selfOn, err := allowedCPUs(os.Getpid())
	if err != nil {
		return false, err
	}
	fmt.Fprintf(info, "kvbench: server on CPUs %s, kvbench on CPUs %s\n", serverOn, selfOn)

	b := &bench{opts: o, srv: srv, token: token}
	for _, phase := range o.phases {
		results, err := b.runPhase(ctx, phase)
		if err != nil {
			return true, err
		}
		for _, res := range results {
			if o.jsonOutput {
				err = res.writeJSON(os.Stdout)
			} else {
				res.writeText(os.Stdout)
			}
			if err != nil {
				return true, err
			}
			res.writeRedials(os.Stderr)
			if res.Errors > 0 {
				failed = true
				res.writeErrorSamples(os.Stderr)
			}
		}
		writeRatioSummary(info, results)
		if ctx.Err() != nil {
			return true, fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	return failed, nil
}

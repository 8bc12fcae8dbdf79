package main

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	apiVersion = "7.4"
	// requestTimeout bounds one request, and so how long the end of a phase
	// waits for the requests in flight.
	requestTimeout = 30 * time.Second
	// prefillTimeout bounds the unmeasured writes before a lone get phase.
	prefillTimeout = 5 * time.Minute
	// errorPause slows a worker down after a failed request, so that a
	// server that refuses connections is not hit in a tight loop.
	errorPause = 10 * time.Millisecond
)

// bench is one run of kvbench against one server.
type bench struct {
	opts  *options
	srv   *serverProcess
	token string
	// names are the secrets written so far, which get phases read.
	names []string
}

// operation sends one request. It returns the name of the secret it wrote,
// or "" when it wrote none.
type operation func(ctx context.Context, c *http.Client) (written string, err error)

// Phase states, shared by the workers of a phase.
const (
	stateWarmup int32 = iota
	stateMeasure
	stateStop
)

// phaseControl is shared by the workers of one phase.
type phaseControl struct {
	state   atomic.Int32
	limited bool
	tickets atomic.Int64 // measured requests still to start, when limited
	dials   atomic.Int64 // connections opened

	mu      sync.Mutex
	redials []string // errors seen on the connection before each repeated dial

	shared *http.Client // with -http2: the one client all workers use
}

// trackedConn is a connection that records its first read and write
// errors, which show why it ended when its transport has to dial again.
type trackedConn struct {
	net.Conn
	mu       sync.Mutex
	readErr  error
	writeErr error
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.record(&c.readErr, err)
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.record(&c.writeErr, err)
	}
	return n, err
}

func (c *trackedConn) record(first *error, err error) {
	c.mu.Lock()
	if *first == nil {
		*first = err
	}
	c.mu.Unlock()
}

// endReason describes the errors seen on the connection so far. A
// connection without errors was closed by the client's transport, or its
// error had not been returned yet when the transport dialed again.
func (c *trackedConn) endReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.readErr != nil && c.writeErr != nil:
		return fmt.Sprintf("read: %v; write: %v", c.readErr, c.writeErr)
	case c.readErr != nil:
		return fmt.Sprintf("read: %v", c.readErr)
	case c.writeErr != nil:
		return fmt.Sprintf("write: %v", c.writeErr)
	}
	return "no read or write error seen"
}

// newDialHook returns an onDial function for one worker's transport: it
// counts the connections opened and, when a connection replaces an earlier
// one, records how the earlier one ended.
func (ctl *phaseControl) newDialHook() func(net.Conn) net.Conn {
	var mu sync.Mutex
	var last *trackedConn
	return func(c net.Conn) net.Conn {
		ctl.dials.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if last != nil {
			reason := last.endReason()
			ctl.mu.Lock()
			ctl.redials = append(ctl.redials, reason)
			ctl.mu.Unlock()
		}
		last = &trackedConn{Conn: c}
		return last
	}
}

// workerStats are one worker's counts; only the worker writes them.
type workerStats struct {
	latencies []time.Duration // of successful measured requests
	errors    int             // failed requests, warm-up included
	samples   []string        // the first failures
	written   []string        // names of secrets written successfully
}

// runPhase runs one phase (set, get or a key phase) and returns its figures:
// one result, or one per round for a key phase with -rounds.
func (b *bench) runPhase(ctx context.Context, phase string) ([]*phaseResult, error) {
	var op operation
	switch phase {
	case "set":
		op = b.setSecret
	case "get":
		if len(b.names) == 0 {
			if err := b.prefill(ctx); err != nil {
				return nil, err
			}
		}
		op = b.getSecretOp()
	case "healthz":
		op = b.healthz
	default:
		if isKeyPhase(phase) {
			return b.runKeyPhase(ctx, phase)
		}
		return nil, fmt.Errorf("unknown phase %q", phase)
	}
	res, err := b.measure(ctx, phase, op, b.opts.warmup, b.opts.duration, b.opts.requests, b.opts.perfPrefix)
	if err != nil {
		return nil, err
	}
	return []*phaseResult{res}, nil
}

// prefill writes -prefill secrets without measuring, for a get phase that
// has no set phase before it.
func (b *bench) prefill(ctx context.Context) error {
	res, err := b.measure(ctx, "prefill", b.setSecret, 0, prefillTimeout, b.opts.prefill, "")
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		res.writeErrorSamples(os.Stderr)
		return fmt.Errorf("prefill: %d of %d writes failed", res.Errors, b.opts.prefill)
	}
	return nil
}

// measure runs op on every connection: first for warmup, unmeasured, then
// for duration or until limit requests have started (when limit > 0). The
// window ends when the last request in flight has finished, so the CPU time
// read at its end includes the work of every request counted.
func (b *bench) measure(ctx context.Context, phase string, op operation, warmup, duration time.Duration, limit int, perfPrefix string) (*phaseResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctl := &phaseControl{limited: limit > 0}
	ctl.tickets.Store(int64(limit))
	if b.opts.http2 {
		// One HTTP/2 connection carries every worker's requests as streams.
		tr := b.srv.newTransport(ctl.newDialHook(), true)
		defer tr.CloseIdleConnections()
		ctl.shared = &http.Client{Transport: tr, Timeout: requestTimeout}
	}
	stats := make([]workerStats, b.opts.conns)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.work(ctx, ctl, op, &stats[i])
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	stopWorkers := func() {
		ctl.state.Store(stateStop)
		<-allDone
	}

	// Warm-up: connections open, TLS handshakes finish, caches fill.
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
	case <-allDone:
	}

	var perf *perfRecorder
	if perfPrefix != "" {
		var err error
		if perf, err = startPerf(b.srv.cmd.Process.Pid, perfPrefix+"-"+phase+".data"); err != nil {
			stopWorkers()
			return nil, err
		}
	}
	before, err := sampleCPU(b.srv.cmd.Process.Pid)
	if err != nil {
		stopWorkers()
		return nil, err
	}
	ctl.state.Store(stateMeasure)

	timer := time.NewTimer(duration)
	select {
	case <-timer.C:
	case <-allDone:
	case <-ctx.Done():
	}
	timer.Stop()
	stopWorkers()
	after, err := sampleCPU(b.srv.cmd.Process.Pid)
	if perf != nil {
		if perr := perf.stop(); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return nil, err
	}

	res := summarize(phase, stats, before, after)
	res.Connections = b.opts.conns
	res.ConnectionsOpened = ctl.dials.Load()
	ctl.mu.Lock()
	res.redials = ctl.redials
	ctl.mu.Unlock()
	res.WarmupSeconds = warmup.Seconds()
	for i := range stats {
		b.names = append(b.names, stats[i].written...)
	}
	return res, nil
}

// work is one connection's loop: it sends op until the phase stops.
func (b *bench) work(ctx context.Context, ctl *phaseControl, op operation, st *workerStats) {
	c := ctl.shared
	if c == nil {
		tr := b.srv.newTransport(ctl.newDialHook(), false)
		defer tr.CloseIdleConnections()
		c = &http.Client{Transport: tr, Timeout: requestTimeout}
	}
	for ctx.Err() == nil {
		state := ctl.state.Load()
		if state == stateStop {
			return
		}
		if state == stateMeasure && ctl.limited && ctl.tickets.Add(-1) < 0 {
			return
		}

		start := time.Now()
		written, err := op(ctx, c)
		elapsed := time.Since(start)

		if err != nil && ctx.Err() != nil {
			return // interrupted: the request was cancelled, not failed
		}
		if err != nil {
			st.errors++
			if len(st.samples) < 3 {
				st.samples = append(st.samples, err.Error())
			}
			time.Sleep(errorPause)
			continue
		}
		if written != "" {
			st.written = append(st.written, written)
		}
		if state == stateMeasure {
			st.latencies = append(st.latencies, elapsed)
		}
	}
}

// setSecret writes a new secret named by a random GUID, whose value is its
// name.
func (b *bench) setSecret(ctx context.Context, c *http.Client) (string, error) {
	name := newGUID()
	body := `{"value":"` + name + `"}`
	target := b.srv.vaultURL + "/secrets/" + name + "?api-version=" + apiVersion
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := b.send(c, req, name); err != nil {
		return "", err
	}
	return name, nil
}

// getSecretOp returns an operation that reads the latest version of the
// secrets written so far, in a random order shared by all workers: every
// name is read once before any is read again.
func (b *bench) getSecretOp() operation {
	order := append([]string(nil), b.names...)
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var next atomic.Uint64
	return func(ctx context.Context, c *http.Client) (string, error) {
		name := order[(next.Add(1)-1)%uint64(len(order))]
		target := b.srv.vaultURL + "/secrets/" + name + "/?api-version=" + apiVersion
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return "", err
		}
		return "", b.send(c, req, name)
	}
}

// healthz reads /healthz, which the server serves before any
// authentication, audit or store access: its cost is the floor of every
// request, HTTPS and the server's routing.
func (b *bench) healthz(ctx context.Context, c *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.vaultURL+"/healthz", nil)
	if err != nil {
		return "", err
	}
	body, err := b.do(c, req)
	if err != nil {
		return "", err
	}
	if string(body) != "ok\n" {
		return "", fmt.Errorf("GET /healthz: body %q, want \"ok\\n\"", body)
	}
	return "", nil
}

// send sends req with the access token and checks that the response is 200
// with the secret bundle of name, whose value kvbench sets to the name.
func (b *bench) send(c *http.Client, req *http.Request, name string) error {
	body, err := b.do(c, req)
	if err != nil {
		return err
	}
	if !bytes.Contains(body, []byte(`"value":"`+name+`"`)) {
		return fmt.Errorf("%s %s: the response does not contain the value %q: %.300s", req.Method, req.URL.Path, name, body)
	}
	return nil
}

// do sends req with the access token, checks that the response is a 200
// over HTTP/1.1 and returns its body.
func (b *bench) do(c *http.Client, req *http.Request) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d, want 200: %.300s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	if want := b.protoMajor(); resp.ProtoMajor != want {
		return nil, fmt.Errorf("%s %s: response protocol %s, want HTTP/%d", req.Method, req.URL.Path, resp.Proto, want)
	}
	return body, nil
}

// protoMajor is the HTTP version every measured response must have.
func (b *bench) protoMajor() int {
	if b.opts.http2 {
		return 2
	}
	return 1
}

// newGUID returns a random (version 4) GUID in its 36-character text form.
func newGUID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

// perfRecorder is a `perf record` process sampling the server.
type perfRecorder struct {
	cmd  *exec.Cmd
	path string
}

// startPerf samples the call stacks of pid at 499 Hz into path until stop.
func startPerf(pid int, path string) (*perfRecorder, error) {
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start perf record (is perf installed?): %w", err)
	}
	return &perfRecorder{cmd: cmd, path: path}, nil
}

// stop ends the recording with SIGINT, which makes perf write its file, and
// kills perf if it has not exited within 30 seconds.
func (p *perfRecorder) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stop perf record: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		// perf writes its file on SIGINT and then ends itself by the same
		// signal, which is a success.
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGINT {
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("perf record %s: %w", p.path, err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return fmt.Errorf("perf record %s did not stop within 30 s of SIGINT and was killed", p.path)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// phaseResult is the figures of one phase's measured window.
type phaseResult struct {
	Phase             string    `json:"phase"`
	Round             int       `json:"round,omitempty"` // 1 to Rounds, with -rounds above 1
	Rounds            int       `json:"rounds,omitempty"`
	Connections       int       `json:"connections"`
	ConnectionsOpened int64     `json:"connectionsOpened"`
	WarmupSeconds     float64   `json:"warmupSeconds"`
	Seconds           float64   `json:"seconds"`
	Requests          int       `json:"requests"` // successful requests in the window
	Errors            int       `json:"errors"`   // failed requests, warm-up included
	Throughput        float64   `json:"requestsPerSecond"`
	LatencyMs         latencyMs `json:"latencyMs"`

	// CPU use in the window: cores busy on average, and CPU time per
	// successful request in microseconds.
	ServerCores         float64 `json:"serverCores"`
	ServerCPUPerRequest float64 `json:"serverCpuUsPerRequest"`
	BenchCores          float64 `json:"kvbenchCores"`
	BenchCPUPerRequest  float64 `json:"kvbenchCpuUsPerRequest"`
	OtherCores          float64 `json:"otherCores"` // every other process on the machine
	StealCores          float64 `json:"stealCores"` // taken by the hypervisor

	// Key phases only: the key version used, the signatures checked
	// locally (warm-up included) and the direct run of the operation.
	Kid                string        `json:"kid,omitempty"`
	SignaturesVerified int64         `json:"signaturesVerified,omitempty"`
	Direct             *directResult `json:"direct,omitempty"`

	errorSamples []string
	redials      []string // errors seen on each replaced connection
}

// latencyMs are latency percentiles in milliseconds.
type latencyMs struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// summarize merges the workers' counts and the CPU readings taken at the
// start and end of the measured window.
func summarize(phase string, stats []workerStats, before, after cpuSample) *phaseResult {
	var all []time.Duration
	r := &phaseResult{Phase: phase}
	for i := range stats {
		all = append(all, stats[i].latencies...)
		r.Errors += stats[i].errors
		r.errorSamples = append(r.errorSamples, stats[i].samples...)
	}
	if len(r.errorSamples) > 5 {
		r.errorSamples = r.errorSamples[:5]
	}
	slices.Sort(all)
	r.Requests = len(all)
	window := after.at.Sub(before.at)
	r.Seconds = window.Seconds()
	if r.Seconds > 0 {
		r.Throughput = float64(r.Requests) / r.Seconds
	}
	r.LatencyMs = latencyMs{
		P50: milliseconds(percentile(all, 0.50)),
		P90: milliseconds(percentile(all, 0.90)),
		P99: milliseconds(percentile(all, 0.99)),
		Max: milliseconds(percentile(all, 1)),
	}

	server := after.server - before.server
	self := after.self - before.self
	busy := after.busy - before.busy
	r.ServerCores = cores(server, window)
	r.BenchCores = cores(self, window)
	r.OtherCores = math.Max(0, cores(busy-server-self, window))
	r.StealCores = cores(after.steal-before.steal, window)
	if r.Requests > 0 {
		r.ServerCPUPerRequest = float64(server.Microseconds()) / float64(r.Requests)
		r.BenchCPUPerRequest = float64(self.Microseconds()) / float64(r.Requests)
	}
	return r
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func milliseconds(d time.Duration) float64 {
	return math.Round(float64(d.Microseconds())) / 1000
}

func cores(cpu, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return cpu.Seconds() / window.Seconds()
}

func (r *phaseResult) writeText(w io.Writer) {
	name := r.Phase
	if r.Rounds > 1 {
		name = fmt.Sprintf("%s (round %d of %d)", r.Phase, r.Round, r.Rounds)
	}
	fmt.Fprintf(w, "%s: %d connections (%d opened), %.2f s measured after %.1f s of warm-up\n",
		name, r.Connections, r.ConnectionsOpened, r.Seconds, r.WarmupSeconds)
	fmt.Fprintf(w, "  requests    %d succeeded, %d failed\n", r.Requests, r.Errors)
	fmt.Fprintf(w, "  throughput  %.0f req/s\n", r.Throughput)
	fmt.Fprintf(w, "  latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	fmt.Fprintf(w, "  server CPU  %.0f us/request, %.2f cores\n", r.ServerCPUPerRequest, r.ServerCores)
	fmt.Fprintf(w, "  kvbench CPU %.0f us/request, %.2f cores\n", r.BenchCPUPerRequest, r.BenchCores)
	fmt.Fprintf(w, "  other CPU   %.2f cores (other processes), %.2f cores steal\n", r.OtherCores, r.StealCores)
	if r.Kid != "" {
		fmt.Fprintf(w, "  key         %s\n", r.Kid)
	}
	if r.SignaturesVerified > 0 {
		fmt.Fprintf(w, "  signatures  %d verified locally with the public JWK (1 in %d, warm-up included)\n", r.SignaturesVerified, verifyEvery)
	}
	if r.Direct != nil {
		r.Direct.writeText(w)
	}
}

func (r *phaseResult) writeJSON(w io.Writer) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", raw)
	return err
}

// writeRedials explains connections opened beyond one per worker, which
// happen when the server or the network closes a connection.
func (r *phaseResult) writeRedials(w io.Writer) {
	if len(r.redials) == 0 {
		return
	}
	fmt.Fprintf(w, "kvbench: phase %s: %d connections were replaced; errors seen on the replaced connections:", r.Phase, len(r.redials))
	for i, reason := range r.redials {
		if i == 5 {
			fmt.Fprint(w, " ...")
			break
		}
		fmt.Fprintf(w, " [%s]", reason)
	}
	fmt.Fprintln(w)
}

// writeErrorSamples prints the first failures of a phase.
func (r *phaseResult) writeErrorSamples(w io.Writer) {
	fmt.Fprintf(w, "kvbench: phase %s: %d requests failed, the first:\n", r.Phase, r.Errors)
	for _, s := range r.errorSamples {
		fmt.Fprintln(w, "  ", s)
	}
}

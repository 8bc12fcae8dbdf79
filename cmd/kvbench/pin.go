package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseCPUList parses a CPU list as taskset and /proc write it: numbers and
// ranges separated by commas, such as "0", "1-3" or "0,2". An empty list
// means no pinning.
func parseCPUList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var cpus []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		// CPU numbers need not be below NumCPU, which counts the CPUs this
		// process may use; the kernel rejects a set with none it may use.
		if err != nil || first < 0 || last < first || last >= maxCPUs {
			return nil, fmt.Errorf("invalid CPU list %q: use numbers from 0 to %d and ranges such as 0-1, separated by commas", s, maxCPUs-1)
		}
		for c := first; c <= last; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	return cpus, nil
}

// maxCPUs is the number of CPUs a unix.CPUSet holds.
const maxCPUs = len(unix.CPUSet{}) * 64

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// pinSelf restricts every thread of kvbench to cpus and sets GOMAXPROCS to
// their number. Threads started later inherit the affinity of the thread
// that starts them, so the whole process stays on cpus.
func pinSelf(cpus []int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list the threads of kvbench (needs Linux /proc): %w", err)
	}
	set := cpuSet(cpus)
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d of kvbench to CPUs %v: %w", tid, cpus, err)
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// startPinned starts cmd on cpus (all CPUs kvbench may use when cpus is
// empty). A child takes the affinity of the thread that forks it, so the
// forking thread switches to cpus for the fork and back after it. Go sizes
// GOMAXPROCS from that affinity, so a Go child uses as many threads as it
// has CPUs.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		return fmt.Errorf("read the CPU affinity of kvbench: %w", err)
	}
	if err := unix.SchedSetaffinity(0, cpuSet(cpus)); err != nil {
		return fmt.Errorf("pin to CPUs %v for the child: %w", cpus, err)
	}
	startErr := cmd.Start()
	if err := unix.SchedSetaffinity(0, &own); err != nil {
		return fmt.Errorf("restore the CPU affinity of kvbench: %w", err)
	}
	if startErr != nil {
		return startErr
	}
	got, err := allowedCPUs(cmd.Process.Pid)
	if want := formatCPUs(cpus); err == nil && got != want {
		err = fmt.Errorf("child %d runs on CPUs %s, want %s", cmd.Process.Pid, got, want)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return err
}

// allowedCPUs returns the Cpus_allowed_list line of /proc/PID/status.
func allowedCPUs(pid int) (string, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for line := range bytes.Lines(raw) {
		if v, ok := bytes.CutPrefix(line, []byte("Cpus_allowed_list:")); ok {
			return string(bytes.TrimSpace(v)), nil
		}
	}
	return "", fmt.Errorf("%s has no Cpus_allowed_list line", path)
}

// formatCPUs writes cpus as the kernel writes a CPU list, with ranges.
func formatCPUs(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// runDirectPinned runs the direct operations of phase in a child kvbench
// pinned to the server's CPUs, so that the library and the server are
// measured on the same cores. The child prints its directResult as JSON.
func (b *bench) runDirectPinned(ctx context.Context, phase string) (*directResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-direct-child", phase,
		"-direct-server-pid", strconv.Itoa(b.srv.cmd.Process.Pid),
		"-warmup", b.opts.warmup.String(), "-duration", b.opts.duration.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := startPinned(cmd, b.opts.serverCPUs); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("direct run in a child kvbench: %w", err)
	}
	var r directResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("direct run in a child kvbench printed %q: %w", out.String(), err)
	}
	return &r, nil
}

// runDirectChild is kvbench -direct-child PHASE: it runs the direct
// operations of PHASE and prints the result as JSON.
func runDirectChild(ctx context.Context, o *options) error {
	r, err := runDirect(ctx, o.directChild, o.directServerPID, o.warmup, o.duration)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

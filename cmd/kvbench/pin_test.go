package main

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	last := runtime.NumCPU() - 1
	tests := []struct {
		in   string
		want []int
	}{
		{"", nil},
		{"0", []int{0}},
		{"0-" + strconv.Itoa(last), seq(0, last)},
		{"0,0", []int{0}},
		{" 0 ", []int{0}},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"x", "-1", "1-0", strconv.Itoa(maxCPUs), "0-", ","} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestFormatCPUs(t *testing.T) {
	tests := map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "0,2": {0, 2}, "0-1,3,5-6": {0, 1, 3, 5, 6}}
	for want, cpus := range tests {
		if got := formatCPUs(cpus); got != want {
			t.Errorf("formatCPUs(%v) = %q, want %q", cpus, got, want)
		}
	}
}

// TestStartPinned starts a child on CPU 0 only and checks the affinity the
// kernel reports for it.
func TestStartPinned(t *testing.T) {
	before, err := allowedCPUs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	if err := startPinned(cmd, []int{0}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	got, err := allowedCPUs(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if got != "0" {
		t.Errorf("child runs on CPUs %s, want 0", got)
	}
	own, err := allowedCPUs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if own != before {
		t.Errorf("the test process runs on CPUs %s after the start, want %s as before", own, before)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 values = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 values = %v, want 2.5", got)
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of the CPU times in /proc (USER_HZ), from
// `getconf CLK_TCK`. Linux reports 100 on the common architectures, and
// kvbench assumes 100 when getconf is missing.
var clockTicks = readClockTicks()

func readClockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

func ticksToDuration(ticks int64) time.Duration {
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks)
}

// cpuSample is a reading of cumulative CPU times at one moment.
type cpuSample struct {
	at     time.Time
	server time.Duration // user+system time of the server process
	self   time.Duration // user+system time of kvbench
	busy   time.Duration // all CPUs: user, nice, system, irq and softirq time
	steal  time.Duration // all CPUs: time the hypervisor ran something else
}

// sampleCPU reads the CPU times of the server process pid, of kvbench and of
// the whole machine. The /proc figures have a resolution of one clock tick
// (10 ms at 100 ticks/s).
func sampleCPU(pid int) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.server, err = processCPU(pid); err != nil {
		return s, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.busy, s.steal, err = machineCPU()
	return s, err
}

// processCPU returns utime+stime of pid from /proc/PID/stat. The fields are
// counted after the last ')', because the command name in parentheses may
// contain spaces: utime and stime are fields 14 and 15 of the line, so 12 and
// 13 after the name.
func processCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s (kvbench needs Linux /proc): %w", path, err)
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name in %q", path, raw)
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the command name, want at least 13", path, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: invalid utime %q or stime %q", path, fields[11], fields[12])
	}
	return ticksToDuration(utime + stime), nil
}

// machineCPU returns the busy and steal time of all CPUs together from the
// first line of /proc/stat: "cpu user nice system idle iowait irq softirq
// steal guest guest_nice". Guest time is already part of user time.
func machineCPU() (busy, steal time.Duration, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat (kvbench needs Linux /proc): %w", err)
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks [8]int64
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(fields[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: field %d: %w", i+1, err)
		}
	}
	user, nice, system, irq, softirq := ticks[0], ticks[1], ticks[2], ticks[5], ticks[6]
	return ticksToDuration(user + nice + system + irq + softirq), ticksToDuration(ticks[7]), nil
}

package vault

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want isoDuration
	}{
		{in: "P90D", want: isoDuration{days: 90}},
		{in: "P3M", want: isoDuration{months: 3}},
		{in: "PT48H", want: isoDuration{hours: 48}},
		{in: "P1Y10D", want: isoDuration{years: 1, days: 10}},
		{in: "P2W", want: isoDuration{weeks: 2}},
		{in: "PT30M", want: isoDuration{minutes: 30}},
		{in: "PT45S", want: isoDuration{seconds: 45}},
		{in: "P0D", want: isoDuration{}},
		{in: "P1Y2M3W4DT5H6M7S", want: isoDuration{years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7}},
		{in: "P100000D", want: isoDuration{days: 100000}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseISODuration(tt.in)
			if err != nil {
				t.Fatalf("parseISODuration(%q): %v", tt.in, err)
			}
			tt.want.text = tt.in
			if got != tt.want {
				t.Errorf("parseISODuration(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseISODurationRejectsInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"P",
		"PT",
		"P1DT",
		"90D",
		"P-1D",
		"P1.5D",
		"P1H",
		"PT1D",
		"P1D1Y",
		"P1M1Y",
		"P 1D",
		" P1D",
		"P1D ",
		"p1d",
		"P100001D",
		"P99999999999999999999D",
		"PT1H30",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := parseISODuration(in)
			if err == nil {
				t.Fatalf("parseISODuration(%q) = %+v, want an error", in, got)
			}
			if got != (isoDuration{}) {
				t.Errorf("parseISODuration(%q) returned %+v with its error, want the zero value", in, got)
			}
			if !strings.Contains(err.Error(), in) {
				t.Errorf("error %q does not name the input %q", err, in)
			}
		})
	}
}

func mustParseISODuration(t testing.TB, s string) isoDuration {
	t.Helper()
	d, err := parseISODuration(s)
	if err != nil {
		t.Fatalf("parseISODuration(%q): %v", s, err)
	}
	return d
}

func date(year int, month time.Month, day int) time.Time {
	return time.Date(year, month, day, 12, 0, 0, 0, time.UTC)
}

// TestISODurationAddTo checks that years and months are calendar units, so
// the same duration has a length that depends on the start date.
func TestISODurationAddTo(t *testing.T) {
	tests := []struct {
		name  string
		dur   string
		start time.Time
		want  time.Time
	}{
		{name: "one month from February 2025 is 28 days", dur: "P1M", start: date(2025, 2, 1), want: date(2025, 3, 1)},
		{name: "one month from February 2024 is 29 days", dur: "P1M", start: date(2024, 2, 1), want: date(2024, 3, 1)},
		{name: "one month from January is 31 days", dur: "P1M", start: date(2025, 1, 10), want: date(2025, 2, 10)},
		{name: "three months across a year end", dur: "P3M", start: date(2025, 11, 15), want: date(2026, 2, 15)},
		{name: "one year from a leap year", dur: "P1Y", start: date(2024, 1, 1), want: date(2025, 1, 1)},
		{name: "years and days", dur: "P1Y10D", start: date(2025, 1, 1), want: date(2026, 1, 11)},
		{name: "weeks", dur: "P2W", start: date(2025, 2, 20), want: date(2025, 3, 6)},
		{name: "days", dur: "P90D", start: date(2025, 1, 1), want: date(2025, 4, 1)},
		{name: "hours", dur: "PT48H", start: date(2025, 2, 28), want: date(2025, 3, 2)},
		{name: "time part", dur: "P1DT1H1M1S", start: date(2025, 1, 1), want: date(2025, 1, 2).Add(time.Hour + time.Minute + time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParseISODuration(t, tt.dur)
			if got := d.addTo(tt.start); !got.Equal(tt.want) {
				t.Errorf("%s added to %s = %s, want %s", tt.dur, tt.start, got, tt.want)
			}
			if got := d.subtractFrom(tt.want); !got.Equal(tt.start) {
				t.Errorf("%s subtracted from %s = %s, want %s", tt.dur, tt.want, got, tt.start)
			}
		})
	}
}

func TestISODurationAtLeast(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		dur  string
		min  time.Duration
		ref  time.Time
		want bool
	}{
		{dur: "P28D", min: 28 * day, ref: date(2025, 1, 1), want: true},
		{dur: "P27D", min: 28 * day, ref: date(2025, 1, 1), want: false},
		{dur: "P4W", min: 28 * day, ref: date(2025, 1, 1), want: true},
		{dur: "PT671H", min: 28 * day, ref: date(2025, 1, 1), want: false},
		{dur: "PT672H", min: 28 * day, ref: date(2025, 1, 1), want: true},
		{dur: "P1M", min: 28 * day, ref: date(2025, 2, 1), want: true},
		{dur: "P1M", min: 29 * day, ref: date(2025, 2, 1), want: false},
		{dur: "P1M", min: 29 * day, ref: date(2024, 2, 1), want: true},
		{dur: "P7D", min: 7 * day, ref: date(2025, 1, 1), want: true},
		{dur: "P6DT23H59M59S", min: 7 * day, ref: date(2025, 1, 1), want: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s from %s", tt.dur, tt.ref.Format(time.DateOnly)), func(t *testing.T) {
			if got := mustParseISODuration(t, tt.dur).atLeast(tt.min, tt.ref); got != tt.want {
				t.Errorf("%s.atLeast(%s) = %v, want %v", tt.dur, tt.min, got, tt.want)
			}
		})
	}
}

// FuzzParseISODuration checks that parseISODuration never panics and that a
// rejected input yields the zero value. An accepted input must have
// components in range, move time forward, and parse again from its canonical
// form to the same components.
func FuzzParseISODuration(f *testing.F) {
	for _, seed := range []string{
		"P90D", "P3M", "PT48H", "P1Y10D", "P2W", "P1Y2M3W4DT5H6M7S", "PT0S",
		"", "P", "PT", "90D", "P-1D", "P1DT", "P100001D", "P99999999999999999999D",
	} {
		f.Add(seed)
	}
	ref := date(2024, 2, 29)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseISODuration(s)
		if err != nil {
			if d != (isoDuration{}) {
				t.Fatalf("parseISODuration(%q) = %+v with error %v, want the zero value", s, d, err)
			}
			return
		}
		if d.text != s {
			t.Fatalf("text = %q, want %q", d.text, s)
		}
		for _, n := range []int{d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds} {
			if n < 0 || n > 100000 {
				t.Fatalf("parseISODuration(%q) = %+v: component %d out of 0..100000", s, d, n)
			}
		}
		if end := d.addTo(ref); end.Before(ref) {
			t.Fatalf("%q added to %s = %s, before the start", s, ref, end)
		}
		canonical := fmt.Sprintf("P%dY%dM%dW%dDT%dH%dM%dS", d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds)
		again, err := parseISODuration(canonical)
		if err != nil {
			t.Fatalf("parseISODuration(%q), the canonical form of %q: %v", canonical, s, err)
		}
		again.text = s
		if again != d {
			t.Fatalf("canonical form %q parsed to %+v, want %+v", canonical, again, d)
		}
	})
}

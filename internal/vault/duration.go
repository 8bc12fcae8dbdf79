package vault

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// isoDuration is an ISO 8601 duration such as P90D, P3M, PT48H or P1Y10D.
// Years and months are calendar units, so adding one depends on the date.
type isoDuration struct {
	text                       string
	years, months, weeks, days int
	hours, minutes, seconds    int
}

var isoDurationPattern = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

func parseISODuration(s string) (isoDuration, error) {
	m := isoDurationPattern.FindStringSubmatch(s)
	if m == nil || s == "P" || s[len(s)-1] == 'T' {
		return isoDuration{}, fmt.Errorf("'%s' is not an ISO 8601 duration such as P90D, P3M or PT48H", s)
	}
	n := make([]int, 7)
	for i := range n {
		if m[i+1] == "" {
			continue
		}
		v, err := strconv.Atoi(m[i+1])
		if err != nil || v > 100000 {
			return isoDuration{}, fmt.Errorf("'%s' has a component out of range", s)
		}
		n[i] = v
	}
	return isoDuration{text: s, years: n[0], months: n[1], weeks: n[2], days: n[3], hours: n[4], minutes: n[5], seconds: n[6]}, nil
}

// addTo returns t moved forward by d.
func (d isoDuration) addTo(t time.Time) time.Time {
	t = t.AddDate(d.years, d.months, 7*d.weeks+d.days)
	return t.Add(time.Duration(d.hours)*time.Hour + time.Duration(d.minutes)*time.Minute + time.Duration(d.seconds)*time.Second)
}

// subtractFrom returns t moved back by d.
func (d isoDuration) subtractFrom(t time.Time) time.Time {
	t = t.AddDate(-d.years, -d.months, -(7*d.weeks + d.days))
	return t.Add(-(time.Duration(d.hours)*time.Hour + time.Duration(d.minutes)*time.Minute + time.Duration(d.seconds)*time.Second))
}

// atLeast reports whether d is at least min long when counted from ref.
func (d isoDuration) atLeast(min time.Duration, ref time.Time) bool {
	return d.addTo(ref).Sub(ref) >= min
}

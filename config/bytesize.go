package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits lists the units of a ByteSize, largest first, so that
// formatSize picks the largest one that divides a value.
var byteUnits = []struct {
	name string
	mult int64
}{
	{"GiB", 1 << 30},
	{"GB", 1e9},
	{"MiB", 1 << 20},
	{"MB", 1e6},
	{"KiB", 1 << 10},
	{"KB", 1e3},
	{"B", 1},
}

var errSizeSyntax = errors.New("bad size")

// parseByteSize reads "1024", "64KiB", "10 MB" or "1GiB". Units are matched
// without regard to case; the number is a whole number, not negative.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if num == "" {
		return 0, errSizeSyntax
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, errSizeSyntax
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.name) {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			return 0, errSizeSyntax
		}
	}
	if n > math.MaxInt64/mult {
		return 0, errSizeSyntax
	}
	return ByteSize(n * mult), nil
}

// formatSize writes b with the largest unit that divides it exactly, so
// that parseByteSize reads it back: 8192 is "8KiB", 1500 is "1500B".
func formatSize(b ByteSize) string {
	if b == 0 {
		return "0"
	}
	for _, u := range byteUnits {
		if int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) // not reached: "B" divides everything
}

// parseRate reads "100", "0.5", "100/s", "600/m" or "5000/h" as requests
// a second.
func parseRate(s string) (Rate, error) {
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			f /= 60
		case "h", "hour":
			f /= 3600
		default:
			return 0, fmt.Errorf("bad rate unit in %q", s)
		}
	}
	return Rate(f), nil
}

// formatRate writes r so that parseRate reads it back.
func formatRate(r Rate) string {
	return strconv.FormatFloat(float64(r), 'g', -1, 64)
}

package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// Duration is a time.Duration written in TOML as a string with units: "90s",
// "5m", "1h30m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return gates.FormatDuration(time.Duration(d)) }

// UnmarshalText parses Go duration syntax. A TOML integer never reaches here
// as an error (go-toml stores it as nanoseconds), so the loader rejects
// unquoted numbers itself.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("bad duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d in the form UnmarshalText reads.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

var durationWords = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\.?\s*$`)

// durationHint suggests the Go spelling of a duration a person wrote in
// words: "5 minutes" → "5m", "1 hour" → "1h".
func durationHint(s string) string {
	if m := durationWords.FindStringSubmatch(s); m != nil {
		unit := ""
		switch strings.ToLower(m[2]) {
		case "ms", "msec", "msecs", "millisecond", "milliseconds":
			unit = "ms"
		case "s", "sec", "secs", "second", "seconds":
			unit = "s"
		case "m", "min", "mins", "minute", "minutes":
			unit = "m"
		case "h", "hr", "hrs", "hour", "hours":
			unit = "h"
		case "d", "day", "days":
			if n, err := strconv.ParseFloat(m[1], 64); err == nil {
				return fmt.Sprintf(`use hours, e.g. "%sh"`, strconv.FormatFloat(n*24, 'f', -1, 64))
			}
		}
		if unit != "" {
			return fmt.Sprintf(`use e.g. "%s%s"`, m[1], unit)
		}
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return fmt.Sprintf(`add a unit, e.g. "%ss" or "%sm"`, strings.TrimSpace(s), strings.TrimSpace(s))
	}
	return `use e.g. "90s", "5m" or "1h30m"`
}

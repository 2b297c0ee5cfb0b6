// Package ci says whether the tests run under CI. There a test whose
// set-up is missing must fail: a skip would let a suite that never ran
// pass. Everywhere else it skips, saying what to install.
package ci

import (
	"os"
	"strconv"
	"testing"
)

// On reports whether CI is set to a true value (true, 1, TRUE, …), as CI
// services and .ci/run set it.
func On() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Unavailable fails the test under CI and skips it elsewhere.
func Unavailable(tb testing.TB, msg string) {
	tb.Helper()
	if On() {
		tb.Fatalf("%s\nCI is set, so this is a failure: CI must be able to run it", msg)
	}
	tb.Skip(msg)
}

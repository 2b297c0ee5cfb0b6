package ci

import "testing"

func TestOn(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "false": false, "": false, "yes": false} {
		t.Setenv("CI", v)
		if got := On(); got != want {
			t.Errorf("CI=%q: On() = %v, want %v", v, got, want)
		}
	}
}

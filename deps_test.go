package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoSandbox: the sandbox and its stand-ins are a binary of
// their own (sandbox/cmd/flightdeck-sandbox); the cockpit never links them.
// Tests may import them; the product may not.
func TestBinaryLinksNoSandbox(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps .: %v\n%s", err, out)
	}
	const sandboxPkg = "github.com/flightdeckhq/flightdeck/sandbox"
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == sandboxPkg || strings.HasPrefix(pkg, sandboxPkg+"/") {
			t.Errorf("flightdeck links %s", pkg)
		}
	}
}

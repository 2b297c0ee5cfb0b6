// Command dir prints the integration tests' sandbox directory, so make can
// stop that sandbox after the tests.
package main

import (
	"fmt"

	"github.com/flightdeckhq/flightdeck/sandbox/sandboxtest"
)

func main() { fmt.Println(sandboxtest.Dir()) }

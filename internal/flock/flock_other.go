//go:build !unix

package flock

import (
	"context"
	"errors"
)

// Lock is not available here: the sandbox and its locks need a Unix host.
func Lock(context.Context, string, func()) (func(), error) {
	return nil, errors.New("file locks need Linux or macOS")
}

//go:build !unix

package k8s

import (
	"context"
	"errors"
)

// The sandbox drives kwokctl's binary runtime, which needs a Unix host.
func lockFile(ctx context.Context, path string, waiting func()) (func(), error) {
	return nil, errors.New("the Kubernetes sandbox needs Linux or macOS")
}

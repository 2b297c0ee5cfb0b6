//go:build !unix

package k8s

import "errors"

type process struct {
	pid  int
	name string
}

func processesUnder(dir string) ([]process, error) {
	return nil, errors.New("the Kubernetes sandbox needs Linux or macOS")
}

func killProcess(pid int, hard bool) error {
	return errors.New("the Kubernetes sandbox needs Linux or macOS")
}

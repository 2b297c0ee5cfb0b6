//go:build tools

// Package tools records the upstream commands the sandbox builds, so that
// go.sum pins every module they need and `go build` in this module can
// produce them without touching the network beyond the module proxy.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

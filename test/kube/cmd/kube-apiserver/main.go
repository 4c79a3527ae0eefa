// Command kube-apiserver is the upstream Kubernetes API server, built from
// k8s.io/kubernetes so that the integration tests run against the real thing.
// `make kube-bin` builds it into test/kube/bin with -modfile=kube-apiserver.mod,
// the build list of Kubernetes alone; it is never shipped.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

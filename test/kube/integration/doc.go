// Package integration holds the integration tests of the main module's
// packages against a real kube-apiserver (see ../README.md). The test/kube
// module reaches the main module through `replace
// github.com/headroom-dev/headroom => ../..` in its go.mod, so these tests
// always build against the working tree. Tests live in one package so that
// they share one control plane: one file per main-module package.
package integration

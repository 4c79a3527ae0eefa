// Package harness runs a real Kubernetes control plane for integration tests:
// etcd and a kube-apiserver built from k8s.io/kubernetes (see ../README.md),
// with the metrics.k8s.io API served through the aggregation layer, a
// fault-injecting proxy and the CRDs that headroom's actuators scale.
//
// A package's tests share one server through TestMain:
//
//	var kube = harness.NewShared(harness.Options{})
//
//	func TestMain(m *testing.M) { os.Exit(kube.Run(m)) }
//
//	func TestScale(t *testing.T) {
//		s := kube.Server(t)   // skips (or fails under HEADROOM_REQUIRE_KUBE=1) without binaries
//		ns := s.Namespace(t)  // a fresh namespace for this test
//		cs := kubernetes.NewForConfigOrDie(s.Config())
//		...
//	}
//
// No controller-manager, scheduler or kubelet runs: Deployments get no
// ReplicaSets, Pods stay Pending, namespaces are never finalised. Tests write
// the objects (and statuses) they need themselves.
package harness

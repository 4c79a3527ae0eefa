package integration_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// deployed applies deploy/ once per test binary (its Namespace, ClusterRole
// and binding are cluster-wide and named headroom) and returns a token
// configuration of its ServiceAccount headroom/headroom.
var (
	deployOnce sync.Once
	deployErr  error
)

func applyDeploy(t *testing.T, s *harness.Server) *rest.Config {
	t.Helper()
	deployOnce.Do(func() { deployErr = applyObjects(s, renderDeploy(t)) })
	if deployErr != nil {
		t.Fatal(deployErr)
	}
	subject := harness.ServiceAccountSubject("headroom", "headroom")
	// RBAC reaches the authorizer through a cache: wait for the last rule.
	if err := s.WaitForAccess(context.Background(), subject, &authorizationv1.ResourceAttributes{
		Group: "scheduling.k8s.io", Resource: "priorityclasses", Verb: "create"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitForAccess(context.Background(), subject, &authorizationv1.ResourceAttributes{
		Namespace: "headroom", Group: "coordination.k8s.io", Resource: "leases", Verb: "update"}); err != nil {
		t.Fatal(err)
	}
	return s.ServiceAccountConfig(t, "headroom", "headroom")
}

// applyObjects server-side applies each object, as kubectl apply
// --server-side does, in kustomize's order (Namespace first).
func applyObjects(s *harness.Server, objs []*unstructured.Unstructured) error {
	ctx := context.Background()
	disc, err := discovery.NewDiscoveryClientForConfig(s.Config())
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	dyn := dynamic.NewForConfigOrDie(s.Config())
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %w", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "headroom-deploy-test", Force: true}); err != nil {
			return fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// access asks the API server, as the ServiceAccount itself
// (SelfSubjectAccessReview), whether it may do verb on resource.
func access(t *testing.T, cs kubernetes.Interface, ns, group, resource, verb string) bool {
	t.Helper()
	sub := ""
	if i := strings.IndexByte(resource, '/'); i >= 0 {
		resource, sub = resource[:i], resource[i+1:]
	}
	r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Group: group, Resource: resource, Subresource: sub, Verb: verb}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// TestDeployRBAC applies deploy/ to the real API server and checks its
// RBAC both ways, as the ServiceAccount itself: every rule the code
// declares it needs (actuator.KubeRules, actuator.PoolRules of the shipped
// plan, the collection's list rules, the Lease) is allowed, in any
// namespace for the ClusterRole's and in headroom's for the Role's; and a
// list of things headroom must never be able to do is denied.
func TestDeployRBAC(t *testing.T) {
	s := kube.Server(t)
	cfg := applyDeploy(t, s)
	cs := kubernetes.NewForConfigOrDie(cfg)
	plan := poolsPlan(t, "headroom", "unused")

	type check struct{ ns, group, resource, verb string }
	var need []check
	add := func(ns string, rules ...rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						need = append(need, check{ns, g, res, v})
					}
				}
			}
		}
	}
	add("some-team", actuator.KubeRules()...)
	add("some-team", readRules...)
	cluster, namespaced := actuator.PoolRules(plan)
	add("", cluster...)
	for ns, rules := range namespaced {
		add(ns, rules...)
	}
	add("headroom", rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}})
	if len(need) < 30 {
		t.Fatalf("only %d checks: %v", len(need), need)
	}
	for _, c := range need {
		if !access(t, cs, c.ns, c.group, c.resource, c.verb) {
			t.Errorf("denied %s %s.%s in %q: deploy/base/rbac.yaml misses a rule the code needs", c.verb, c.resource, c.group, c.ns)
		}
	}

	deny := []check{
		{"some-team", "", "secrets", "get"}, {"some-team", "", "secrets", "list"}, {"headroom", "", "secrets", "list"},
		{"some-team", "", "pods", "delete"}, {"some-team", "", "pods", "create"}, {"some-team", "", "pods/exec", "create"},
		{"some-team", "", "pods", "watch"}, {"some-team", "", "configmaps", "get"},
		{"some-team", "apps", "deployments", "update"}, {"some-team", "apps", "deployments", "create"},
		{"some-team", "apps", "deployments", "delete"}, {"headroom", "apps", "deployments", "delete"},
		{"some-team", "apps", "statefulsets", "update"}, {"some-team", "apps", "daemonsets/scale", "update"},
		{"", "", "nodes", "patch"}, {"", "", "nodes", "delete"}, {"", "", "namespaces", "delete"},
		{"some-team", "coordination.k8s.io", "leases", "update"}, {"headroom", "coordination.k8s.io", "leases", "delete"},
		{"", "scheduling.k8s.io", "priorityclasses", "delete"}, {"", "scheduling.k8s.io", "priorityclasses", "update"},
		{"", "rbac.authorization.k8s.io", "clusterroles", "escalate"}, {"", "rbac.authorization.k8s.io", "clusterrolebindings", "create"},
		{"some-team", "", "serviceaccounts/token", "create"}, {"some-team", "autoscaling", "horizontalpodautoscalers", "delete"},
		{"some-team", "cluster.x-k8s.io", "machinedeployments", "delete"}, {"some-team", "", "events", "delete"},
		{"some-team", "", "events", "update"}, {"some-team", "", "events", "get"},
		{"some-team", "", "resourcequotas", "update"}, {"some-team", "", "resourcequotas/status", "update"},
		{"some-team", "", "resourcequotas", "create"}, {"some-team", "", "resourcequotas", "delete"},
	}
	for _, c := range deny {
		if access(t, cs, c.ns, c.group, c.resource, c.verb) {
			t.Errorf("allowed %s %s.%s in %q: not least privilege", c.verb, c.resource, c.group, c.ns)
		}
	}
}

// TestDeployRealCalls runs the code, not just reviews, with the shipped
// ServiceAccount's token: a metrics-server collection, a Deployment scaled
// with its Event and annotation, an HPA floor, the balloon pool in the
// headroom namespace, the run's Lease; and a Secret read and a pod delete
// are refused with 403. The apply itself also proves the CronJob passes
// the API server's validation, and a pod made from its template is
// admitted by the restricted Pod Security level the namespace enforces.
func TestDeployRealCalls(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	cfg := applyDeploy(t, s)
	ctx := context.Background()
	c := s.Client()
	ns := s.Namespace(t)
	s.MetricsAPI(t)

	// The CronJob's pod meets "restricted" (the namespace enforces it).
	cj, err := c.BatchV1().CronJobs("headroom").Get(ctx, "headroom", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Fatalf("stored cronjob %+v", cj.Spec)
	}
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "headroom-run-probe"}, Spec: cj.Spec.JobTemplate.Spec.Template.Spec}
	if _, err := c.CoreV1().Pods("headroom").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the CronJob's pod is refused in namespace headroom: %v", err)
	}
	root := probe.DeepCopy()
	root.Spec.SecurityContext.RunAsNonRoot = nil
	root.Spec.SecurityContext.RunAsUser = nil
	root.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	if _, err := c.CoreV1().Pods("headroom").Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Fatalf("a pod without the security settings was not refused by Pod Security: %v", err)
	}

	// So does headroom serve's pod (deploy/serve/).
	for _, o := range find(renderDir(t, deployDir+"/serve"), "Deployment") {
		d := typed[appsv1.Deployment](t, o)
		serve := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "headroom-serve-probe"}, Spec: d.Spec.Template.Spec}
		if _, err := c.CoreV1().Pods("headroom").Create(ctx, serve, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("the serve pod is refused in namespace headroom: %v", err)
		}
	}

	// Collection.
	src := mkube.New(kubernetes.NewForConfigOrDie(cfg), metricsclient.NewForConfigOrDie(cfg), mkube.Options{Namespaces: []string{ns}})
	if _, err := src.Collect(ctx, metrics.Window{End: actuatorNow}); err != nil {
		t.Fatalf("collect as headroom: %v", err)
	}

	// Actuation: scale, HPA floor, pools.
	createDeployment(t, c, ns, "web", 1)
	createDeployment(t, c, ns, "api", 1)
	createHPA(t, c, ns, "api", "api", 1, 10)
	web, api := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}, policy.Target{Kind: "Deployment", Namespace: ns, Name: "api"}
	plan := poolsPlan(t, "headroom", ns+"-pc")
	createMachineDeployment(t, s, "headroom", "general", 1)
	pools, err := actuator.NewPoolsFromPlan(plan, actuator.PoolClients{Scales: harness.ScaleClient(t, cfg), Kube: kubernetes.NewForConfigOrDie(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	pools.SetDemand("spot", 1)
	k, err := actuator.NewKube(cfg, actuator.KubeOptions{Pools: pools.Sizers(),
		Targets: map[policy.Target]actuator.TargetOptions{api: {Mode: policy.ModeHPAFloor}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		t policy.Target
		n int32
	}{{web, 3}, {api, 4}} {
		a, err := k.SetReplicas(ctx, actuatorNow, x.t, x.n, "forecast")
		if err != nil || !a.Changed || len(a.Warnings) != 0 {
			t.Fatalf("%s as headroom: %+v, %v", x.t, a, err)
		}
	}
	for pool, n := range map[string]int{"spot": 3, "general": 2} {
		a, err := k.SetPoolSize(ctx, actuatorNow, pool, n, "forecast")
		if err != nil || !a.Changed || len(a.Warnings) != 0 {
			t.Fatalf("pool %s as headroom: %+v, %v", pool, a, err)
		}
	}
	if r, _ := deploymentReplicas(t, c, "headroom", "headroom-balloon-spot"); r != 4 {
		t.Fatalf("balloon replicas %d, want (3 − 1) × 2 = 4", r)
	}

	// The Lease, in headroom's namespace.
	l := &actuator.Lease{Client: kubernetes.NewForConfigOrDie(cfg).CoordinationV1(), Namespace: "headroom", Name: "headroom-" + ns,
		Holder: "probe", Duration: time.Minute, Clock: clock.RealClock{}}
	if ok, _, err := l.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("lease as headroom: %v, %v", ok, err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}

	// Refused.
	sa := kubernetes.NewForConfigOrDie(cfg)
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list secrets: %v, want forbidden", err)
	}
	if err := sa.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete deployment: %v, want forbidden", err)
	}
	d, _ := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	if _, err := sa.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("update a deployment's template: %v, want forbidden", err)
	}
}

package integration_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// quotaPod is a pod of web (labelled app=web, when refs names its owner)
// or a bare one, with requests and a CPU limit (a quota on limits.cpu
// refuses pods without one).
func quotaPod(name string, refs []metav1.OwnerReference, cpu, mem, limit string) *corev1.Pod {
	var labels map[string]string
	if len(refs) > 0 {
		labels = map[string]string{"app": "web"} // as its ReplicaSet's template gives it
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: refs, Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "registry.example/app:1", Resources: corev1.ResourceRequirements{Requests: harness.Usage(cpu, mem),
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(limit)}}}}}}
}

// TestQuotaCollectStoreReport runs the whole path of a ResourceQuota
// against the real kube-apiserver: its quota admission plugin counts the
// pods created through the API into status.used, Collect reads the quota
// with the collector's own rules (and goes on without it when they lack
// resourcequotas), the store keeps it with the inventory snapshot, and
// the report forecasts the namespace's demand against it. The harness runs
// no kube-controller-manager, so no quota controller: a new quota has no
// status, and the admission plugin, which enforces status.hard, ignores it
// (a pod over spec.hard is admitted) until the test writes status.hard and
// a zero status.used through the status subresource, as the controller
// would for an empty namespace. From there the real admission plugin
// counts every pod it admits into status.used.
//
// Worked by hand. Quota compute: requests.cpu 4, requests.memory 8Gi,
// limits.cpu 8, pods 12. web's 3 pods request 500m / 1Gi each, a bare pod
// 200m / 256Mi: used 1.7 cores, 3.25 GiB, 4 pods. web's CPU history is the
// ramp cpu_k = 0.495 + 0.003·k cores, hourly, k = 0…335, the last point
// being the collection itself (3 pods × 500m = 1.5). The plan sizes web at
// 500m and 0.5 utilization, so it needs 4·cpu_k replicas (1.98 at k = 0,
// above the plan's minimum of 1 throughout); each charges 500m, 1 GiB and
// a pod; the bare pod is "other", held constant:
//
//   - requests.cpu: 0.2 + 2·cpu_k = 1.19 + 0.006·k; 3.2 now; above 4 first
//     at k = 469 (3.998 at 468, 4.004 at 469): 134 h = 5.58 days after
//     the collection, critical (under a third of 30 days);
//   - requests.memory: 0.25 + 4·cpu_k GiB = 2.23 + 0.012·k, 6.25 now,
//     above 8 at k = 481 (7.99 at 480): 146 h;
//   - pods: 1 + 4·cpu_k = 2.98 + 0.012·k, 7 now, above 12 at k = 752
//     (11.992 at 751): 417 h;
//   - limits.cpu: used 3 × 1 + 0.5 = 3.5 of 8, not forecast.
//
// Finally the plan's kind of scale-up: the actuator's /scale write to 10
// replicas is accepted (quota admission does not look at scale writes),
// and creating the pods as the ReplicaSet controller would, the API server
// admits 4 more (2.0 + 1.7 = 3.7 cores) and refuses the fifth with 403
// Forbidden naming the quota: the report's finding is about these pods,
// not about the actuator's call, which never sees the 403. The actuator
// learns of it in its next convergence check, from the ReplicaSet's
// ReplicaFailure condition, and names the quota there.
func TestQuotaCollectStoreReport(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()

	hard := corev1.ResourceList{
		corev1.ResourceRequestsCPU: resource.MustParse("4"), corev1.ResourceRequestsMemory: resource.MustParse("8Gi"),
		corev1.ResourceLimitsCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("12"),
	}
	q := must[*corev1.ResourceQuota](t)(c.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}, metav1.CreateOptions{}))
	// No quota controller: the admission plugin enforces status.hard, which nothing has written yet, so a
	// pod is admitted (even one far over spec.hard) and not counted. The test removes it again.
	if _, err := c.CoreV1().Pods(ns).Create(ctx, quotaPod("early", nil, "16", "64Mi", "16"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a pod before the quota has a status: %v (the harness runs no quota controller: admitted and not counted)", err)
	}
	if err := c.CoreV1().Pods(ns).Delete(ctx, "early", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: corev1.ResourceList{}}
	for r := range hard {
		q.Status.Used[r] = resource.MustParse("0")
	}
	if _, err := c.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{"app": "web"}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: quotaPod("", nil, "500m", "1Gi", "1").Spec}
	one := int32(3)
	dep := must[*appsv1.Deployment](t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: sel, Template: tmpl}}, metav1.CreateOptions{}))
	rs := must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7c9f", Labels: labels, OwnerReferences: owner("Deployment", dep)},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}, metav1.CreateOptions{}))
	var usage []metricsv1beta1.PodMetrics
	for i := range 3 {
		name := fmt.Sprintf("web-7c9f-%d", i)
		p := must[*corev1.Pod](t)(c.CoreV1().Pods(ns).Create(ctx, quotaPod(name, owner("ReplicaSet", rs), "500m", "1Gi", "1"), metav1.CreateOptions{}))
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("500m", "100Mi")}}})
	}
	must[*corev1.Pod](t)(c.CoreV1().Pods(ns).Create(ctx, quotaPod("debug", nil, "200m", "256Mi", "500m"), metav1.CreateOptions{}))
	m.SetPodMetrics(ns, usage)

	// The admission plugin counted the four pods into the quota's status.
	got := must[*corev1.ResourceQuota](t)(c.CoreV1().ResourceQuotas(ns).Get(ctx, "compute", metav1.GetOptions{}))
	for r, want := range map[corev1.ResourceName]string{corev1.ResourceRequestsCPU: "1700m", corev1.ResourceRequestsMemory: "3328Mi", corev1.ResourceLimitsCPU: "3500m", corev1.ResourcePods: "4"} {
		if u := got.Status.Used[r]; u.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("status.used %s = %s, want %s (counted by quota admission)", r, u.String(), want)
		}
	}

	// Collect as a service account with the collector's rules, minus resourcequotas: no quotas, a warning.
	less := mkube.Rules()
	less[0] = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list"}}
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "no-quotas"), less...)
	now := time.Now().UTC().Truncate(time.Second)
	b, err := source(t, s.ServiceAccountConfig(t, ns, "no-quotas"), mkube.Options{Namespaces: []string{ns}}).Collect(ctx, metrics.Window{End: now})
	if err != nil {
		t.Fatalf("collect without the quota rule: %v", err)
	}
	if b.QuotasRead || len(b.Quotas) != 0 || !strings.Contains(strings.Join(b.Warnings, "\n"), "resource quotas not read in namespace "+ns) {
		t.Errorf("without list on resourcequotas: read %v quotas %+v warnings %q", b.QuotasRead, b.Quotas, b.Warnings)
	}
	// With them (kube.Rules, what deploy/base/rbac.yaml grants): the quota as the API server counts it.
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "headroom"), mkube.Rules()...)
	b, err = source(t, s.ServiceAccountConfig(t, ns, "headroom"), mkube.Options{Namespaces: []string{ns}}).Collect(ctx, metrics.Window{End: now})
	if err != nil {
		t.Fatal(err)
	}
	if !b.QuotasRead || len(b.Quotas) != 1 {
		t.Fatalf("quotas read %v: %+v (warnings %q)", b.QuotasRead, b.Quotas, b.Warnings)
	}
	const gi = 1 << 30
	wantUsed := map[string]float64{"requests.cpu": 1.7, "requests.memory": 3.25 * gi, "limits.cpu": 3.5, "pods": 4}
	wantHard := map[string]float64{"requests.cpu": 4, "requests.memory": 8 * gi, "limits.cpu": 8, "pods": 12}
	for r := range wantHard {
		if math.Abs(b.Quotas[0].Hard[r]-wantHard[r]) > 1e-9 || math.Abs(b.Quotas[0].Used[r]-wantUsed[r]) > 1e-9 {
			t.Errorf("collected %s: hard %v used %v, want %v %v", r, b.Quotas[0].Hard[r], b.Quotas[0].Used[r], wantHard[r], wantUsed[r])
		}
	}

	// The store: web's hourly history up to the hour before, then the collection, one transaction.
	st := openStore(t)
	web := metrics.Workload{Kind: "Deployment", Namespace: ns, Name: "web"}
	hist := metrics.Series{Key: metrics.Key{Workload: web, Resource: metrics.CPU}}
	for k := range 335 {
		hist.Points = append(hist.Points, metrics.Point{T: now.Add(-time.Duration(335-k) * time.Hour), V: 0.495 + 0.003*float64(k)})
	}
	if _, err := st.Write(ctx, &metrics.Batch{Source: "backfill", Series: []metrics.Series{hist}}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	inv, ok, err := st.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || !inv.QuotasRead || len(inv.Quotas) != 1 || inv.Quotas[0].Used["pods"] != 4 {
		t.Fatalf("stored inventory quotas %+v ok %v err %v", inv.Quotas, ok, err)
	}

	// The report.
	plan, err := config.Load("plan.yaml", []byte(fmt.Sprintf(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: quota}
spec:
  history: {source: metrics-server, maxAge: 2h}
  forecast: {quantile: 0.95, model: fourier-trend}
  workloads:
    - target: {kind: Deployment, namespace: %s, name: web}
      resources: {cpu: 500m, memory: 1Gi}
      utilization: {cpu: 0.5, memory: 0.8}
      replicas: {min: 1, max: 50}
`, ns)))
	if err != nil {
		t.Fatal(err)
	}
	opt := report.Options{Now: now, Backtest: -1}
	d, err := report.Load(ctx, st, plan, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(plan, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Quotas) != 1 || r.Quotas[0].Name != "compute" || r.Quotas[0].Namespace != ns {
		t.Fatalf("report quotas %+v", r.Quotas)
	}
	rq := r.Quotas[0]
	// The report's grid steps are clock hours (the store's hourly buckets), stamped at their
	// start: the history's last point is now's hour, and a runway is the start of a forecast hour.
	hour := now.Truncate(time.Hour)
	want := map[string]struct {
		used, other, demand float64
		hours               int // runway after the start of now's clock hour; -1: none
	}{
		"requests.cpu":    {1.7, 0.2, 3.2, 134},
		"requests.memory": {3.25 * gi, 0.25 * gi, 6.25 * gi, 146},
		"pods":            {4, 1, 7, 417},
		"limits.cpu":      {3.5, math.NaN(), math.NaN(), -1},
	}
	for _, x := range rq.Resources {
		w, ok := want[x.Resource]
		if !ok {
			t.Errorf("unexpected quota resource %s", x.Resource)
			continue
		}
		close := func(a report.Num, b float64) bool {
			return math.IsNaN(b) && math.IsNaN(float64(a)) || math.Abs(float64(a)-b) <= 1e-6*max(1, math.Abs(b))
		}
		if !close(x.Used, w.used) || !close(x.Other, w.other) || !close(x.DemandNow, w.demand) {
			t.Errorf("%s: used %v other %v demand now %v, want %v %v %v", x.Resource, x.Used, x.Other, x.DemandNow, w.used, w.other, w.demand)
		}
		switch {
		case w.hours < 0 && x.Runway != nil:
			t.Errorf("%s: runway %v, want none", x.Resource, x.Runway)
		case w.hours >= 0 && (x.Runway == nil || !x.Runway.Equal(hour.Add(time.Duration(w.hours)*time.Hour))):
			t.Errorf("%s: runway %v, want %v (+%d h)", x.Resource, x.Runway, hour.Add(time.Duration(w.hours)*time.Hour), w.hours)
		}
	}
	days := hour.Add(134*time.Hour).Sub(now).Hours() / 24
	if rq.RunwayResource != "requests.cpu" || math.Abs(float64(rq.RunwayDays)-days) > 1e-9 {
		t.Errorf("quota runway %v days on %s, want %v on requests.cpu", rq.RunwayDays, rq.RunwayResource, days)
	}
	var finding *report.Finding
	for i, f := range r.Findings {
		if f.Kind == report.KindQuotaRunway {
			finding = &r.Findings[i]
		}
	}
	if finding == nil || finding.Severity != report.Critical || finding.Subject != ns+"/compute" || !strings.Contains(finding.Message, fmt.Sprintf("quota runway %.1f days", days)) {
		t.Errorf("quota runway finding %+v", finding)
	}

	// The scale-up: the actuator's /scale write is accepted, the pods beyond the quota are not.
	k, err := actuator.NewKube(s.Config(), actuator.KubeOptions{Log: st})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.SetReplicas(ctx, now, policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}, 10, "quota test")
	if err != nil || !a.Changed {
		t.Fatalf("scale to 10: %+v, %v (a quota does not apply to /scale)", a, err)
	}
	var refused error
	admitted := 0
	for i := 3; i < 10 && refused == nil; i++ {
		_, refused = c.CoreV1().Pods(ns).Create(ctx, quotaPod(fmt.Sprintf("web-7c9f-%d", i), owner("ReplicaSet", rs), "500m", "1Gi", "1"), metav1.CreateOptions{})
		if refused == nil {
			admitted++
		}
	}
	if admitted != 4 || !apierrors.IsForbidden(refused) || !strings.Contains(refused.Error(), "exceeded quota: compute") || !strings.Contains(refused.Error(), "requests.cpu") {
		t.Fatalf("%d pods admitted, then %v; want 4, then 403 exceeded quota: compute on requests.cpu", admitted, refused)
	}
	t.Logf("the pod beyond the quota: %v", refused)

	// The ReplicaSet controller records such a refusal in its ReplicaFailure condition (the harness runs
	// none: the test writes the API server's own message there), and the actuator's convergence check
	// reports the change as not converged, naming the quota.
	rs = must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Get(ctx, rs.Name, metav1.GetOptions{}))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 7, Conditions: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure,
		Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: refused.Error(), LastTransitionTime: metav1.NewTime(now.Add(time.Second))}}}
	if _, err := c.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cv, err := k.Converge(ctx, now.Add(5*time.Minute), st, actuator.ConvergeOptions{Include: func(w metrics.Workload) bool { return w.Namespace == ns }})
	if err != nil {
		t.Fatalf("convergence check: %v", err)
	}
	if len(cv) != 1 || cv[0].Converged || cv[0].Desired != 10 || !strings.Contains(strings.Join(cv[0].Reasons, "\n"), "exceeded quota: compute") {
		t.Errorf("convergence %+v, want web not converged at 10 for exceeded quota: compute", cv)
	}
}

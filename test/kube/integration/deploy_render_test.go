package integration_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/config"
)

// deployDir is the kustomize base, from this package's folder.
const deployDir = "../../../deploy"

// renderDeploy renders deploy/ as kubectl apply -k would (kustomize's krusty,
// the library kubectl embeds), in kustomize's output order.
func renderDeploy(t *testing.T) []*unstructured.Unstructured { return renderDir(t, deployDir) }

// renderDir renders one kustomization folder.
func renderDir(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(y, &u.Object); err != nil {
			t.Fatalf("%s: %v", r.CurId(), err)
		}
		out = append(out, u)
	}
	return out
}

// typed converts a rendered object, strictly: a field the Go type does
// not know is an error (a typo in a manifest).
func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &v, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &v
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestDeployRender checks the rendered base: what it contains, the
// CronJob's safety settings, non-root and read-only, that every reference
// (ConfigMap, PVC, ServiceAccount) resolves to a rendered object, that the
// plan in the ConfigMap is a valid plan, and that no RBAC rule uses a
// wildcard, Secrets, or a destructive verb.
func TestDeployRender(t *testing.T) {
	objs := renderDeploy(t)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
		if o.GetKind() != "Namespace" && !strings.HasPrefix(o.GetKind(), "Cluster") && o.GetNamespace() != "headroom" {
			t.Errorf("%s %s in namespace %q, want headroom", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		if o.GetLabels()["app.kubernetes.io/name"] != "headroom" {
			t.Errorf("%s %s: labels %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
	slices.Sort(kinds)
	cms := find(objs, "ConfigMap")
	if len(cms) != 1 || !strings.HasPrefix(cms[0].GetName(), "headroom-plan-") {
		t.Fatalf("configmaps %v", kinds)
	}
	want := []string{"ClusterRole/headroom", "ClusterRoleBinding/headroom", "ConfigMap/" + cms[0].GetName(), "CronJob/headroom",
		"Namespace/headroom", "PersistentVolumeClaim/headroom-store", "Role/headroom", "RoleBinding/headroom", "ServiceAccount/headroom"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("rendered %v,\nwant %v", kinds, want)
	}

	// The plan in the ConfigMap loads and validates.
	cm := typed[corev1.ConfigMap](t, cms[0])
	plan, err := config.Load("deploy/base/plan.yaml", []byte(cm.Data["plan.yaml"]))
	if err != nil {
		t.Fatalf("the shipped plan: %v", err)
	}
	if plan.Spec.History.Source != "metrics-server" || plan.Spec.History.Store != "/var/lib/headroom/headroom.db" {
		t.Errorf("plan history %+v: want metrics-server into the PVC", plan.Spec.History)
	}

	cj := typed[batchv1.CronJob](t, find(objs, "CronJob")[0])
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.ForbidConcurrent || s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds > 300 ||
		s.SuccessfulJobsHistoryLimit == nil || s.FailedJobsHistoryLimit == nil || s.JobTemplate.Spec.BackoffLimit == nil ||
		*s.JobTemplate.Spec.BackoffLimit > 3 {
		t.Errorf("cronjob spec: %+v", s)
	}
	if pf := s.JobTemplate.Spec.PodFailurePolicy; pf == nil || len(pf.Rules) != 1 || pf.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob ||
		!slices.Equal(pf.Rules[0].OnExitCodes.Values, []int32{2}) {
		t.Errorf("podFailurePolicy %+v: exit 2 (invalid plan) should fail the Job", pf)
	}
	pod := s.JobTemplate.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers %+v", pod.Containers)
	}
	c := pod.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.AllowPrivilegeEscalation == nil ||
		*csc.AllowPrivilegeEscalation || csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v", csc)
	}
	if c.Image != "ghcr.io/headroom-dev/headroom:v0.1.0" || !slices.Equal(c.Args, []string{"run", "--config", "/etc/headroom/plan.yaml"}) {
		t.Errorf("image %s, args %v", c.Image, c.Args)
	}
	if pod.ServiceAccountName != "headroom" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("serviceAccount %q, restartPolicy %q", pod.ServiceAccountName, pod.RestartPolicy)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != cm.Name || mounts[v.Name] != "/etc/headroom" {
				t.Errorf("plan volume %+v mounted at %q; the ConfigMap is %s", v, mounts[v.Name], cm.Name)
			}
		case v.PersistentVolumeClaim != nil:
			if v.PersistentVolumeClaim.ClaimName != "headroom-store" || !strings.HasPrefix(plan.Spec.History.Store, mounts[v.Name]+"/") {
				t.Errorf("store volume %+v mounted at %q; the plan's store is %s", v, mounts[v.Name], plan.Spec.History.Store)
			}
		}
	}

	// RBAC: no wildcards, no Secrets, nothing destructive.
	var rules []rbacv1.PolicyRule
	rules = append(rules, typed[rbacv1.ClusterRole](t, find(objs, "ClusterRole")[0]).Rules...)
	rules = append(rules, typed[rbacv1.Role](t, find(objs, "Role")[0]).Rules...)
	for _, r := range rules {
		for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.ResourceNames} {
			if slices.Contains(list, "*") {
				t.Errorf("wildcard in %+v", r)
			}
		}
		for _, v := range r.Verbs {
			if slices.Contains([]string{"delete", "deletecollection", "escalate", "bind", "impersonate", "watch"}, v) {
				t.Errorf("verb %s in %+v", v, r)
			}
		}
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "pods/exec") || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v", r)
		}
	}
	for _, b := range append(find(objs, "ClusterRoleBinding"), find(objs, "RoleBinding")...) {
		rb := typed[rbacv1.RoleBinding](t, b)
		if len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != "headroom" ||
			rb.Subjects[0].Namespace != "headroom" || rb.RoleRef.Name != "headroom" {
			t.Errorf("%s: %+v", b.GetKind(), rb)
		}
	}
}

// TestDeployServeRender: the serve overlay replaces the CronJob with one
// Deployment (Recreate: one writer of the store) and a Service, sharing the
// base's plan ConfigMap (its hashed name resolved), PVC, ServiceAccount
// and non-root, read-only settings; the plan has the schedule serve needs.
func TestDeployServeRender(t *testing.T) {
	objs := renderDir(t, deployDir+"/serve")
	if len(find(objs, "CronJob")) != 0 || len(find(objs, "Deployment")) != 1 || len(find(objs, "Service")) != 1 || len(find(objs, "ClusterRole")) != 1 {
		t.Fatalf("rendered %d objects: want the base without its CronJob, plus a Deployment and a Service", len(objs))
	}
	cm := typed[corev1.ConfigMap](t, find(objs, "ConfigMap")[0])
	plan, err := config.Load("deploy/base/plan.yaml", []byte(cm.Data["plan.yaml"]))
	if err != nil || plan.Spec.Schedule == "" {
		t.Fatalf("plan for serve: schedule %q, %v", plan.Spec.Schedule, err)
	}
	d := typed[appsv1.Deployment](t, find(objs, "Deployment")[0])
	if d.Namespace != "headroom" || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("deployment %s/%s replicas %d strategy %s", d.Namespace, d.Name, *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Args[0] != "serve" || c.Image != "ghcr.io/headroom-dev/headroom:v0.1.0" || pod.ServiceAccountName != "headroom" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" ||
		!*c.SecurityContext.ReadOnlyRootFilesystem || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("serve pod %+v", pod)
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name != cm.Name {
			t.Errorf("plan volume names %s, the ConfigMap is %s", v.ConfigMap.Name, cm.Name)
		}
	}
	svc := typed[corev1.Service](t, find(objs, "Service")[0])
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %v does not select the pod %v", svc.Spec.Selector, d.Spec.Template.Labels)
		}
	}
}

// TestDockerfile: a static (CGO_ENABLED=0) binary on distroless/static or
// scratch, run as 65532. deploy_image_test.go builds the binary the same
// way and checks it is static.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms, users []string
	var build string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "FROM "):
			froms = append(froms, strings.Fields(line)[1])
		case strings.HasPrefix(line, "USER "):
			users = append(users, strings.TrimPrefix(line, "USER "))
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			build = line
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %v: want a build stage and a runtime stage", froms)
	}
	final := froms[len(froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("runtime image %s: want distroless/static or scratch", final)
	}
	if len(users) == 0 || !strings.HasPrefix(users[len(users)-1], "65532") {
		t.Errorf("USER %v: want 65532", users)
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/headroom") {
		t.Errorf("build line %q", build)
	}
}

package actuator

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KubeRules are the RBAC rules Kube needs (doc.go explains each), for the
// built-in kinds, the HPA and Cluster API MachineDeployments, plus
// get/update on the scale subresource and patch of each extra resource a
// plan targets (a CRD's group and plural). The deploy manifests' ClusterRole
// must cover them; tests grant exactly these to show they are enough. The
// Lease and node-pool providers need their own.
func KubeRules(extra ...schema.GroupResource) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "list", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets"}, Verbs: []string{"patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "patch"}},
		{APIGroups: []string{"cluster.x-k8s.io"}, Resources: []string{"machinedeployments/scale"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"cluster.x-k8s.io"}, Resources: []string{"machinedeployments"}, Verbs: []string{"patch"}},
	}
	for _, gr := range extra {
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{gr.Group}, Resources: []string{gr.Resource + "/scale"}, Verbs: []string{"get", "update"}},
			rbacv1.PolicyRule{APIGroups: []string{gr.Group}, Resources: []string{gr.Resource}, Verbs: []string{"patch"}})
	}
	return rules
}

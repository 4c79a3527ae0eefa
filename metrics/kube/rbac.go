package kube

import rbacv1 "k8s.io/api/rbac/v1"

// Rules are the RBAC rules Collect needs, in every namespace it reads (a ClusterRole when it reads all):
// list, and nothing else, of pods, nodes and ResourceQuotas, of the workload kinds that own pods, and of
// metrics.k8s.io pods and nodes. deploy/base/rbac.yaml grants them; test/kube/integration checks both that
// they are enough and that the shipped role grants them. Without the ResourceQuota rule Collect still
// works and says in a warning that quotas were not read.
func Rules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "resourcequotas"}, Verbs: []string{"list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets", "deployments", "statefulsets", "daemonsets"}, Verbs: []string{"list"}},
		{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list"}},
	}
}

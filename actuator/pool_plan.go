package actuator

import (
	"context"
	"fmt"
	"time"

	container "google.golang.org/api/container/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/scale"

	"github.com/headroom-dev/headroom/config"
)

// PoolClients are what the providers of a plan's pools talk to. Only the
// clients the plan's providers use are needed: Scales for cluster-api,
// Kube for balloon, GKE for gke.
type PoolClients struct {
	Scales scale.ScalesGetter
	Kube   kubernetes.Interface
	GKE    *container.Service
	// DryRun: server-side dry run for the Kubernetes providers; GKE reads
	// and reports only.
	DryRun bool
	// Sleep is the GKE providers' sleeper (nil: real timers).
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewPoolsFromPlan builds the provider of every node pool of a defaulted,
// valid plan. A pool whose provider needs a client that is nil is an error
// naming the pool's field.
func NewPoolsFromPlan(p *config.Plan, c PoolClients) (*Pools, error) {
	providers := map[string]PoolProvider{}
	for i, np := range p.Spec.NodePools {
		path := fmt.Sprintf("spec.nodePools[%d]", i)
		missing := func(client string) error {
			return fmt.Errorf("actuator: %s (%s): provider %s needs a %s client", path, np.Name, np.Provider, client)
		}
		switch np.Provider {
		case "none", "":
			providers[np.Name] = Recommend{}
		case "cluster-api":
			if c.Scales == nil {
				return nil, missing("scale")
			}
			ref := np.ClusterAPI
			if ref == nil {
				return nil, fmt.Errorf("actuator: %s.clusterAPI: not defaulted", path)
			}
			providers[np.Name] = &ClusterAPI{Scales: c.Scales, Namespace: ref.Namespace, Name: ref.Name, DryRun: c.DryRun}
		case "gke":
			if c.GKE == nil {
				return nil, missing("GKE")
			}
			g := np.GKE
			if g == nil {
				return nil, fmt.Errorf("actuator: %s.gke: required with provider gke", path)
			}
			providers[np.Name] = &GKE{Service: c.GKE, Project: g.Project, Location: g.Location, Cluster: g.Cluster,
				NodePool: g.NodePool, Autoscaling: g.Autoscaling, DryRun: c.DryRun, Sleep: c.Sleep}
		case "balloon":
			if c.Kube == nil {
				return nil, missing("Kubernetes")
			}
			b := np.Balloon
			if b == nil {
				return nil, fmt.Errorf("actuator: %s.balloon: not defaulted", path)
			}
			var ocpu, omem resource.Quantity
			if np.Overhead != nil {
				if np.Overhead.CPU != nil {
					ocpu = *np.Overhead.CPU
				}
				if np.Overhead.Memory != nil {
					omem = *np.Overhead.Memory
				}
			}
			if np.Machine.CPU == nil || np.Machine.Memory == nil {
				return nil, fmt.Errorf("actuator: %s.machine: cpu and memory are required", path)
			}
			cpu, mem := BalloonShare(*np.Machine.CPU, *np.Machine.Memory, ocpu, omem, b.PodsPerNode)
			providers[np.Name] = &Balloon{Client: c.Kube, Namespace: b.Namespace, Name: b.Name, PriorityClass: b.PriorityClass,
				NodeSelector: b.NodeSelector, PodsPerNode: b.PodsPerNode, CPU: cpu, Memory: mem, DryRun: c.DryRun}
		default:
			return nil, fmt.Errorf("actuator: %s.provider: unknown provider %q", path, np.Provider)
		}
	}
	return NewPools(providers), nil
}

// PoolRules are the RBAC rules of the node-pool providers a plan uses.
// Cluster-wide: get/update of machinedeployments/scale (cluster-api, also in
// KubeRules) and get/create of priorityclasses (balloon). In each balloon's
// namespace (namespaced, by namespace): get/create/update of deployments,
// kept out of the ClusterRole so headroom cannot rewrite other Deployments.
// GKE pools need none: they call Google's API with the pod's Google service
// account (Workload Identity).
func PoolRules(p *config.Plan) (cluster []rbacv1.PolicyRule, namespaced map[string][]rbacv1.PolicyRule) {
	namespaced = map[string][]rbacv1.PolicyRule{}
	var capi, balloon bool
	for _, np := range p.Spec.NodePools {
		switch np.Provider {
		case "cluster-api":
			capi = true
		case "balloon":
			balloon = true
			if np.Balloon != nil && namespaced[np.Balloon.Namespace] == nil {
				namespaced[np.Balloon.Namespace] = BalloonNamespaceRules()
			}
		}
	}
	if capi {
		cluster = append(cluster, rbacv1.PolicyRule{APIGroups: []string{"cluster.x-k8s.io"}, Resources: []string{"machinedeployments/scale"}, Verbs: []string{"get", "update"}})
	}
	if balloon {
		cluster = append(cluster, BalloonClusterRules()...)
	}
	return cluster, namespaced
}

// BalloonClusterRules: the balloon's PriorityClass is cluster-scoped.
func BalloonClusterRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{"scheduling.k8s.io"}, Resources: []string{"priorityclasses"}, Verbs: []string{"get", "create"}}}
}

// BalloonNamespaceRules: the balloon Deployment, in its own namespace.
func BalloonNamespaceRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "create", "update"}}}
}

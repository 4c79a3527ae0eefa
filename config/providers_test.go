package config

import (
	"testing"
)

const poolsPlan = minimal + `  nodePools:
    - name: general
      provider: cluster-api
      machine: {cpu: 4, memory: 16Gi}
      size: {max: 10}
    - name: gpu
      provider: gke
      machine: {cpu: 8, memory: 32Gi}
      size: {max: 4}
      gke: {project: acme, location: europe-west1, cluster: prod, autoscaling: true}
    - name: spot
      provider: balloon
      machine: {cpu: 4, memory: 16Gi}
      size: {max: 10}
      balloon: {nodeSelector: {cloud.google.com/gke-nodepool: spot}}
`

// Each provider's block gets its documented defaults.
func TestPoolProviderDefaults(t *testing.T) {
	p, err := Load("p.yaml", []byte(poolsPlan))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Spec.NodePools[0].ClusterAPI
	if c == nil || c.Namespace != "default" || c.Name != "general" {
		t.Errorf("clusterAPI defaults: %+v", c)
	}
	g := p.Spec.NodePools[1].GKE
	if g.NodePool != "gpu" || !g.Autoscaling || g.Project != "acme" {
		t.Errorf("gke defaults: %+v", g)
	}
	b := p.Spec.NodePools[2].Balloon
	if b.Namespace != "headroom" || b.Name != "headroom-balloon-spot" || b.PriorityClass != "headroom-balloon" || b.PodsPerNode != 1 ||
		b.NodeSelector["cloud.google.com/gke-nodepool"] != "spot" {
		t.Errorf("balloon defaults: %+v", b)
	}
	if p.Spec.NodePools[0].GKE != nil || p.Spec.NodePools[0].Balloon != nil {
		t.Error("a cluster-api pool got another provider's block")
	}
}

func TestPoolProviderErrors(t *testing.T) {
	pool := func(s string) string {
		return minimal + "  nodePools:\n    - name: a\n      machine: {cpu: 4, memory: 16Gi}\n      size: {max: 3}\n" + s
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "gke needs its block", yaml: pool("      provider: gke\n"),
			want: []string{"spec.nodePools[0].gke: required with provider gke"}},
		{name: "gke needs project and cluster", yaml: pool("      provider: gke\n      gke: {location: us-central1}\n"),
			want: []string{"p.yaml:14:", "spec.nodePools[0].gke.project: required with provider gke", "spec.nodePools[0].gke.cluster: required"}},
		{name: "gke names are single names", yaml: pool("      provider: gke\n      gke: {project: p, location: us-central1, cluster: projects/p/c}\n"),
			want: []string{"spec.nodePools[0].gke.cluster: \"projects/p/c\" must be a single name"}},
		{name: "block of another provider", yaml: pool("      provider: cluster-api\n      gke: {project: p, location: l, cluster: c}\n"),
			want: []string{"p.yaml:14:", `spec.nodePools[0].gke: set, but the provider is "cluster-api"`}},
		{name: "block without provider", yaml: pool("      balloon: {podsPerNode: 2}\n"),
			want: []string{"p.yaml:13:", `spec.nodePools[0].balloon: set, but the provider is "none"`}},
		{name: "bad machine deployment name", yaml: pool("      provider: cluster-api\n      clusterAPI: {name: Big_Pool}\n"),
			want: []string{"p.yaml:14:", `spec.nodePools[0].clusterAPI.name: "Big_Pool" is not a valid Kubernetes name`}},
		{name: "balloon pods per node", yaml: pool("      provider: balloon\n      balloon: {podsPerNode: -1}\n"),
			want: []string{"p.yaml:14:", "spec.nodePools[0].balloon.podsPerNode: must be at least 1, got -1"}},
		{name: "balloon node selector", yaml: pool("      provider: balloon\n      balloon: {nodeSelector: {\"bad key!\": x}}\n"),
			want: []string{"p.yaml:14:", `spec.nodePools[0].balloon.nodeSelector: "bad key!" is not a label key`}},
		{name: "unknown field in a provider block", yaml: pool("      provider: gke\n      gke: {project: p, location: l, cluster: c, zone: z}\n"),
			want: []string{"p.yaml:14:", `unknown field "zone"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkLoadError(t, tc.yaml, tc.want) })
	}
}

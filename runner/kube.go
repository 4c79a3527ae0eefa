package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/scale"

	"github.com/headroom-dev/headroom/policy"
)

// KubeCluster reads the plan's targets' replica counts from the API server
// with one paginated list per namespace and kind (Deployments, StatefulSets,
// ReplicaSets, and HPAs for hpa-floor targets), so requests grow with
// namespaces, not workloads or pods. Other kinds are read through their
// scale subresource, one get each, when Scales and Mapper are set.
type KubeCluster struct {
	Client kubernetes.Interface
	Scales scale.ScalesGetter // optional
	Mapper meta.RESTMapper    // optional, with Scales
	// PageSize bounds each list page; 0 means 500.
	PageSize int64
}

// Current implements Cluster.
func (k *KubeCluster) Current(ctx context.Context, ws []*policy.Workload) map[policy.Target]Current {
	byNS := map[string]map[string]bool{} // namespace → kinds
	hpaNS := map[string]bool{}
	for _, w := range ws {
		if byNS[w.Target.Namespace] == nil {
			byNS[w.Target.Namespace] = map[string]bool{}
		}
		byNS[w.Target.Namespace][w.Target.Kind] = true
		if w.Mode == policy.ModeHPAFloor {
			hpaNS[w.Target.Namespace] = true
		}
	}
	var mu sync.Mutex
	replicas := map[policy.Target]int32{}
	hpaMin := map[policy.Target]int32{}
	errs := map[string]error{} // "namespace/kind" → list error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	list := func(ns, kind string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		got, err := k.list(ctx, ns, kind)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[ns+"/"+kind] = err
			return
		}
		for t, n := range got {
			if kind == "HorizontalPodAutoscaler" {
				hpaMin[t] = n
			} else {
				replicas[t] = n
			}
		}
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		for kind := range byNS[ns] {
			if listable[kind] {
				wg.Add(1)
				go list(ns, kind)
			}
		}
		if hpaNS[ns] {
			wg.Add(1)
			go list(ns, "HorizontalPodAutoscaler")
		}
	}
	wg.Wait()
	out := make(map[policy.Target]Current, len(ws))
	for _, w := range ws {
		t := w.Target
		var c Current
		if err := errs[t.Namespace+"/"+t.Kind]; err != nil {
			c.Err = err
		} else if listable[t.Kind] {
			n, ok := replicas[t]
			if !ok {
				continue // not found: the runner fails it
			}
			c.Replicas = n
		} else {
			c.Replicas, c.Err = k.scaleOf(ctx, t)
		}
		if c.Err == nil && w.Mode == policy.ModeHPAFloor {
			if err := errs[t.Namespace+"/HorizontalPodAutoscaler"]; err != nil {
				c.Err = err
			} else if m, ok := hpaMin[t]; ok {
				c.HPAMin = m
			} else {
				c.Err = fmt.Errorf("hpa-floor mode: no HorizontalPodAutoscaler in %s targets %s %s", t.Namespace, t.Kind, t.Name)
			}
		}
		out[t] = c
	}
	return out
}

var listable = map[string]bool{"Deployment": true, "StatefulSet": true, "ReplicaSet": true}

// list returns spec.replicas (or an HPA's minReplicas, keyed by its scale
// target) of every object of kind in ns.
func (k *KubeCluster) list(ctx context.Context, ns, kind string) (map[policy.Target]int32, error) {
	out := map[policy.Target]int32{}
	opts := metav1.ListOptions{Limit: k.PageSize}
	if opts.Limit <= 0 {
		opts.Limit = 500
	}
	one := func(r *int32) int32 {
		if r == nil {
			return 1 // the API's default
		}
		return *r
	}
	for {
		var cont string
		switch kind {
		case "Deployment":
			l, err := k.Client.AppsV1().Deployments(ns).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("list deployments in %s: %w", ns, err)
			}
			for _, o := range l.Items {
				out[policy.Target{Kind: kind, Namespace: ns, Name: o.Name}] = one(o.Spec.Replicas)
			}
			cont = l.Continue
		case "StatefulSet":
			l, err := k.Client.AppsV1().StatefulSets(ns).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("list statefulsets in %s: %w", ns, err)
			}
			for _, o := range l.Items {
				out[policy.Target{Kind: kind, Namespace: ns, Name: o.Name}] = one(o.Spec.Replicas)
			}
			cont = l.Continue
		case "ReplicaSet":
			l, err := k.Client.AppsV1().ReplicaSets(ns).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("list replicasets in %s: %w", ns, err)
			}
			for _, o := range l.Items {
				out[policy.Target{Kind: kind, Namespace: ns, Name: o.Name}] = one(o.Spec.Replicas)
			}
			cont = l.Continue
		case "HorizontalPodAutoscaler":
			l, err := k.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("list horizontalpodautoscalers in %s: %w", ns, err)
			}
			for i := range l.Items {
				h := &l.Items[i]
				out[hpaTarget(h)] = one(h.Spec.MinReplicas)
			}
			cont = l.Continue
		}
		if cont == "" {
			return out, nil
		}
		opts.Continue = cont
	}
}

func hpaTarget(h *autoscalingv2.HorizontalPodAutoscaler) policy.Target {
	return policy.Target{Kind: h.Spec.ScaleTargetRef.Kind, Namespace: h.Namespace, Name: h.Spec.ScaleTargetRef.Name}
}

// scaleOf reads a target's spec.replicas through its scale subresource.
func (k *KubeCluster) scaleOf(ctx context.Context, t policy.Target) (int32, error) {
	if k.Scales == nil || k.Mapper == nil {
		return 0, fmt.Errorf("kind %s: no scale client to read it", t.Kind)
	}
	gvk, err := k.Mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(t.Kind)})
	if err != nil {
		return 0, fmt.Errorf("kind %s: %w", t.Kind, err)
	}
	m, err := k.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return 0, fmt.Errorf("kind %s: %w", t.Kind, err)
	}
	s, err := k.Scales.Scales(t.Namespace).Get(ctx, m.Resource.GroupResource(), t.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	return s.Spec.Replicas, nil
}

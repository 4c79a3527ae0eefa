package actuator_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// One run of the live loop, as headroom run wires it (compiled, not run:
// it needs a cluster).
func ExampleKube() {
	ctx, now := context.Background(), time.Now()
	cfg, err := clientcmd.BuildConfigFromFlags("", clientcmd.RecommendedHomeFile)
	if err != nil {
		panic(err)
	}
	st, err := store.Open("/var/lib/headroom/headroom.db", nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	web := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}
	api := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "api"}
	k, err := actuator.NewKube(cfg, actuator.KubeOptions{
		Log: st, // decision-log rows
		Targets: map[policy.Target]actuator.TargetOptions{
			web: {APIVersion: "apps/v1"},
			api: {APIVersion: "apps/v1", Mode: policy.ModeHPAFloor},
		},
	})
	if err != nil {
		panic(err)
	}
	// First, did the last run's changes converge? (lead-time rows for leadTime: auto)
	cs, err := k.Converge(ctx, now, st, actuator.ConvergeOptions{})
	if err != nil {
		panic(err)
	}
	for t, why := range actuator.NotConverged(cs) {
		fmt.Println(t, "did not converge:", why)
	}
	// Then this run's decisions, re-planned if someone else writes first.
	a, err := k.Apply(ctx, now, actuator.Request{Target: web, Desired: 6, Reason: "forecast q0.95 needs 6",
		Replan: func(current int32) (int32, string) { return max(current, 6), "re-planned after a conflict" }})
	fmt.Println(a, err)
	a, err = k.SetReplicas(ctx, now, api, 4, "window business-hours") // the HPA's minReplicas
	fmt.Println(a, err)
}

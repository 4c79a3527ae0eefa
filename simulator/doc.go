// Package simulator owns what-if replay: a virtual clock stepping through
// recorded demand, a simulated cluster (workloads whose pods become ready
// after their lead time, node pools whose nodes become ready after their
// provisioning delay, pods packed by the policy package's packer, pending
// pods, prices per node-hour) that implements actuator.Actuator, the
// policies compared on it (predictive, reactive, static, scheduled),
// scenarios (growth, spikes, prices, machine shapes, node and zone loss),
// and the accounting: cost, node-hours, unmet demand, waste, utilization,
// scaling actions, recovery times and a monthly budget band.
//
// The package reads no clock and no global randomness: the same inputs and
// seed give the same result, byte for byte. The planner is the policy
// package's code, the same that headroom plan and headroom run call; each
// policy sees only samples at or before the virtual now.
//
// The model, in order of each tick (Options.Tick, 15 s by default, the HPA's
// sync period):
//
//  1. scenario events at this instant (a zone or nodes lost, a price change);
//  2. nodes and pods whose start-up delay has passed become ready; the pools
//     reconcile their node count toward the desired size (as a Cluster API
//     MachineDeployment does, replacing lost machines; a smaller size drains
//     the newest nodes still starting, then the emptiest); every pod is bound
//     to a node, and a node that goes takes its pods with it (they are
//     recreated pending); pending pods are bound, workload by workload, into
//     the zone with the fewest of the workload's pods among those with room,
//     onto the oldest ready node there (zone spreading and a first fit), the
//     workload's preferred pool first; a newly bound pod is ready after its
//     workload's lead time;
//  3. the policy acts through the actuator (the planner on the plan's
//     interval, the HPA and the node autoscaler of the reactive baseline on
//     every tick), and step 2 runs again;
//  4. accounting over [now, now + tick): demand is the trace sample in
//     effect (scaled by the plan's factor and the scenario), capacity is
//     ready replicas × request × utilization ceiling, for CPU and, when the
//     trace has a memory column, for memory; demand above capacity is unmet,
//     capacity above demand is waste; every node that exists (provisioning
//     included) is paid for.
//
// The policies:
//
//   - predictive is headroom: every plan interval, policy.Replicas on the
//     forecast quantile of every resource with demand and current usage (the
//     reactive floor), then policy.PlanPools on the pods planned ahead by the
//     pools' lead times, with the plan's headroom and budget (what headroom
//     plan does). Forecasts see only samples at or before now, aggregated
//     to the planner's interval by their maximum when the trace is finer:
//     forecast.Auto (with the plan's spec.forecast.seasonality, as headroom
//     plan and report use it) selects a model every Options.Reselect (a day,
//     or sooner once the history has doubled since: the first hours' choice
//     is revisited as the history grows) and refits the chosen one (the best
//     single model when a combination won) on the seasonal periods it was
//     chosen with every Options.Refit (1 h); in between, the fitted model is advanced on
//     each new sample (forecast.Forecast.Advance). Workloads in hpa-floor mode
//     get the decision as their HPA's minimum and an HPA reacts above it;
//     recommend mode is simulated as scale mode (what applying the advice
//     would do).
//   - reactive is the HPA on CPU utilization (and memory, when the trace has
//     it) with the default behavior and a 15 s sync (policy.ReactiveReplicas
//     and policy.Normalize), and a node autoscaler shaped like the
//     cluster-autoscaler: nodes for pending pods at once, beyond the nodes
//     already starting; nodes used under half that the other nodes have room
//     for are removed after ScaleDownUnneeded; no headroom. A scenario's
//     reactiveUtilization sets its HPAs' target (unmet demand is still
//     measured at the plan's ceilings), so that a cost-against-unmet
//     frontier (tools/frontier.sh) compares the policies at equal cost.
//   - static is sized for the run's peak demand, with the plan's headroom:
//     a hindsight baseline (it alone knows the future, by definition).
//   - scheduled is the plan's minimums raised by its scheduled windows.
//
// The budget band (BudgetBand) resamples the day-ahead errors of a
// backtest of every workload's forecast with the run's seed.
//
// Pools are sized per node, for every policy, except where headroom's
// provider sets sizes per zone (GKE node pools in several zones,
// Input.PerZone): there the sizes headroom plans (predictive, scheduled,
// static and every policy's starting size) are rounded up to whole zones,
// as the actuator rounds them; the reactive node autoscaler still adds
// single nodes.
//
// Limits: the scheduler knows no affinities, taints or disruption budgets,
// and drains without respecting them; memory demand counts only for
// workloads whose trace has a memory column (memory requests still count
// when packing pods onto nodes); traces from different periods are aligned
// by whole weeks to the first workload's end, and the run spans the time
// they all cover.
package simulator

// Package actuator owns acting on decisions: the small Actuator interface
// that sets a workload's replicas and a node pool's size, implemented by the
// Kubernetes actuator (headroom run), by the simulator's virtual cluster, and
// here by DryRun, which records what it would do and changes nothing.
//
// Deciding and doing are separate: policy decides (pure values with
// reasons), an Actuator does and says what it did (an Action).
package actuator

// Package actuator owns acting on decisions: the small Actuator interface
// that sets a workload's replicas and a node pool's size, implemented by the
// Kubernetes actuator (Kube, for headroom run), by the simulator's virtual
// cluster, and here by DryRun, which records what it would do and changes
// nothing.
//
// Deciding and doing are separate: policy decides (pure values with
// reasons), an Actuator does and says what it did (an Action).
//
// # Kube
//
// Kube sets replicas through the /scale subresource (k8s.io/client-go/scale
// over a discovery REST mapper), so Deployments, StatefulSets and any custom
// resource with a scale subresource (Cluster API MachineDeployments) are
// reached the same way. It reads the scale, writes only when the count
// differs, and sends the resourceVersion it read: a concurrent writer makes
// the write a 409 Conflict, after which Kube re-reads, re-plans (Apply's
// Request.Replan) and retries, a bounded number of times. With
// KubeOptions.DryRun every write carries dryRun=All: the API server admits
// it and persists nothing.
//
// In scale mode Kube refuses to change a workload that an HPA scales
// (ErrHPAManaged): the two would undo each other's counts. It lists a
// namespace's HPAs before its first change of a run, once per run (a hold
// costs nothing more; an HPA created during a run is seen by the next one).
//
// The mode comes per target from KubeOptions.Targets (the plan's
// workloads[].mode): in hpa-floor mode Kube never touches the workload's
// scale; it patches the minReplicas of the workload's HorizontalPodAutoscaler
// (autoscaling/v2), keeping the user's own value in the annotation
// headroom.dev/original-min-replicas and restoring it, and dropping the
// annotation, when the plan's floor falls back to or below it. In recommend
// mode it only reads.
//
// Every action is recorded three ways: an Event on the object (reasons
// HeadroomScaled, HeadroomHeld, and HeadroomFailed of type Warning; the
// message carries the decision's reason; a change requested with
// Request.Warnings, such as headroom run's QUOTA: ones, is a HeadroomScaled
// Event of type Warning carrying them), the annotation
// headroom.dev/last-decision (compact JSON, LastDecision) and a row in the
// store's decision log (store.Decision, Detail ActionDetail). In hpa-floor
// mode the Event and the annotation are on the HPA, the row is the
// workload's.
//
// Node-pool actions (SetPoolSize) get the same Events and rows. The Event
// goes on the object the provider changes: the MachineDeployment of a Cluster
// API pool, the placeholder Deployment of a balloon pool (the object whose
// replicas are the headroom: kubectl describe shows why it has them). A GKE
// pool has no Kubernetes object, so its Events go on the run's Lease
// (KubeOptions.PoolEventObject): headroom's own object in its namespace,
// held by every run that acts, much as cluster-autoscaler reports node-group
// scale-ups on its own status ConfigMap; the message names the pool. A dry
// run sends pool Events with dryRun=All, as it does workload Events.
//
// The annotation is written only with a change: a hold leaves the object
// as it is (a hold that rewrote the annotation would change every object on
// every run, breaking "running twice makes no second change", waking every
// watcher, and costing a write per workload instead of per change). Holds
// are still recorded by Event and decision-log row.
//
// Events are core/v1 Events written synchronously, rather than through
// client-go's tools/record or tools/events broadcasters: a CronJob run
// exits right after acting, the broadcaster sends from a background
// goroutine and drops what is queued at shutdown, and it logs write errors
// instead of returning them. Written directly, an Event is part of the
// action (its failure is reported in Action.Warnings) and tests see it at
// once.
//
// Repeated Events are aggregated as client-go's correlator aggregates them
// (its EventLogger: same object, type, reason and message → count + 1 and
// a new lastTimestamp on the existing Event), within KubeOptions.EventWindow
// (default one hour, the API server's default --event-ttl). That
// correlator keeps its memory in the process, which a CronJob run ends
// every five minutes, so headroom keeps it in the cluster instead: an
// Event's name is its object's name and a hash of what makes it the same,
// each run lists its own Events (field selector source=headroom) once per
// namespace it writes in, and a repeat is one merge patch carrying the
// listed resourceVersion (a conflict or a name taken since the list
// re-lists that one Event). A workload stuck for a day is one Event with a
// count, not 288. The price is one list per namespace and run; a new Event
// is still one create and a repeat one patch.
//
// Closing the loop: Converge reads the previous runs' changes from the
// decision log and checks that they reached their count (Ready pods of the
// workload, Ready nodes of the pool), says why not (unschedulable pods,
// crash loops, quota and other FailedCreate) with Warning Events
// (HeadroomNotConverged; a pool's on the object its resize's Event went on,
// which the decision log carries from check to check) and decision-log rows, and logs each measured lead
// time as a "lead-time" row (LeadTimeDetail). It reads only the last two
// hours of the log: each "not-converged" row carries its change to the next
// check, for up to a day.
//
// # RBAC
//
// What Kube calls, by API group (KubeRules returns it as rbacv1 rules; the
// ClusterRole in deploy/ must cover it, and an integration test runs Kube
// through a service account granted exactly these):
//
//	""                                    events                     create, patch     (every action; patch counts a
//	                                                                                    repeated Event on the existing one)
//	""                                    events                     list              (once per namespace and run: the
//	                                                                                    Events a repeat is counted on)
//	""                                    pods                       list              (Converge: Ready pods, reasons)
//	""                                    events                     list              (Converge: FailedCreate on non-Deployment workloads)
//	""                                    nodes                      list              (Converge: node pools)
//	apps                                  deployments/scale          get, update       (scale mode; also read in recommend
//	apps                                  statefulsets/scale         get, update        mode and by Converge)
//	apps                                  deployments, statefulsets  patch             (the last-decision annotation)
//	apps                                  replicasets                list              (Converge: ReplicaFailure / quota)
//	autoscaling                           horizontalpodautoscalers   get, list, patch  (hpa-floor mode; list also before
//	                                                                                    a scale-mode change: see below)
//	cluster.x-k8s.io                      machinedeployments/scale   get, update       (Cluster API pools and targets)
//	cluster.x-k8s.io                      machinedeployments         patch             (annotation)
//	<any CRD group of a target>           <resource>/scale           get, update
//	<any CRD group of a target>           <resource>                 patch
//
// plus discovery (the non-resource URLs /api and /apis, granted to every
// authenticated user by the default system:discovery ClusterRole). With
// --dry-run the same verbs are needed: a server-side dry run is authorised
// as the write itself.
package actuator

package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// ConvergeOptions configure Converge. The zero value reads two hours of the
// log, follows a change for a day, and checks every workload and pool.
type ConvergeOptions struct {
	// Lookback is how far back the decision log is read; 0 means DefaultLookback. It must
	// exceed the time between runs: a change that has not converged is carried from run to
	// run by the "not-converged" row each check writes, so only the last run's rows are needed,
	// and the log (one row per workload and run, and the runner's own) is not read for a day.
	Lookback time.Duration
	// MaxAge is how long a change that does not converge is followed; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Include, when set, limits the check to the workloads (and pools: Kind metrics.KindNodePool)
	// it accepts, e.g. a shard's share.
	Include func(metrics.Workload) bool
	// Parallel bounds the changes checked at a time (each reads a scale and lists pods, and may
	// write an Event and rows); 0 or 1 checks one at a time. headroom run passes its --parallel,
	// the bound of its changes. The result's order does not depend on it.
	Parallel int
}

// Convergence is what Converge found for one earlier change.
type Convergence struct {
	Workload metrics.Workload `json:"workload"`
	// Mode is the target's mode ("scale", "hpa-floor"; "" for pools).
	Mode      string    `json:"mode,omitempty"`
	DecidedAt time.Time `json:"decidedAt"`
	From      int       `json:"from"`
	Desired   int       `json:"desired"`
	// Ready counts the Ready pods of the workload (Ready nodes of the pool).
	Ready     int  `json:"ready"`
	Converged bool `json:"converged"`
	// LeadTime is the time from the decision to the moment the Desired-th pod (node) became Ready,
	// from the Ready conditions' lastTransitionTime. It is measured for scale-ups that converged,
	// and is 0 otherwise (see Measured).
	LeadTime time.Duration `json:"leadTime,omitempty"`
	Measured bool          `json:"measured,omitempty"`
	// Reasons say why a change has not converged: unschedulable pods, crash loops, quota or other
	// failures to create pods, nodes not Ready.
	Reasons []string `json:"reasons,omitempty"`
	// Warnings are what Converge could not record (an Event, a decision-log row).
	Warnings []string `json:"warnings,omitempty"`
}

// Defaults of ConvergeOptions.
const (
	DefaultLookback = 2 * time.Hour
	DefaultMaxAge   = 24 * time.Hour
)

// LeadTimeDetail is the Detail JSON of "lead-time" decision-log rows (the
// policy reads it for leadTime: auto).
type LeadTimeDetail struct {
	Seconds   float64 `json:"seconds"`
	Desired   int     `json:"desired"`
	DecidedAt string  `json:"decidedAt"` // RFC 3339
}

// ConvergeDetail is the Detail JSON of "converged" and "not-converged"
// rows: the change checked (a not-converged row carries it to the next run)
// and what was found.
type ConvergeDetail struct {
	DecidedAt  string   `json:"decidedAt"` // RFC 3339
	Mode       string   `json:"mode,omitempty"`
	APIVersion string   `json:"apiVersion,omitempty"`
	From       int      `json:"from"`
	Desired    int      `json:"desired"`
	Ready      int      `json:"ready"`
	Reasons    []string `json:"reasons,omitempty"`
	// Object is the pool's object (ActionDetail.Object), carried to the next check.
	Object *corev1.ObjectReference `json:"object,omitempty"`
}

// pending is a change not yet seen to converge.
type pending struct {
	w   metrics.Workload
	at  time.Time
	det ActionDetail
}

// pendingChanges returns, from decision-log rows in time order, the latest change
// (scale or floor) of each workload and pool that no later "converged" row
// closed. A later change replaces an earlier one; holds, failures and
// dry runs are not changes. A "not-converged" row stands for the change it
// checked, so a change older than the rows read is still followed.
func pendingChanges(rows []store.Decision) []pending {
	latest := map[metrics.Workload]*pending{}
	for _, r := range rows {
		switch r.Action {
		case LogScale, LogFloor:
			p := &pending{w: r.Workload, at: r.T}
			if err := json.Unmarshal(r.Detail, &p.det); err != nil {
				continue // not a row Kube wrote
			}
			latest[r.Workload] = p
		case LogNotConverged:
			var d ConvergeDetail
			if json.Unmarshal(r.Detail, &d) != nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, d.DecidedAt)
			if err != nil {
				continue
			}
			if p, ok := latest[r.Workload]; ok && p.at.After(at) {
				continue // a newer change than the one this row checked
			}
			latest[r.Workload] = &pending{w: r.Workload, at: at, det: ActionDetail{Mode: d.Mode, APIVersion: d.APIVersion, From: d.From, To: d.Desired, Object: d.Object}}
		case LogConverged:
			if p, ok := latest[r.Workload]; ok && !r.T.Before(p.at) {
				delete(latest, r.Workload)
			}
		}
	}
	out := make([]pending, 0, len(latest))
	for _, p := range latest {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].w.String() < out[j].w.String() })
	return out
}

// Converge checks whether the changes of earlier runs, read from the
// decision log, converged: a workload when its Ready pods reach the count
// set (pods found through the selector of its /scale status; in hpa-floor
// mode the HPA's new minReplicas), a pool when its Ready nodes do. For each
// change that converged it writes a "converged" row and, for an increase, a
// "lead-time" row (LeadTimeDetail); for each that did not, a Warning Event
// (HeadroomNotConverged) on the workload (on a pool's object, as for its
// resize: see SetPoolSize) and a "not-converged" row with the
// reasons (which carries the change to the next run's check, so only the
// last ConvergeOptions.Lookback of the log is read). Rows go to
// KubeOptions.Log. Call it each run before applying the run's own
// decisions. It checks ConvergeOptions.Parallel changes at a time and returns
// them in the same order whatever that bound (by workload). The error is
// about reading the log; a workload that cannot be checked is reported in
// its Convergence.
func (k *Kube) Converge(ctx context.Context, now time.Time, log DecisionReader, o ConvergeOptions) ([]Convergence, error) {
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	rows, err := log.Decisions(ctx, metrics.Workload{}, now.Add(-o.Lookback), now)
	if err != nil {
		return nil, fmt.Errorf("actuator: read the decision log: %w", err)
	}
	var todo []pending
	pools := false
	for _, p := range pendingChanges(rows) {
		if now.Sub(p.at) > o.MaxAge || (o.Include != nil && !o.Include(p.w)) {
			continue
		}
		todo = append(todo, p)
		pools = pools || p.w.Kind == metrics.KindNodePool
	}
	// The nodes, listed once for every pool.
	var nodes []corev1.Node
	var nodesErr error
	if pools {
		l, err := k.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			nodesErr = err
		} else {
			nodes = l.Items
		}
	}
	out := make([]Convergence, len(todo))
	check := func(i int) {
		p := todo[i]
		c := Convergence{Workload: p.w, Mode: p.det.Mode, DecidedAt: p.at, From: p.det.From, Desired: p.det.To}
		var ref objectRef
		var readyAt []time.Time
		switch {
		case p.w.Kind != metrics.KindNodePool:
			ref, readyAt, c.Reasons = k.workloadState(ctx, p, c.Desired)
		case nodesErr != nil:
			c.Reasons = append(c.Reasons, "list nodes: "+nodesErr.Error())
		default:
			readyAt, c.Reasons = k.poolState(nodes, p.w.Name, c.Desired)
		}
		if p.w.Kind == metrics.KindNodePool {
			ref = k.poolRef(p.det.Object)
		}
		c.Ready = len(readyAt)
		c.Converged = c.Ready >= c.Desired && (p.w.Kind == metrics.KindNodePool || ref.known())
		if c.Converged {
			c.Reasons = nil
			if c.Desired > c.From && c.Desired > 0 {
				c.LeadTime, c.Measured = leadTime(readyAt, c.Desired, p.at)
			}
		}
		k.recordConvergence(ctx, now, &c, ref, p.det)
		out[i] = c
	}
	// Parallel checks, each writing its own slot: the order is pendingChanges' (by workload).
	par := max(1, o.Parallel)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range todo {
		if par == 1 {
			check(i)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			check(i)
		}()
	}
	wg.Wait()
	return out, nil
}

// leadTime is the time from decidedAt to the moment the desired-th Ready
// time (in order) passed. Conditions carry whole seconds, so a time up to a
// second before decidedAt counts as 0; earlier, the capacity was there
// before the decision and nothing is measured.
func leadTime(readyAt []time.Time, desired int, decidedAt time.Time) (time.Duration, bool) {
	if desired <= 0 || len(readyAt) < desired {
		return 0, false
	}
	ts := append([]time.Time(nil), readyAt...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	d := ts[desired-1].Sub(decidedAt)
	switch {
	case d < -time.Second:
		return 0, false
	case d < 0:
		d = 0
	}
	return d, true
}

// workloadState finds the workload's pods through its scale status, and
// returns the Ready times of its Ready pods and, when too few are Ready, why.
func (k *Kube) workloadState(ctx context.Context, p pending, desired int) (objectRef, []time.Time, []string) {
	t := policy.Target{Kind: p.w.Kind, Namespace: p.w.Namespace, Name: p.w.Name}
	apiVersion := p.det.APIVersion
	if apiVersion == "" {
		apiVersion = k.opt.Targets[t].APIVersion
	}
	m, err := k.mapping(t, apiVersion)
	ref := targetRef(t, m)
	if err != nil {
		return objectRef{}, nil, []string{err.Error()}
	}
	sc, err := k.c.Scales.Scales(t.Namespace).Get(ctx, m.Resource.GroupResource(), t.Name, metav1.GetOptions{})
	if err != nil {
		return objectRef{}, nil, []string{"read scale: " + err.Error()}
	}
	ref.uid, ref.rv = string(sc.UID), sc.ResourceVersion
	if sc.Status.Selector == "" {
		return ref, nil, []string{"its scale subresource reports no selector: pods cannot be found"}
	}
	pods, err := k.c.Kube.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sc.Status.Selector})
	if err != nil {
		return ref, nil, []string{"list pods: " + err.Error()}
	}
	var live []corev1.Pod
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			live = append(live, pod)
		}
	}
	readyAt, reasons := PodsState(live)
	if len(readyAt) >= desired {
		return ref, readyAt, nil
	}
	if len(live) < desired {
		why := k.createFailures(ctx, t, m.GroupVersionKind.Group, sc.Status.Selector)
		reasons = append(reasons, fmt.Sprintf("only %d of %d pods exist", len(live), desired)+why)
	}
	return ref, readyAt, reasons
}

// PodsState returns the Ready times of the Ready pods and, for the others,
// the reasons they are not Ready, counted (unschedulable, crash-looping,
// image pulls, other waiting reasons, pending).
func PodsState(pods []corev1.Pod) ([]time.Time, []string) {
	var readyAt []time.Time
	type count struct {
		n     int
		first string
	}
	counts := map[string]*count{}
	var order []string
	note := func(key, detail string) {
		c := counts[key]
		if c == nil {
			c = &count{first: detail}
			counts[key] = c
			order = append(order, key)
		}
		c.n++
	}
	for _, p := range pods {
		if ok, at := podReady(&p); ok {
			readyAt = append(readyAt, at)
			continue
		}
		if c := podCondition(&p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
			if c.Reason == corev1.PodReasonUnschedulable {
				note("unschedulable", c.Message)
			} else {
				note("not scheduled ("+c.Reason+")", c.Message)
			}
			continue
		}
		if why, msg := waiting(&p); why != "" {
			if why == "CrashLoopBackOff" {
				note("crash-looping", msg)
			} else {
				note("waiting: "+why, msg)
			}
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			note("pending", "")
		} else {
			note("running but not Ready", "")
		}
	}
	reasons := make([]string, 0, len(order))
	for _, key := range order {
		c := counts[key]
		pods := "pods"
		if c.n == 1 {
			pods = "pod"
		}
		s := fmt.Sprintf("%d %s %s", c.n, pods, key)
		if c.first != "" {
			s += ": " + c.first
		}
		reasons = append(reasons, s)
	}
	return readyAt, reasons
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(p *corev1.Pod) (bool, time.Time) {
	c := podCondition(p, corev1.PodReady)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false, time.Time{}
	}
	return true, c.LastTransitionTime.Time
}

// waiting returns the first waiting reason of the pod's containers (init
// containers first), with the container's name and message.
func waiting(p *corev1.Pod) (string, string) {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				msg := "container " + cs.Name
				if cs.RestartCount > 0 {
					msg += fmt.Sprintf(" restarted %d times", cs.RestartCount)
				}
				if w.Message != "" {
					msg += ": " + w.Message
				}
				return w.Reason, msg
			}
		}
	}
	return "", ""
}

// createFailures says why pods were not created: the ReplicaFailure
// condition of a Deployment's ReplicaSets (quota, admission), or the
// FailedCreate Events of other workloads. "" when nothing says.
func (k *Kube) createFailures(ctx context.Context, t policy.Target, group, selector string) string {
	var why []string
	if group == appsv1.GroupName && t.Kind == "Deployment" {
		rss, err := k.c.Kube.AppsV1().ReplicaSets(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return "; list ReplicaSets: " + err.Error()
		}
		for _, rs := range rss.Items {
			if !ownedBy(rs.OwnerReferences, t) {
				continue
			}
			for _, c := range rs.Status.Conditions {
				if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
					why = append(why, fmt.Sprintf("ReplicaSet %s %s: %s", rs.Name, c.Reason, c.Message))
				}
			}
		}
	} else {
		sel := fields.Set{"involvedObject.name": t.Name, "involvedObject.kind": t.Kind, "reason": "FailedCreate"}.AsSelector().String()
		evs, err := k.c.Kube.CoreV1().Events(t.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return "; list events: " + err.Error()
		}
		if n := len(evs.Items); n > 0 {
			sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
			why = append(why, "FailedCreate: "+evs.Items[n-1].Message)
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "; " + strings.Join(why, "; ")
}

func ownedBy(refs []metav1.OwnerReference, t policy.Target) bool {
	for _, r := range refs {
		if r.Kind == t.Kind && r.Name == t.Name {
			return true
		}
	}
	return false
}

// poolState returns the Ready times of the pool's Ready nodes and, when too
// few are Ready, why.
func (k *Kube) poolState(nodes []corev1.Node, pool string, desired int) ([]time.Time, []string) {
	var readyAt []time.Time
	var notReady []string
	for _, n := range nodes {
		if k.poolOf(n.Labels) != pool || n.DeletionTimestamp != nil {
			continue
		}
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
				readyAt = append(readyAt, c.LastTransitionTime.Time)
			}
		}
		if !ready {
			notReady = append(notReady, n.Name)
		}
	}
	if len(readyAt) >= desired {
		return readyAt, nil
	}
	why := fmt.Sprintf("%d of %d nodes Ready", len(readyAt), desired)
	if len(notReady) > 0 {
		sort.Strings(notReady)
		why += fmt.Sprintf("; not Ready: %s", strings.Join(notReady, ", "))
	}
	return readyAt, []string{why}
}

// poolOf names a node's pool as metrics/kube does, Unpooled when it has none.
func (k *Kube) poolOf(labels map[string]string) string {
	if p := mkube.PoolOf(labels, k.opt.PoolLabel); p != "" {
		return p
	}
	return mkube.Unpooled
}

// recordConvergence writes the rows (and, when not converged, the Warning
// Event) of one check.
func (k *Kube) recordConvergence(ctx context.Context, now time.Time, c *Convergence, ref objectRef, change ActionDetail) {
	at := c.DecidedAt.UTC().Format(time.RFC3339Nano)
	det, _ := json.Marshal(ConvergeDetail{DecidedAt: at, Mode: c.Mode, APIVersion: change.APIVersion, From: c.From, Desired: c.Desired, Ready: c.Ready,
		Reasons: c.Reasons, Object: change.Object})
	var rows []store.Decision
	if c.Converged {
		reason := fmt.Sprintf("%d of %d Ready", c.Ready, c.Desired)
		if c.Measured {
			reason += fmt.Sprintf(" %v after the decision", c.LeadTime)
		}
		rows = append(rows, store.Decision{T: now, Workload: c.Workload, Action: LogConverged, Reason: reason, Detail: det})
		if c.Measured {
			lt, _ := json.Marshal(LeadTimeDetail{Seconds: c.LeadTime.Seconds(), Desired: c.Desired, DecidedAt: at})
			rows = append(rows, store.Decision{T: now, Workload: c.Workload, Action: LogLeadTime, Reason: fmt.Sprintf("decision to Ready: %v", c.LeadTime), Detail: lt})
		}
	} else {
		msg := fmt.Sprintf("%d of %d Ready %v after the decision at %s: %s", c.Ready, c.Desired, now.Sub(c.DecidedAt).Round(time.Second),
			at, strings.Join(c.Reasons, "; "))
		rows = append(rows, store.Decision{T: now, Workload: c.Workload, Action: LogNotConverged, Reason: msg, Detail: det})
		if ref.known() {
			// The Event leaves out the time since the decision (its lastTimestamp says it), so that
			// the next runs' checks of the same stuck change count on one Event (see event).
			evMsg := fmt.Sprintf("%d of %d Ready since the decision at %s: %s", c.Ready, c.Desired, at, strings.Join(c.Reasons, "; "))
			if c.Workload.Kind == metrics.KindNodePool {
				evMsg = "node pool " + c.Workload.Name + ": " + evMsg
			}
			if err := k.event(ctx, now, ref, corev1.EventTypeWarning, EventNotConverged, "Converge", evMsg); err != nil {
				c.Warnings = append(c.Warnings, "event: "+err.Error())
			}
		}
	}
	if k.opt.DryRun {
		return // a dry run's log has no changes to converge; keep it free of checks too
	}
	if err := k.appendLog(ctx, rows...); err != nil {
		c.Warnings = append(c.Warnings, "decision log: "+err.Error())
	}
}

// NotConverged maps the changes that did not converge to their reasons
// joined by "; ", by target (a pool as Target{Kind: metrics.KindNodePool,
// Name: pool}).
func NotConverged(cs []Convergence) map[policy.Target]string {
	out := map[policy.Target]string{}
	for _, c := range cs {
		if !c.Converged {
			out[policy.Target{Kind: c.Workload.Kind, Namespace: c.Workload.Namespace, Name: c.Workload.Name}] = strings.Join(c.Reasons, "; ")
		}
	}
	return out
}

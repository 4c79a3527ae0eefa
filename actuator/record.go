package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// DecisionLog receives decision-log rows (*store.Store satisfies it).
type DecisionLog interface {
	AppendDecisions(ctx context.Context, ds []store.Decision) error
}

// DecisionReader reads the decision log back (*store.Store satisfies it).
type DecisionReader interface {
	Decisions(ctx context.Context, w metrics.Workload, from, to time.Time) ([]store.Decision, error)
}

// LastDecision is the JSON of the AnnotationLastDecision annotation.
type LastDecision struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"` // LogScale or LogFloor
	Mode    string    `json:"mode"`
	From    int       `json:"from"`
	To      int       `json:"to"`
	Reason  string    `json:"reason"`
	Manager string    `json:"manager,omitempty"` // the reporting instance
}

// ActionDetail is the Detail JSON of the decision-log rows Kube writes for
// actions (scale, floor, hold, failed, dry-run).
type ActionDetail struct {
	Kind       string `json:"kind"` // Action.Kind
	Mode       string `json:"mode,omitempty"`
	From       int    `json:"from"`
	To         int    `json:"to"`
	HPA        string `json:"hpa,omitempty"`
	Conflicts  int    `json:"conflicts,omitempty"`
	DryRun     bool   `json:"dryRun,omitempty"`
	Error      string `json:"error,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
	// Object is a pool action's object (Action.Object), for Converge's Warning Event.
	Object *corev1.ObjectReference `json:"object,omitempty"`
}

// logAction is the decision-log action of an Action.
func logAction(a *Action, err error) string {
	switch {
	case err != nil:
		return LogFailed
	case !a.Changed:
		return LogHold
	case a.DryRun:
		return LogDryRun
	case a.Kind == KindHPAFloor:
		return LogFloor
	}
	return LogScale
}

// record writes the Event, the annotation (on a change, for /scale
// targets: hpa-floor writes its annotation with the HPA patch) and the
// decision-log row of an action. Failures become Action.Warnings. A change
// made with warn (Request.Warnings) is a Warning Event carrying them.
func (k *Kube) record(ctx context.Context, now time.Time, a *Action, obj objectRef, err error, warn []string) {
	act := logAction(a, err)
	if obj.known() {
		typ, reason, msg := corev1.EventTypeNormal, EventHeld, ""
		what := a.Kind.String()
		if a.Kind == KindPoolSize { // the object (a Lease for GKE) may stand for several pools
			what = "node pool " + a.Pool + " size"
		}
		switch act {
		case LogFailed:
			typ, reason = corev1.EventTypeWarning, EventFailed
			msg = fmt.Sprintf("failed to set %s to %d: %v (decision: %s)", what, a.To, err, a.Reason)
		case LogHold:
			msg = fmt.Sprintf("%s held at %d: %s", what, a.To, a.Reason)
		default:
			reason = EventScaled
			msg = fmt.Sprintf("%s %d → %d: %s", what, a.From, a.To, a.Reason)
			if a.From < 0 { // a pool whose object was created (a new balloon Deployment)
				msg = fmt.Sprintf("%s set to %d: %s", what, a.To, a.Reason)
			}
			if len(warn) > 0 {
				typ = corev1.EventTypeWarning
				msg += "; " + strings.Join(warn, "; ")
			}
		}
		if werr := k.event(ctx, now, obj, typ, reason, actionVerb(act), msg); werr != nil {
			a.Warnings = append(a.Warnings, "event: "+werr.Error())
		}
		if a.Changed && err == nil && a.Kind == KindReplicas {
			if werr := k.annotate(ctx, obj, k.lastDecision(now, act, a)); werr != nil {
				a.Warnings = append(a.Warnings, "annotation: "+werr.Error())
			}
		}
	}
	d := ActionDetail{Kind: a.Kind.String(), Mode: a.Mode, From: a.From, To: a.To, HPA: a.HPA, Conflicts: a.Conflicts, DryRun: a.DryRun}
	switch a.Kind {
	case KindReplicas:
		d.APIVersion = obj.apiVersion
	case KindHPAFloor: // obj is the HPA; the row is the target's
		d.APIVersion = k.opt.Targets[a.Target].APIVersion
	case KindPoolSize:
		d.Object = a.Object
	}
	row := store.Decision{T: now, Workload: actionWorkload(a), Action: act, Reason: a.Reason}
	if err != nil {
		d.Error = err.Error()
	}
	row.Detail, _ = json.Marshal(d)
	if werr := k.appendLog(ctx, row); werr != nil {
		a.Warnings = append(a.Warnings, "decision log: "+werr.Error())
	}
}

func actionVerb(act string) string {
	switch act {
	case LogFailed:
		return "Failed"
	case LogHold:
		return "Hold"
	case LogFloor:
		return "Floor"
	case LogConverged, LogNotConverged:
		return "Converge"
	}
	return "Scale"
}

func actionWorkload(a *Action) metrics.Workload {
	if a.Kind == KindPoolSize {
		return metrics.Workload{Kind: metrics.KindNodePool, Name: a.Pool}
	}
	return metrics.Workload{Kind: a.Target.Kind, Namespace: a.Target.Namespace, Name: a.Target.Name}
}

// appendLog writes decision-log rows. The rows are written even when ctx
// is already done (an action that failed on the run's deadline is still
// recorded), within a few seconds of their own.
func (k *Kube) appendLog(ctx context.Context, rows ...store.Decision) error {
	if k.opt.Log == nil || len(rows) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return k.opt.Log.AppendDecisions(ctx, rows)
}

func (k *Kube) lastDecision(now time.Time, act string, a *Action) []byte {
	b, _ := json.Marshal(LastDecision{Time: now.UTC(), Action: act, Mode: a.Mode, From: a.From, To: a.To, Reason: a.Reason, Manager: k.opt.Instance})
	return b
}

// annotate sets the last-decision annotation with a merge patch.
func (k *Kube) annotate(ctx context.Context, obj objectRef, last []byte) error {
	if obj.gvr.Resource == "" {
		return fmt.Errorf("no resource for %s %s/%s", obj.kind, obj.namespace, obj.name)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationLastDecision: string(last)}}})
	_, err := k.c.Dynamic.Resource(obj.gvr).Namespace(obj.namespace).Patch(ctx, obj.name, types.MergePatchType, patch,
		metav1.PatchOptions{DryRun: k.dryRun(), FieldManager: k.opt.Component})
	return err
}

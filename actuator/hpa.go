package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/headroom-dev/headroom/internal/ctxsleep"
	"github.com/headroom-dev/headroom/policy"
)

// Floor is the outcome of planning an HPA's minReplicas (PlanFloor).
type Floor struct {
	// Min is the minReplicas to set.
	Min int32
	// Original is the user's own minReplicas; Raised says Min is above it, so the annotation
	// keeping Original must be present (and absent otherwise).
	Original int32
	Raised   bool
	// Capped says the desired floor was above the HPA's maxReplicas and was cut to it.
	Capped bool
}

// PlanFloor plans an HPA's minReplicas. current is the HPA's minReplicas
// now, original the user's value from the annotation when headroom raised it
// before (hasOriginal), desired the plan's floor, max the HPA's
// maxReplicas. headroom only raises: a desired floor at or below the user's
// restores the user's value and drops the annotation. The floor never passes
// maxReplicas (the API server would refuse it).
func PlanFloor(current, original int32, hasOriginal bool, desired, max int32) Floor {
	if !hasOriginal {
		original = current
	}
	f := Floor{Min: max32(desired, original), Original: original}
	if max > 0 && f.Min > max {
		f.Min, f.Capped = max32(max, original), true
	}
	f.Raised = f.Min > original
	return f
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// hpaMin is an HPA's minReplicas (1 when unset, as the API defaults it).
func hpaMin(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas != nil {
		return *h.Spec.MinReplicas
	}
	return 1
}

// findHPA returns the target's HPA: the one named in the options, else the
// one named like the target if it scales the target, else the first (by
// name) in the namespace that does.
func (k *Kube) findHPA(ctx context.Context, t policy.Target, name string) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	hpas := k.c.Kube.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace)
	if name != "" {
		h, err := hpas.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("actuator: %s: read HPA: %w", t, err)
		}
		if !scales(h, t) {
			return nil, fmt.Errorf("actuator: %s: HPA %s scales %s/%s, not the target", t, name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		}
		return h, nil
	}
	h, err := hpas.Get(ctx, t.Name, metav1.GetOptions{})
	switch {
	case err == nil && scales(h, t):
		return h, nil
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("actuator: %s: read HPA: %w", t, err)
	}
	list, err := hpas.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("actuator: %s: list HPAs: %w", t, err)
	}
	for i := range list.Items { // the API lists in name order
		if scales(&list.Items[i], t) {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("actuator: %s: hpa-floor mode but no HorizontalPodAutoscaler in %s scales it", t, t.Namespace)
}

func scales(h *autoscalingv2.HorizontalPodAutoscaler, t policy.Target) bool {
	return h.Spec.ScaleTargetRef.Kind == t.Kind && h.Spec.ScaleTargetRef.Name == t.Name
}

var hpaGVR = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}

// floor sets the minReplicas of the target's HPA with a merge patch that
// carries the resourceVersion read (so a concurrent change is a 409), the
// original-value annotation and the last-decision annotation, in one write.
func (k *Kube) floor(ctx context.Context, now time.Time, r Request, to TargetOptions) (Action, objectRef, error) {
	t := r.Target
	a := Action{Time: now, Kind: KindHPAFloor, Target: t, From: -1, To: int(r.Desired), Reason: r.Reason, DryRun: k.opt.DryRun, Mode: policy.ModeHPAFloor.String()}
	ref := objectRef{gvr: hpaGVR, apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespace: t.Namespace, name: to.HPA}
	desired, reason := r.Desired, r.Reason
	bo := k.backoff()
	for attempt := 0; ; attempt++ {
		h, err := k.findHPA(ctx, t, to.HPA)
		if err != nil {
			if ref.name == "" { // record the failure on the target itself
				ref = objectRef{kind: t.Kind, apiVersion: to.APIVersion, namespace: t.Namespace, name: t.Name}
			}
			return a, ref, err
		}
		ref.name, ref.uid, ref.rv, a.HPA = h.Name, string(h.UID), h.ResourceVersion, h.Name
		cur := hpaMin(h)
		a.From = int(cur)
		if attempt > 0 && r.Replan != nil {
			desired, reason = r.Replan(cur)
			a.Reason = reason
		}
		if desired < 0 {
			return a, ref, fmt.Errorf("actuator: %s: negative minReplicas %d", t, desired)
		}
		orig, hasOrig, err := originalMin(h)
		if err != nil {
			return a, ref, fmt.Errorf("actuator: %s: %w", t, err)
		}
		annotated := hasOrig
		if hasOrig && userEdited(h, cur) {
			// Someone set minReplicas since headroom raised it: that is the user's floor now.
			orig, hasOrig = cur, false
			a.Reason += fmt.Sprintf(" (minReplicas %d set by someone else is the HPA's own now)", cur)
		}
		f := PlanFloor(cur, orig, hasOrig, desired, h.Spec.MaxReplicas)
		a.To = int(f.Min)
		if f.Capped {
			a.Reason += fmt.Sprintf(" (capped at the HPA's maxReplicas %d)", h.Spec.MaxReplicas)
		}
		if !f.Raised && hasOrig {
			a.Reason += fmt.Sprintf(" (restoring the HPA's own minReplicas %d)", f.Original)
		}
		if f.Min == cur && f.Raised == annotated {
			return a, ref, nil
		}
		if k.opt.BeforeUpdate != nil {
			k.opt.BeforeUpdate(ctx, t, attempt)
		}
		ann := map[string]any{AnnotationLastDecision: string(k.lastDecision(now, LogFloor, &Action{Mode: a.Mode, From: a.From, To: a.To, Reason: a.Reason}))}
		if f.Raised {
			ann[AnnotationOriginalMinReplicas] = strconv.Itoa(int(f.Original))
		} else {
			ann[AnnotationOriginalMinReplicas] = nil // merge patch: delete
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": h.ResourceVersion, "annotations": ann},
			"spec":     map[string]any{"minReplicas": f.Min},
		})
		got, err := k.c.Kube.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).Patch(ctx, h.Name, types.MergePatchType, patch,
			metav1.PatchOptions{DryRun: k.dryRun(), FieldManager: k.opt.Component})
		if err == nil {
			a.Changed = f.Min != cur // an annotation-only fix (a stale original) is not a count change
			ref.rv = got.ResourceVersion
			return a, ref, nil
		}
		if !apierrors.IsConflict(err) {
			return a, ref, fmt.Errorf("actuator: %s: patch HPA %s: %w", t, h.Name, err)
		}
		a.Conflicts++
		if attempt >= k.conflicts() {
			return a, ref, fmt.Errorf("actuator: %s: patch HPA %s: gave up after %d conflicts: %w", t, h.Name, a.Conflicts, err)
		}
		if err := ctxsleep.Sleep(ctx, bo.Step()); err != nil {
			return a, ref, err
		}
	}
}

// originalMin reads the original-minReplicas annotation.
func originalMin(h *autoscalingv2.HorizontalPodAutoscaler) (int32, bool, error) {
	v, ok := h.Annotations[AnnotationOriginalMinReplicas]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("HPA %s: annotation %s=%q is not a replica count", h.Name, AnnotationOriginalMinReplicas, v)
	}
	return int32(n), true, nil
}

// userEdited reports whether the HPA's minReplicas is not the one headroom
// last set (from the last-decision annotation).
func userEdited(h *autoscalingv2.HorizontalPodAutoscaler, cur int32) bool {
	var last LastDecision
	if err := json.Unmarshal([]byte(h.Annotations[AnnotationLastDecision]), &last); err != nil || last.Action != LogFloor {
		return false
	}
	return last.To != int(cur)
}

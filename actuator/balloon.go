package actuator

import (
	"context"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Balloon defaults. The priority follows cluster-autoscaler's
// overprovisioning FAQ: -10 is below every real pod's (0 by default), so
// the scheduler preempts balloon pods for them, and not below
// cluster-autoscaler's --expendable-pods-priority-cutoff (default -10), so
// Pending balloon pods still trigger a scale-up.
const (
	BalloonImage    = "registry.k8s.io/pause:3.10"
	BalloonPriority = int32(-10)
	// PoolLabel on a balloon Deployment names its plan pool.
	PoolLabel = "headroom.dev/pool"
)

// Balloon holds a pool's forecast headroom as a placeholder Deployment of
// pause pods at a negative priority: (planned nodes − nodes the real pods
// need) × PodsPerNode pods, each requesting 1/PodsPerNode of a node's
// allocatable (machine − overhead). Cluster-autoscaler or Karpenter add
// nodes for the Pending balloon pods ahead of demand; when real pods
// arrive, the scheduler preempts balloon pods to make room at once. It
// creates the PriorityClass and the Deployment when absent and otherwise
// updates only what differs. Works with any cloud's node autoscaler.
type Balloon struct {
	Client                         kubernetes.Interface
	Namespace, Name, PriorityClass string
	// NodeSelector pins the pods to the pool's nodes. Optional.
	NodeSelector map[string]string
	// PodsPerNode splits each headroom node into pods; < 1 means 1.
	PodsPerNode int
	// CPU and Memory are each pod's requests.
	CPU, Memory resource.Quantity
	// Image defaults to BalloonImage.
	Image string
	// DryRun sends every write with dryRun=All.
	DryRun bool
	// Retry bounds the attempts after a conflict; zero means ConflictRetry.
	Retry wait.Backoff
}

// BalloonShare is the per-pod request of a balloon over a pool's machine:
// (machine − overhead) / podsPerNode, rounded down to a millicore and a byte
// so that podsPerNode pods fit one node.
func BalloonShare(machineCPU, machineMemory, overheadCPU, overheadMemory resource.Quantity, podsPerNode int) (cpu, memory resource.Quantity) {
	n := int64(max(podsPerNode, 1))
	milli := (machineCPU.MilliValue() - overheadCPU.MilliValue()) / n
	bytes := (machineMemory.Value() - overheadMemory.Value()) / n
	return *resource.NewMilliQuantity(max(milli, 0), resource.DecimalSI), *resource.NewQuantity(max(bytes, 0), resource.BinarySI)
}

func (b *Balloon) podsPerNode() int { return max(b.PodsPerNode, 1) }

func (b *Balloon) labels(pool string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "headroom-balloon",
		"app.kubernetes.io/instance":   b.Name,
		"app.kubernetes.io/managed-by": ManagedBy,
		PoolLabel:                      pool,
	}
}

// podSpec is the balloon's pod template spec.
func (b *Balloon) podSpec() corev1.PodSpec {
	image := b.Image
	if image == "" {
		image = BalloonImage
	}
	return corev1.PodSpec{
		PriorityClassName:             b.PriorityClass,
		NodeSelector:                  maps.Clone(b.NodeSelector),
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		AutomountServiceAccountToken:  ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true),
			RunAsUser:    ptr.To[int64](65535),
			SeccompProfile: &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeRuntimeDefault,
			},
		},
		Containers: []corev1.Container{{
			Name:  "pause",
			Image: image,
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    b.CPU,
				corev1.ResourceMemory: b.Memory,
			}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

// SetPool sizes the balloon to the request's headroom. Without the pool's
// demand (DemandNodes < 0) it holds: the headroom cannot be told apart from
// the real pods' need.
//
// The Action counts nodes: To is the demand plus the headroom the balloon
// now holds, From the demand plus what it held before (-1 when the
// Deployment did not exist).
func (b *Balloon) SetPool(ctx context.Context, now time.Time, r PoolRequest) (Action, error) {
	a := Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: -1, To: r.Nodes, DryRun: b.DryRun,
		Object: &corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: b.Namespace, Name: b.Name}}
	if r.DemandNodes < 0 {
		a.Reason = joinReason(r.Reason, "held: the pool's demand is unknown, so its headroom cannot be sized")
		return a, nil
	}
	fail := func(err error) (Action, error) {
		a.Changed = false
		return a, fmt.Errorf("actuator: pool %s: balloon %s/%s: %w", r.Pool, b.Namespace, b.Name, err)
	}
	headroom := max(r.Nodes-r.DemandNodes, 0)
	ppn := b.podsPerNode()
	replicas := int32(headroom * ppn)
	a.To = r.DemandNodes + headroom
	a.Reason = joinReason(r.Reason, fmt.Sprintf("balloon holds %d headroom nodes (%d pods of %s CPU, %s memory) above %d demand nodes",
		headroom, replicas, b.CPU.String(), b.Memory.String(), r.DemandNodes))
	var dry []string
	if b.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	if err := b.ensurePriorityClass(ctx, dry); err != nil {
		return fail(err)
	}
	backoff := b.Retry
	if backoff.Steps == 0 {
		backoff = ConflictRetry
	}
	deployments := b.Client.AppsV1().Deployments(b.Namespace)
	err := retry.RetryOnConflict(backoff, func() error {
		cur, err := deployments.Get(ctx, b.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			a.From = -1
			a.Changed = true
			got, err := deployments.Create(ctx, b.deployment(r.Pool, replicas), metav1.CreateOptions{DryRun: dry})
			if err == nil {
				a.Object.UID, a.Object.ResourceVersion = got.UID, got.ResourceVersion
			}
			return err
		}
		if err != nil {
			return err
		}
		if cur.Labels[PoolLabel] != r.Pool || cur.Labels["app.kubernetes.io/managed-by"] != ManagedBy {
			return fmt.Errorf("the Deployment exists but is not headroom's balloon for this pool (labels %s=%q, %s=%q)",
				"app.kubernetes.io/managed-by", cur.Labels["app.kubernetes.io/managed-by"], PoolLabel, cur.Labels[PoolLabel])
		}
		a.Object.UID, a.Object.ResourceVersion = cur.UID, cur.ResourceVersion
		held := 0
		if cur.Spec.Replicas != nil {
			held = (int(*cur.Spec.Replicas) + ppn - 1) / ppn
		}
		a.From = r.DemandNodes + held
		want := b.podSpec()
		if cur.Spec.Replicas != nil && *cur.Spec.Replicas == replicas && sameBalloonPod(cur.Spec.Template.Spec, want) {
			a.Changed = false
			return nil
		}
		cur.Spec.Replicas = ptr.To(replicas)
		cur.Spec.Template.Spec = want
		a.Changed = true
		got, err := deployments.Update(ctx, cur, metav1.UpdateOptions{DryRun: dry})
		if err == nil {
			a.Object.ResourceVersion = got.ResourceVersion
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// sameBalloonPod compares what the balloon sets: priority, selector, image
// and requests.
func sameBalloonPod(got, want corev1.PodSpec) bool {
	if got.PriorityClassName != want.PriorityClassName || !maps.Equal(got.NodeSelector, want.NodeSelector) || len(got.Containers) != 1 {
		return false
	}
	g, w := got.Containers[0], want.Containers[0]
	return g.Image == w.Image &&
		g.Resources.Requests.Cpu().Cmp(*w.Resources.Requests.Cpu()) == 0 &&
		g.Resources.Requests.Memory().Cmp(*w.Resources.Requests.Memory()) == 0
}

func (b *Balloon) deployment(pool string, replicas int32) *appsv1.Deployment {
	labels := b.labels(pool)
	selector := map[string]string{"app.kubernetes.io/name": labels["app.kubernetes.io/name"], "app.kubernetes.io/instance": b.Name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name, Namespace: b.Namespace, Labels: labels, Annotations: map[string]string{
			"headroom.dev/description": "placeholder pods holding node pool " + pool + "'s forecast headroom; real pods preempt them",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       b.podSpec(),
			},
		},
	}
}

// ensurePriorityClass creates the balloon's PriorityClass when absent. An
// existing one must have a negative value, or balloon pods would not be
// preempted by real ones.
func (b *Balloon) ensurePriorityClass(ctx context.Context, dry []string) error {
	pcs := b.Client.SchedulingV1().PriorityClasses()
	pc, err := pcs.Get(ctx, b.PriorityClass, metav1.GetOptions{})
	if err == nil {
		if pc.Value >= 0 {
			return fmt.Errorf("PriorityClass %s has value %d: balloon pods need a negative priority so that real pods preempt them", pc.Name, pc.Value)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: b.PriorityClass, Labels: map[string]string{
			"app.kubernetes.io/name":       "headroom-balloon",
			"app.kubernetes.io/managed-by": ManagedBy,
		}},
		Value:         BalloonPriority,
		GlobalDefault: false,
		Description:   "headroom balloon pods: placeholders that hold forecast node headroom and yield to every real pod",
	}, metav1.CreateOptions{DryRun: dry})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

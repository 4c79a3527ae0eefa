package actuator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// DefaultEventWindow is how long a repeated Event is counted on the
// existing one (KubeOptions.EventWindow): the API server's default
// --event-ttl, after which an Event not written again is deleted anyway.
const DefaultEventWindow = time.Hour

// maxMessage bounds Event messages (events.k8s.io limits notes to 1 kB).
const maxMessage = 1024

// eventSeen is what Kube knows of one of its Events in the cluster.
type eventSeen struct {
	count       int32
	first, last time.Time
	rv          string
}

func seenOf(e *corev1.Event) eventSeen {
	return eventSeen{count: e.Count, first: e.FirstTimestamp.Time, last: e.LastTimestamp.Time, rv: e.ResourceVersion}
}

// nsEvents are headroom's Events in one namespace by name: listed once per
// run (runCache), then kept current with this process's own writes.
type nsEvents struct {
	mu     sync.Mutex
	byName map[string]eventSeen
}

func (n *nsEvents) get(name string) (eventSeen, bool) {
	if n == nil {
		return eventSeen{}, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.byName[name]
	return e, ok
}

func (n *nsEvents) put(e *corev1.Event) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.byName[e.Name] = seenOf(e)
}

// eventName is the Event's name: the object's name and a hash of what
// makes two Events the same (the object with its uid, type, reason,
// reporting component and message), as client-go's event correlator keys
// them. The same Event from any run has the same name, so the run that
// repeats it finds it without a memory of its own.
func eventName(obj objectRef, typ, reason, component, msg string) string {
	h := sha256.New()
	for _, f := range []string{obj.kind, obj.namespace, obj.name, obj.uid, typ, reason, component, msg} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	// A DNS subdomain: at most 253 characters, alphanumeric at both ends of each label.
	prefix := obj.name
	if len(prefix) > 253-len(sum)-1 {
		prefix = prefix[:253-len(sum)-1]
	}
	prefix = strings.TrimRight(prefix, ".-")
	if prefix == "" {
		return sum
	}
	return prefix + "." + sum
}

func (k *Kube) eventWindow() time.Duration {
	if k.opt.EventWindow == 0 {
		return DefaultEventWindow
	}
	return k.opt.EventWindow
}

// event writes a core/v1 Event on obj, synchronously (see doc.go for why).
//
// The same Event (same object, type, reason and message) written again
// within KubeOptions.EventWindow of the last one is counted on the existing
// Event: count + 1 and lastTimestamp moved, as client-go's event correlator
// does, rather than stored as a new object. A CronJob run lives minutes, so
// an in-memory correlator would forget everything between runs: the Event's
// name is derived from what makes it the same (eventName), and Kube lists
// its own Events (source = the component) once per namespace and run, so a
// repeat costs one PATCH, a new Event one POST, plus one LIST per namespace
// that gets an Event. A patch carries the resourceVersion listed; a
// conflict or a name taken since the list re-reads that one Event.
func (k *Kube) event(ctx context.Context, now time.Time, obj objectRef, typ, reason, action, msg string) error {
	if len(msg) > maxMessage {
		cut := maxMessage - len("…")
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	ns := obj.namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	ts := metav1.NewTime(now)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: obj.apiVersion, Kind: obj.kind, Namespace: obj.namespace, Name: obj.name,
			UID: types.UID(obj.uid), ResourceVersion: obj.rv,
		},
		Reason: reason, Message: msg, Type: typ,
		Source:         corev1.EventSource{Component: k.opt.Component},
		FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
		Action:              action,
		ReportingController: "headroom.dev/" + k.opt.Component,
		ReportingInstance:   k.opt.Instance,
	}
	events := k.c.Kube.CoreV1().Events(ns)
	if k.eventWindow() < 0 {
		ev.GenerateName = obj.name + "."
		_, err := events.Create(ctx, ev, metav1.CreateOptions{DryRun: k.dryRun()})
		return err
	}
	ev.Name = eventName(obj, typ, reason, k.opt.Component, msg)
	seen, err := k.events.list(ctx, now, ns, func(ctx context.Context) (*nsEvents, error) {
		return k.listEvents(ctx, ns, "")
	})
	if err != nil {
		seen = nil // unknown: create, and count on the existing Event if there is one
	}
	if e, ok := seen.get(ev.Name); ok {
		return k.repeatEvent(ctx, now, ev, e, seen)
	}
	return k.createEvent(ctx, now, ev, seen)
}

// listEvents lists headroom's Events in ns (only the one named name when
// name is set), page by page.
func (k *Kube) listEvents(ctx context.Context, ns, name string) (*nsEvents, error) {
	sel := fields.Set{"source": k.opt.Component}
	if name != "" {
		sel["metadata.name"] = name
	}
	out := &nsEvents{byName: map[string]eventSeen{}}
	opts := metav1.ListOptions{FieldSelector: sel.AsSelector().String(), Limit: 500}
	for {
		l, err := k.c.Kube.CoreV1().Events(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			out.byName[l.Items[i].Name] = seenOf(&l.Items[i])
		}
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}

// createEvent creates ev under its own name; when the name is taken (the
// Event was written after the list, or the list failed) it counts ev on
// the existing one.
func (k *Kube) createEvent(ctx context.Context, now time.Time, ev *corev1.Event, seen *nsEvents) error {
	got, err := k.c.Kube.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{DryRun: k.dryRun()})
	if err == nil {
		if !k.opt.DryRun {
			seen.put(got)
		}
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	e, ok, err := k.reread(ctx, ev)
	if err != nil || !ok {
		return err
	}
	return k.repeatEvent(ctx, now, ev, e, seen)
}

// reread lists the one Event named as ev (a list, not a get: Kube's RBAC
// reads Events by listing only).
func (k *Kube) reread(ctx context.Context, ev *corev1.Event) (eventSeen, bool, error) {
	one, err := k.listEvents(ctx, ev.Namespace, ev.Name)
	if err != nil {
		return eventSeen{}, false, err
	}
	e, ok := one.get(ev.Name)
	return e, ok, nil
}

// repeatEvent counts ev on the existing Event e: count + 1 and
// lastTimestamp now within the window; past it the series starts again
// (count 1, firstTimestamp now) on the same object. The patch carries e's
// resourceVersion; on a conflict it re-reads and tries again (3 attempts),
// and an Event gone since the list (its TTL) is created again.
func (k *Kube) repeatEvent(ctx context.Context, now time.Time, ev *corev1.Event, e eventSeen, seen *nsEvents) error {
	events := k.c.Kube.CoreV1().Events(ev.Namespace)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		count, first, last := e.count+1, e.first, now
		if now.Sub(e.last) >= k.eventWindow() {
			count, first = 1, now
		}
		if last.Before(e.last) {
			last = e.last // never move lastTimestamp back (a run given an earlier now)
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata":          map[string]any{"resourceVersion": e.rv},
			"count":             count,
			"firstTimestamp":    metav1.NewTime(first),
			"lastTimestamp":     metav1.NewTime(last),
			"reportingInstance": ev.ReportingInstance,
			"involvedObject":    map[string]any{"resourceVersion": ev.InvolvedObject.ResourceVersion},
		})
		var got *corev1.Event
		got, err = events.Patch(ctx, ev.Name, types.MergePatchType, patch, metav1.PatchOptions{DryRun: k.dryRun()})
		switch {
		case err == nil:
			if !k.opt.DryRun {
				seen.put(got)
			}
			return nil
		case apierrors.IsNotFound(err):
			got, err = events.Create(ctx, ev, metav1.CreateOptions{DryRun: k.dryRun()})
			if err == nil && !k.opt.DryRun {
				seen.put(got)
			}
			return err
		case !apierrors.IsConflict(err):
			return err
		}
		var ok bool
		if e, ok, err = k.reread(ctx, ev); err != nil {
			return err
		} else if !ok {
			e = eventSeen{last: now} // deleted meanwhile: the patch gets NotFound and creates it
		}
	}
	return fmt.Errorf("event %s/%s: %w", ev.Namespace, ev.Name, err)
}

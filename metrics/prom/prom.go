package prom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/ctxsleep"
	"github.com/headroom-dev/headroom/metrics"
)

// MaxPoints is the most steps Prometheus returns per series in one range query.
const MaxPoints = 11_000

// PodWorkload is a PromQL expression with one series of value 1 per (namespace, pod, workload_kind,
// workload): a pod's owning workload from kube-state-metrics. {{.Selector}} is the namespace matcher.
const PodWorkload = `topk by (namespace, pod) (1, max by (namespace, pod, workload_kind, workload) (
    kube_pod_owner{owner_kind="ReplicaSet"{{.Selector}}}
    * on (namespace, owner_name) group_left (workload_kind, workload)
    max by (namespace, owner_name, workload_kind, workload) (
      label_replace(label_replace(label_replace(kube_replicaset_owner{owner_kind!="<none>"{{.Selector}}},
        "workload_kind", "$1", "owner_kind", "(.*)"), "workload", "$1", "owner_name", "(.*)"),
        "owner_name", "$1", "replicaset", "(.*)")
    )
  or
    label_replace(label_replace(kube_pod_owner{owner_kind!~"ReplicaSet|<none>|"{{.Selector}}},
      "workload_kind", "$1", "owner_kind", "(.*)"), "workload", "$1", "owner_name", "(.*)")
))`

// Default queries: text/template over Query (see there). Each returns one series per workload.
const (
	DefaultCPU = `sum by (namespace, workload_kind, workload) (
  sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="", container!="POD"{{.Selector}}}[{{.Rate}}]))
  * on (namespace, pod) group_left (workload_kind, workload) ` + PodWorkload + `
)`
	DefaultMemory = `sum by (namespace, workload_kind, workload) (
  sum by (namespace, pod) (container_memory_working_set_bytes{container!="", container!="POD"{{.Selector}}})
  * on (namespace, pod) group_left (workload_kind, workload) ` + PodWorkload + `
)`
)

// Query is what the query templates see.
type Query struct {
	// Selector is `, namespace=~"a|b"` for the configured namespaces, or empty: put it inside a selector's
	// braces after another matcher.
	Selector string
	// Rate is the rate() window: Options.RateWindow, and at least two steps.
	Rate string
}

// WorkloadQuery attributes the result of one query to one workload: the result's series are summed.
type WorkloadQuery struct {
	Workload metrics.Workload
	Resource metrics.Resource
	Query    string // PromQL, a template over Query
}

// Options configure the source. Zero values mean the defaults given.
type Options struct {
	URL        string   // Prometheus base URL, e.g. http://prometheus.monitoring:9090; required
	Namespaces []string // only these namespaces; empty means all
	CPU        string   // replaces DefaultCPU; "" keeps it
	Memory     string   // replaces DefaultMemory; "" keeps it
	// Workloads are per-workload queries: each replaces the plan-wide query of its resource for its
	// workload, which that query then leaves out (see Collect).
	Workloads []WorkloadQuery
	// RateWindow is the rate() window of the CPU counter; it must span at least two scrapes, four to be
	// safe. 0 means 5m (scrapes every 75 s or faster). Collect widens it to two steps when the step is longer.
	RateWindow time.Duration
	Timeout    time.Duration // per request; 0 means 30 s
	MaxPoints  int           // steps per request; 0 means MaxPoints (11,000)
	Retries    int           // retries after the first attempt; 0 means 4, negative means none
	Backoff    time.Duration // first retry delay, doubled each retry up to 30 s; 0 means 1 s
	// Client is the HTTP client's transport; nil means http.DefaultTransport.
	RoundTripper http.RoundTripper
	// Sleep waits between retries; nil means a timer that honours ctx. Tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, when set, is told after each range request (queries × chunks).
	Progress metrics.Progress
}

// Source reads usage from Prometheus.
type Source struct {
	api  v1.API
	opt  Options
	tmpl []query
	// Requests counts query_range requests made (attempts included).
	Requests int
}

type query struct {
	resource metrics.Resource
	workload *metrics.Workload
	tmpl     *template.Template
	text     string
}

// New checks the options and builds a source. Bad options and templates wrap metrics.ErrInvalid.
func New(o Options) (*Source, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("%w: prometheus: no URL", metrics.ErrInvalid)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = MaxPoints
	}
	if o.MaxPoints < 2 {
		return nil, fmt.Errorf("%w: prometheus: MaxPoints %d < 2", metrics.ErrInvalid, o.MaxPoints)
	}
	if o.Retries == 0 {
		o.Retries = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.RateWindow <= 0 {
		o.RateWindow = 5 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = ctxsleep.Sleep
	}
	if o.RoundTripper == nil {
		o.RoundTripper = http.DefaultTransport
	}
	c, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: o.RoundTripper})
	if err != nil {
		return nil, fmt.Errorf("%w: prometheus URL %q: %v", metrics.ErrInvalid, o.URL, err)
	}
	s := &Source{api: v1.NewAPI(c), opt: o}
	add := func(res metrics.Resource, w *metrics.Workload, text, name string) error {
		t, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			return fmt.Errorf("%w: prometheus query %s: %v", metrics.ErrInvalid, name, err)
		}
		s.tmpl = append(s.tmpl, query{resource: res, workload: w, tmpl: t, text: text})
		return nil
	}
	cpu, mem := o.CPU, o.Memory
	if cpu == "" {
		cpu = DefaultCPU
	}
	if mem == "" {
		mem = DefaultMemory
	}
	if err := add(metrics.CPU, nil, cpu, "cpu"); err != nil {
		return nil, err
	}
	if err := add(metrics.Memory, nil, mem, "memory"); err != nil {
		return nil, err
	}
	for i := range o.Workloads {
		wq := &o.Workloads[i]
		if wq.Query == "" || wq.Resource == "" || wq.Workload.Name == "" {
			return nil, fmt.Errorf("%w: prometheus workload query %d: workload, resource and query are required", metrics.ErrInvalid, i)
		}
		if err := add(wq.Resource, &wq.Workload, wq.Query, wq.Workload.String()+"/"+string(wq.Resource)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Name returns "prometheus".
func (s *Source) Name() string { return "prometheus" }

// Collect runs every query over the window. The step must be positive; a window longer than MaxPoints steps
// is split into consecutive requests. Warnings from Prometheus (partial results) come back in the batch.
//
// A workload with its own query (Options.Workloads) for a resource is left out of the plan-wide query of
// that resource inside Prometheus — the query becomes (QUERY) unless on (namespace, workload_kind,
// workload) (a constant series per such workload) — so its default series is neither computed nor sent.
func (s *Source) Collect(ctx context.Context, w metrics.Window) (*metrics.Batch, error) {
	if w.Step <= 0 || w.End.Before(w.Start) {
		return nil, fmt.Errorf("%w: prometheus: window %v to %v step %v", metrics.ErrInvalid, w.Start, w.End, w.Step)
	}
	sel := ""
	if len(s.opt.Namespaces) > 0 {
		quoted := make([]string, len(s.opt.Namespaces))
		for i, n := range s.opt.Namespaces {
			quoted[i] = regexpQuote(n)
		}
		sel = fmt.Sprintf(`, namespace=~"%s"`, strings.Join(quoted, "|"))
	}
	rate := max(s.opt.RateWindow, 2*w.Step)
	data := Query{Selector: sel, Rate: model.Duration(rate).String()}
	b := &metrics.Batch{Source: s.Name(), Window: w}
	chunks := Chunks(w, s.opt.MaxPoints)
	done, total := 0, len(s.tmpl)*len(chunks)
	for _, q := range s.tmpl {
		var text bytes.Buffer
		if err := q.tmpl.Execute(&text, data); err != nil {
			return nil, fmt.Errorf("%w: prometheus query %s: %v", metrics.ErrInvalid, q.tmpl.Name(), err)
		}
		expr := text.String()
		if q.workload == nil {
			expr = s.without(expr, q.resource)
		}
		series := map[string]*metrics.Series{}
		for _, r := range chunks {
			if s.opt.Progress != nil {
				s.opt.Progress(done, total, fmt.Sprintf("%s from %s", q.tmpl.Name(), r.Start.Format("2006-01-02 15:04")))
			}
			m, warnings, err := s.queryRange(ctx, expr, r)
			done++
			if err != nil {
				return nil, fmt.Errorf("prometheus query %s from %s to %s: %w", q.tmpl.Name(),
					r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), err)
			}
			for _, wn := range warnings {
				b.Warnings = append(b.Warnings, fmt.Sprintf("prometheus query %s: %s", q.tmpl.Name(), wn))
			}
			if err := s.add(series, q, m); err != nil {
				return nil, err
			}
		}
		if s.opt.Progress != nil {
			s.opt.Progress(done, total, q.tmpl.Name())
		}
		keys := make([]string, 0, len(series))
		for k := range series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ser := series[k]
			sort.SliceStable(ser.Points, func(i, j int) bool { return ser.Points[i].T.Before(ser.Points[j].T) })
			if q.workload != nil {
				ser.Points = sumByTime(ser.Points)
			}
			b.Series = append(b.Series, *ser)
		}
	}
	return b, nil
}

// without returns a plan-wide query of a resource with the workloads that have their own query for it left out.
func (s *Source) without(expr string, res metrics.Resource) string {
	var vecs []string
	seen := map[metrics.Workload]bool{}
	for _, wq := range s.opt.Workloads {
		if wq.Resource != res || seen[wq.Workload] {
			continue
		}
		seen[wq.Workload] = true
		v := "vector(1)"
		for _, l := range [][2]string{{"namespace", wq.Workload.Namespace}, {"workload_kind", wq.Workload.Kind}, {"workload", wq.Workload.Name}} {
			v = fmt.Sprintf("label_replace(%s, %q, %q, \"\", \"\")", v, l[0], l[1])
		}
		vecs = append(vecs, v)
	}
	if len(vecs) == 0 {
		return expr
	}
	return fmt.Sprintf("(%s) unless on (namespace, workload_kind, workload) (%s)", expr, strings.Join(vecs, " or "))
}

// add files a matrix's series under their workload keys.
func (s *Source) add(series map[string]*metrics.Series, q query, m model.Matrix) error {
	for _, ss := range m {
		var k metrics.Key
		if q.workload != nil {
			k = metrics.Key{Workload: *q.workload, Resource: q.resource}
		} else {
			ns, kind, name := string(ss.Metric["namespace"]), string(ss.Metric["workload_kind"]), string(ss.Metric["workload"])
			if ns == "" || kind == "" || name == "" {
				return fmt.Errorf("%w: prometheus query %s returned series %s without namespace, workload_kind and workload labels",
					metrics.ErrInvalid, q.tmpl.Name(), ss.Metric)
			}
			k = metrics.Key{Workload: metrics.Workload{Kind: kind, Namespace: ns, Name: name}, Resource: q.resource}
			for ln, lv := range ss.Metric {
				switch ln {
				case "namespace", "workload_kind", "workload", model.MetricNameLabel:
				default:
					if k.Labels == nil {
						k.Labels = metrics.Labels{}
					}
					k.Labels[string(ln)] = string(lv)
				}
			}
		}
		ks := k.String()
		ser := series[ks]
		if ser == nil {
			ser = &metrics.Series{Key: k}
			series[ks] = ser
		}
		for _, p := range ss.Values {
			v := float64(p.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			ser.Points = append(ser.Points, metrics.Point{T: p.Timestamp.Time().UTC(), V: v})
		}
	}
	return nil
}

func sumByTime(ps []metrics.Point) []metrics.Point {
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].T.Equal(p.T) {
			out[n-1].V += p.V
			continue
		}
		out = append(out, p)
	}
	return out
}

// Chunks splits a window into consecutive ranges of at most maxPoints steps each (both ends included), so
// that every step of the window is asked for exactly once.
func Chunks(w metrics.Window, maxPoints int) []v1.Range {
	var out []v1.Range
	span := time.Duration(maxPoints-1) * w.Step
	for start := w.Start; !start.After(w.End); {
		end := start.Add(span)
		if end.After(w.End) {
			end = w.End
		}
		out = append(out, v1.Range{Start: start, End: end, Step: w.Step})
		start = end.Add(w.Step)
	}
	return out
}

// queryRange runs one request with its timeout, retrying retryable failures with exponential backoff.
func (s *Source) queryRange(ctx context.Context, q string, r v1.Range) (model.Matrix, []string, error) {
	delay := s.opt.Backoff
	for attempt := 0; ; attempt++ {
		s.Requests++
		actx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
		v, warnings, _, err := s.api.QueryRange(actx, q, r)
		cancel()
		if err == nil {
			m, ok := v.(model.Matrix)
			if !ok {
				return nil, nil, fmt.Errorf("%w: prometheus: result of type %s, want a matrix", metrics.ErrInvalid, v.Type())
			}
			return m, warnings, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if !Retryable(err) {
			return nil, nil, err
		}
		if attempt >= s.opt.Retries {
			return nil, nil, fmt.Errorf("%w: %d attempts: %w", metrics.ErrUnavailable, attempt+1, err)
		}
		if err := s.opt.Sleep(ctx, delay); err != nil {
			return nil, nil, err
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// Retryable reports whether a query error is worth retrying: a server error (5xx), a network error, or a
// request that timed out. Bad queries (400, 422) and other client errors are not.
func Retryable(err error) bool {
	var ae *v1.Error
	if errors.As(err, &ae) {
		return ae.Type == v1.ErrServer || ae.Type == v1.ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed)
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteString(`\\`)
		}
		b.WriteRune(r)
	}
	return b.String()
}

package config

import (
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of spec.run.
const (
	DefaultLeaseDuration = 60 * time.Second
	DefaultPushJob       = "headroom"
)

// Run configures headroom run and headroom serve. Optional.
type Run struct {
	// Lease is the coordination.k8s.io Lease held for each cycle.
	Lease *RunLease `json:"lease,omitempty"`
	// Pushgateway, when set, receives headroom run's metrics at the end of each run.
	Pushgateway *Pushgateway `json:"pushgateway,omitempty"`
}

// RunLease names the Lease a run holds. A sharded run (--shard i/N) holds
// "<name>-<i>", so shards never wait for one another.
type RunLease struct {
	// Namespace of the Lease. Default: $POD_NAMESPACE, else "default" (set by headroom run).
	Namespace string `json:"namespace,omitempty"`
	// Name of the Lease. Default "headroom-<metadata.name>".
	Name string `json:"name,omitempty"`
	// Duration is leaseDurationSeconds: a run that dies leaves the lease
	// to the next after this long. Default 60s; renewed every third of it.
	Duration *Duration `json:"duration,omitempty"`
}

// Pushgateway is where headroom run pushes its metrics.
type Pushgateway struct {
	// URL of the Pushgateway (http://pushgateway.monitoring:9091). Required.
	URL string `json:"url"`
	// Job is the push's job label. Default "headroom".
	Job string `json:"job,omitempty"`
}

func (p *Plan) defaultRun() {
	r := p.Spec.Run
	if r == nil {
		r = &Run{}
		p.Spec.Run = r
	}
	if r.Lease == nil {
		r.Lease = &RunLease{}
	}
	if r.Lease.Name == "" && p.Metadata.Name != "" {
		r.Lease.Name = "headroom-" + p.Metadata.Name
	}
	if r.Lease.Duration == nil {
		r.Lease.Duration = dur(DefaultLeaseDuration)
	}
	if pg := r.Pushgateway; pg != nil && pg.Job == "" {
		pg.Job = DefaultPushJob
	}
}

func (v *validator) run(r *Run) {
	if r == nil {
		return
	}
	if l := r.Lease; l != nil {
		if l.Namespace != "" {
			if errs := validation.IsDNS1123Label(l.Namespace); len(errs) > 0 {
				v.errf("spec.run.lease.namespace", "%q is not a namespace name: %s", l.Namespace, errs[0])
			}
		}
		// Shards append "-<i>": keep room for it.
		if errs := validation.IsDNS1123Subdomain(l.Name + "-999"); l.Name != "" && len(errs) > 0 {
			v.errf("spec.run.lease.name", "%q is not a Lease name: %s", l.Name, errs[0])
		}
		v.positive("spec.run.lease.duration", l.Duration)
		if d := l.Duration; d != nil && d.Duration > 0 && d.Duration < 3*time.Second {
			v.errf("spec.run.lease.duration", "%v is too short: at least 3s (the lease is renewed every third of it)", d.Duration)
		}
	}
	if pg := r.Pushgateway; pg != nil {
		u, err := url.Parse(pg.URL)
		switch {
		case pg.URL == "":
			v.errf("spec.run.pushgateway.url", "required")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.errf("spec.run.pushgateway.url", "%q is not an http or https URL (such as http://pushgateway.monitoring:9091)", pg.URL)
		}
	}
}

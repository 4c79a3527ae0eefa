package config

import "time"

// Defaults of the plan, applied by Default.
const (
	DefaultInterval         = 5 * time.Minute
	DefaultRetention        = 400 * 24 * time.Hour // hourly aggregates (issue 4: a year of history stays small)
	DefaultRawRetention     = 8 * 24 * time.Hour   // raw samples, at most the hourly retention
	DefaultPromTimeout      = 30 * time.Second
	DefaultPromStep         = time.Minute
	DefaultMaxAge           = 10 * time.Minute
	DefaultHorizon          = time.Hour
	DefaultQuantile         = 0.95
	DefaultCPUUtilization   = 0.7
	DefaultMemUtilization   = 0.8
	DefaultMinReplicas      = 1
	DefaultPodLeadTime      = time.Minute
	DefaultNodeLeadTime     = 4 * time.Minute
	DefaultPodsPerNode      = 110
	DefaultTolerance        = 0.1
	DefaultNamespace        = "default"
	DefaultTargetAPIVersion = "apps/v1"
	DefaultBalloonNamespace = "headroom"
	DefaultBalloonPriority  = "headroom-balloon"
)

// Default fills every unset field with its documented default. It is
// idempotent and leaves set fields alone.
func (p *Plan) Default() {
	s := &p.Spec
	if s.Interval == nil {
		s.Interval = dur(DefaultInterval)
	}
	if s.History.Source == "" {
		s.History.Source = "trace"
		for _, w := range s.Workloads {
			if w.Trace == nil {
				s.History.Source = "metrics-server"
				break
			}
		}
	}
	if s.History.Retention == nil {
		s.History.Retention = &Retention{}
	}
	if r := s.History.Retention; r.Hourly == nil {
		h := DefaultRetention
		if r.Raw != nil {
			h = max(h, r.Raw.Duration)
		}
		r.Hourly = dur(h)
	}
	if r := s.History.Retention; r.Raw == nil {
		r.Raw = dur(min(DefaultRawRetention, r.Hourly.Duration))
	}
	if pr := s.History.Prometheus; pr != nil {
		if pr.Timeout == nil {
			pr.Timeout = dur(DefaultPromTimeout)
		}
		if pr.Step == nil {
			pr.Step = dur(DefaultPromStep)
		}
	}
	if s.History.MaxAge == nil {
		s.History.MaxAge = dur(DefaultMaxAge)
	}
	if s.Forecast.Horizon == nil {
		s.Forecast.Horizon = dur(DefaultHorizon)
	}
	if s.Forecast.Quantile == 0 {
		s.Forecast.Quantile = DefaultQuantile
	}
	if s.Forecast.Model == "" {
		s.Forecast.Model = "auto"
	}
	for i := range s.Workloads {
		w := &s.Workloads[i]
		if w.Target.APIVersion == "" {
			w.Target.APIVersion = DefaultTargetAPIVersion
		}
		if w.Target.Namespace == "" {
			w.Target.Namespace = DefaultNamespace
		}
		if w.Utilization.CPU == 0 {
			w.Utilization.CPU = DefaultCPUUtilization
		}
		if w.Utilization.Memory == 0 {
			w.Utilization.Memory = DefaultMemUtilization
		}
		if w.Replicas.Min == nil {
			m := int32(DefaultMinReplicas)
			w.Replicas.Min = &m
		}
		if w.LeadTime == nil {
			w.LeadTime = &LeadTime{Duration: DefaultPodLeadTime}
		}
		if w.Mode == "" {
			w.Mode = "scale"
		}
		if w.Tolerance == nil {
			t := DefaultTolerance
			w.Tolerance = &t
		}
		if w.Trace != nil {
			if w.Trace.Scale == nil {
				one := 1.0
				w.Trace.Scale = &one
			}
			if w.Trace.MemoryScale == nil {
				one := 1.0
				w.Trace.MemoryScale = &one
			}
			if w.Trace.Replicas == nil {
				r := *w.Replicas.Min
				w.Trace.Replicas = &r
			}
		}
		if w.Behavior != nil {
			for _, r := range []*ScalingRules{w.Behavior.ScaleUp, w.Behavior.ScaleDown} {
				if r != nil && r.SelectPolicy == "" {
					r.SelectPolicy = "Max"
				}
			}
		}
	}
	p.defaultRun()
	for i := range s.NodePools {
		np := &s.NodePools[i]
		if np.Provider == "" {
			np.Provider = "none"
		}
		if np.Machine.Pods == 0 {
			np.Machine.Pods = DefaultPodsPerNode
		}
		if np.Zones == 0 {
			np.Zones = 1
		}
		if np.Headroom == "" {
			np.Headroom = "none"
		}
		if np.LeadTime == nil {
			np.LeadTime = dur(DefaultNodeLeadTime)
		}
		switch np.Provider {
		case "cluster-api":
			if np.ClusterAPI == nil {
				np.ClusterAPI = &ClusterAPIPool{}
			}
			if np.ClusterAPI.Namespace == "" {
				np.ClusterAPI.Namespace = DefaultNamespace
			}
			if np.ClusterAPI.Name == "" {
				np.ClusterAPI.Name = np.Name
			}
		case "gke":
			if np.GKE != nil && np.GKE.NodePool == "" {
				np.GKE.NodePool = np.Name
			}
		case "balloon":
			if np.Balloon == nil {
				np.Balloon = &BalloonPool{}
			}
			if np.Balloon.Namespace == "" {
				np.Balloon.Namespace = DefaultBalloonNamespace
			}
			if np.Balloon.Name == "" {
				np.Balloon.Name = "headroom-balloon-" + np.Name
			}
			if np.Balloon.PriorityClass == "" {
				np.Balloon.PriorityClass = DefaultBalloonPriority
			}
			if np.Balloon.PodsPerNode == 0 {
				np.Balloon.PodsPerNode = 1
			}
		}
	}
}

package report

import (
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/headroom-dev/headroom/forecast"
)

// Runway returns the first time at which upper (the forecast of demand at
// the planned quantile, upper[k] at start + k·step) exceeds capacity, and
// false when it never does within the forecast (or capacity is not
// positive). NaN points are skipped.
func Runway(start time.Time, step time.Duration, upper []float64, capacity float64) (time.Time, bool) {
	if !(capacity > 0) {
		return time.Time{}, false
	}
	for k, v := range upper {
		if !math.IsNaN(v) && v > capacity {
			return start.Add(time.Duration(k) * step), true
		}
	}
	return time.Time{}, false
}

// runwayAt is the runway as the report states it: now when the demand now
// already exceeds capacity, else the first forecast step above it
// (Runway), never before now (a forecast that starts at a stale member's
// last sample would put it in the past).
func runwayAt(demandNow float64, f *forecast.Forecast, upper []float64, capacity float64, now time.Time) (time.Time, bool) {
	if !math.IsNaN(demandNow) && demandNow > capacity {
		return now, true
	}
	t, ok := Runway(f.Start, f.Step, upper, capacity)
	if ok && t.Before(now) {
		t = now
	}
	return t, ok
}

// KubeletSkew says what is wrong with a kubelet version against the control
// plane's, following the Kubernetes version skew policy: a kubelet must not
// be newer than the kube-apiserver, and may be at most three minor versions
// older when the kube-apiserver is 1.28 or newer (two before 1.28). It
// returns "" when the pair is supported, and a sentence otherwise
// (including when a version cannot be parsed).
func KubeletSkew(kubelet, controlPlane string) string {
	if controlPlane == "" {
		return ""
	}
	k, err := version.ParseGeneric(kubelet)
	if err != nil {
		return fmt.Sprintf("kubelet version %q cannot be parsed", kubelet)
	}
	c, err := version.ParseGeneric(controlPlane)
	if err != nil {
		return fmt.Sprintf("control-plane version %q cannot be parsed", controlPlane)
	}
	if k.Major() != c.Major() {
		return fmt.Sprintf("major version %d differs from the control plane's %d", k.Major(), c.Major())
	}
	allowed := uint(2)
	if c.Minor() >= 28 {
		allowed = 3
	}
	switch {
	case k.Minor() > c.Minor():
		return fmt.Sprintf("newer than the control plane (%s): unsupported", controlPlane)
	case c.Minor()-k.Minor() > allowed:
		return fmt.Sprintf("%d minor versions older than the control plane (%s): at most %d are supported", c.Minor()-k.Minor(), controlPlane, allowed)
	}
	return ""
}

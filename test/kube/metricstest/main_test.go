package metricstest

import (
	"os"
	"testing"

	"github.com/headroom-dev/headroom/test/kube/harness"
)

// kube is the control plane shared by the tests of this package.
var kube = harness.NewShared(harness.Options{})

func TestMain(m *testing.M) { os.Exit(kube.Run(m)) }

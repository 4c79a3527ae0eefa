package harness

import (
	"context"
	"embed"
	"fmt"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

//go:embed crds/*.yaml
var crdFiles embed.FS

// MachineDeployments is the resource of the Cluster API MachineDeployment CRD
// that InstallMachineDeploymentCRD installs.
var MachineDeployments = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta1", Resource: "machinedeployments"}

// MachineDeploymentCRD installs the minimal Cluster API MachineDeployment CRD
// (crds/cluster.x-k8s.io_machinedeployments.yaml), with the scale
// subresource, if it is not installed yet, and waits until it is served.
func (s *Server) MachineDeploymentCRD(t testing.TB) {
	t.Helper()
	data, err := crdFiles.ReadFile("crds/cluster.x-k8s.io_machinedeployments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InstallCRD(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

// InstallCRD creates the CustomResourceDefinition in YAML or JSON, unless one
// of that name exists, and waits until it is Established and every served
// version is in discovery.
func (s *Server) InstallCRD(ctx context.Context, manifest []byte) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(manifest, &crd); err != nil {
		return fmt.Errorf("harness: decode CRD: %w", err)
	}
	s.installMu.Lock()
	defer s.installMu.Unlock()
	if s.crds[crd.Name] {
		return nil
	}
	cs, err := apiextensions.NewForConfig(s.Config())
	if err != nil {
		return err
	}
	if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("harness: create CRD %s: %w", crd.Name, err)
	}
	disc := s.Client().Discovery()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		established := false
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			return false, nil
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			rl, err := disc.ServerResourcesForGroupVersion(crd.Spec.Group + "/" + v.Name)
			if err != nil {
				return false, nil
			}
			found := false
			for _, r := range rl.APIResources {
				found = found || r.Name == crd.Spec.Names.Plural
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("harness: CRD %s not served: %w", crd.Name, err)
	}
	s.crds[crd.Name] = true
	return nil
}

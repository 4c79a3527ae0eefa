package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// ServiceAccountConfig creates the ServiceAccount ns/name if it does not
// exist, mints a token for it with the TokenRequest API (as the kubelet does
// for a pod) and returns a configuration that authenticates with it. The
// account has no permissions until a test binds it to a role, for example with
// Grant or by applying the project's RBAC manifests.
func (s *Server) ServiceAccountConfig(t testing.TB, ns, name string) *rest.Config {
	t.Helper()
	token, err := s.ServiceAccountToken(context.Background(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.TokenConfig(token)
}

// ServiceAccountToken is ServiceAccountConfig's token, valid for an hour.
func (s *Server) ServiceAccountToken(ctx context.Context, ns, name string) (string, error) {
	cs := s.Client()
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("harness: create service account %s/%s: %w", ns, name, err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("harness: token for %s/%s: %w", ns, name, err)
	}
	return tr.Status.Token, nil
}

// UserConfig returns a configuration for an arbitrary user and groups,
// authenticated by a client certificate from the server's client CA. Such a
// configuration cannot go through a FaultProxy (TLS ends there); use a
// ServiceAccount token for that.
func (s *Server) UserConfig(t testing.TB, user string, groups ...string) *rest.Config {
	t.Helper()
	cert, err := s.clientCA.client(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.TokenConfig("")
	cfg.CertData, cfg.KeyData = cert.certPEM, cert.keyPEM
	return cfg
}

// ServiceAccountSubject is the RBAC subject for the ServiceAccount ns/name.
func ServiceAccountSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

// UserSubject is the RBAC subject for a user name.
func UserSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// Grant creates a Role with rules in ns and binds subject to it. With ns ""
// it creates a ClusterRole and a ClusterRoleBinding. It returns once the
// authorizer allows the first rule, since RBAC changes reach the authorizer
// through a cache.
func (s *Server) Grant(t testing.TB, ns string, subject rbacv1.Subject, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	cs := s.Client()
	name := fmt.Sprintf("harness-grant-%d", s.next())
	var err error
	if ns == "" {
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules,
		}, metav1.CreateOptions{})
		if err == nil {
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Subjects:   []rbacv1.Subject{subject},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			}, metav1.CreateOptions{})
		}
	} else {
		_, err = cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules,
		}, metav1.CreateOptions{})
		if err == nil {
			_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Subjects:   []rbacv1.Subject{subject},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			}, metav1.CreateOptions{})
		}
	}
	if err != nil {
		t.Fatalf("grant %v to %s %s: %v", rules, subject.Kind, subject.Name, err)
	}
	if len(rules) > 0 && len(rules[0].Verbs) > 0 && len(rules[0].Resources) > 0 {
		r := rules[0]
		attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: r.Verbs[0], Resource: r.Resources[0]}
		if len(r.APIGroups) > 0 {
			attrs.Group = r.APIGroups[0]
		}
		if err := s.WaitForAccess(ctx, subject, attrs); err != nil {
			t.Fatal(err)
		}
	}
}

// WaitForAccess polls a SubjectAccessReview until subject is allowed attrs.
func (s *Server) WaitForAccess(ctx context.Context, subject rbacv1.Subject, attrs *authorizationv1.ResourceAttributes) error {
	spec := authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: attrs}
	switch subject.Kind {
	case rbacv1.ServiceAccountKind:
		spec.User = "system:serviceaccount:" + subject.Namespace + ":" + subject.Name
		spec.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + subject.Namespace, "system:authenticated"}
	case rbacv1.GroupKind:
		spec.Groups = []string{subject.Name}
	default:
		spec.User = subject.Name
	}
	cs := s.Client()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("harness: waiting for %s %s to be allowed %+v: %w", subject.Kind, subject.Name, *attrs, err)
	}
	return nil
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flightdeckhq/flightdeck/sandbox"
)

// cockpitRules are the RBAC rules the cockpit needs in a watched namespace.
func cockpitRules(deploymentVerbs ...string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: deploymentVerbs},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list", "watch"}},
	}
}

// sandboxKubeUser makes a ServiceAccount of the test's own, in a namespace
// of its own, bound in production to rules by a Role and RoleBinding that
// cleanup removes with the namespace, and returns a token for it from the
// TokenRequest API: a real, restricted user of the shared sandbox's API
// server.
func sandboxKubeUser(t *testing.T, info *sandbox.Info, rules []rbacv1.PolicyRule) (token, user string) {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	var b [3]byte
	rand.Read(b[:])
	name := "fd-checks-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	cleanup := func() {
		ctx := context.Background()
		cs.RbacV1().RoleBindings(sandbox.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		cs.RbacV1().Roles(sandbox.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	}
	t.Cleanup(cleanup)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(sandbox.Namespace).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: name}}}
	if _, err := cs.RbacV1().RoleBindings(sandbox.Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tok, err := cs.CoreV1().ServiceAccounts(name).CreateToken(ctx, "deployer",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Status.Token, "system:serviceaccount:" + name + ":deployer"
}

// userKubeconfig writes a kubeconfig for the sandbox's API server whose
// user is authInfo.
func userKubeconfig(t *testing.T, info *sandbox.Info, dir string, authInfo *clientcmdapi.AuthInfo) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(info.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = cluster
	cfg.AuthInfos["deployer"] = authInfo
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: "deployer"}
	cfg.CurrentContext = "sandbox"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// pluginKubeconfig writes a kubeconfig whose user's credentials come from
// an exec plugin, as gke-gcloud-auth-plugin's do: a shell script that
// prints an ExecCredential with token, and noise on stderr, and records
// what client-go told it (KUBERNETES_EXEC_INFO) and whether its stdin was a
// terminal. The stanza asks for interactiveMode IfAvailable, so only the
// cockpit's own setting keeps the terminal from it.
func pluginKubeconfig(t *testing.T, info *sandbox.Info, token, noise string) (kubeconfig, dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
dir=$(dirname "$0")
echo "` + noise + `: refreshing credentials for the cluster" >&2
echo "` + noise + `: Opening a browser for you to sign in..." >&2
printf '%s\n' "$KUBERNETES_EXEC_INFO" >> "$dir/exec-info"
if [ -t 0 ]; then echo tty >> "$dir/stdin-was-terminal"; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\n' "$(cat "$dir/token")"
`
	plugin := filepath.Join(dir, "sandbox-auth-plugin")
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return userKubeconfig(t, info, dir, &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      "client.authentication.k8s.io/v1",
		Command:         plugin,
		InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode,
		InstallHint:     "the sandbox's test plugin",
	}}), dir
}

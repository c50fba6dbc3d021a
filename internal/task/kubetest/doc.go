// Package kubetest tests the built-in tasks that talk to Kubernetes against
// one real control plane (internal/kubeenv), started once for the package.
// It holds only tests; nothing imports it.
package kubetest

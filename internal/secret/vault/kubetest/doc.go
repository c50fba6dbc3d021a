// Package kubetest tests the kubernetes vault provider against one real
// control plane (internal/kubeenv), started once for the package. It holds
// only tests; nothing imports it.
package kubetest

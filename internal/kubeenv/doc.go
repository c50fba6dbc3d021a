// Package kubeenv starts a real local Kubernetes control plane (etcd,
// kube-apiserver, controller-manager, scheduler) on loopback with kwok fake
// nodes and a real node (kubelet + containerd), for tests and for
// conveyor cluster.
//
// It must not import any other package of Conveyor's flow.
package kubeenv

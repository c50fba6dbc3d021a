// Package kubeenv starts a real local Kubernetes control plane on loopback
// with random free ports — etcd, kube-apiserver (client-certificate auth, RBAC
// on), kube-controller-manager and kube-scheduler — with two kinds of node:
// kwok fake nodes, where Deployments roll out for real and pods can be made to
// stay unready or crash on purpose, and a real node (kubelet + Debian's
// containerd and runc) on which pods really run and serve traffic. Tests use
// it from TestMain (see Main); conveyor cluster uses it through Up, Serve and
// Down.
//
// It must not import any other package of Conveyor (it is a leaf: the flow
// packages and their tests import it, never the reverse).
package kubeenv

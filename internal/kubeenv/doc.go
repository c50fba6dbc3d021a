// Package kubeenv starts a real local Kubernetes control plane on loopback
// with random free ports — etcd, kube-apiserver (client-certificate auth, RBAC
// on), kube-controller-manager and kube-scheduler — with two kinds of node:
// kwok fake nodes, where Deployments roll out for real and pods can be made to
// stay unready or crash on purpose (BehaviorAnnotation), and a real node
// (kubelet + Debian's containerd and runc) on which pods really run, on a CNI
// bridge with their own IPs reachable from this machine, or on the host
// network. Tests use it from TestMain (see Main); conveyor cluster uses it
// through Up, Serve and Down.
//
// What to know:
//   - The real node needs root. containerd and the kubelet run in a private
//     mount namespace with private tmpfs on the fixed host folders they use,
//     each instance with its own containerd, bridge and pod subnet, so
//     instances run side by side and leave nothing mounted behind.
//   - Images are pulled by the real node from registries on 127.0.0.1 over
//     plain HTTP as they are; other plain-HTTP hosts need TrustRegistry.
//   - There is no kube-proxy and no cluster DNS: cluster IPs and node ports
//     do not route, hostPort is not supported. Reach a Service from the
//     host with ServiceAddress (a ready endpoint's pod IP and port).
//   - With a real node present, kwok nodes carry a NoSchedule taint so plain
//     manifests land on the real node; OnKwok sends a pod spec to kwok.
//   - Like any kubelet, the real node's kubelet sets the kernel tunables it
//     wants (vm.overcommit_memory, kernel.panic, …) on the host.
//
// It must not import any other package of Conveyor (it is a leaf: the flow
// packages and their tests import it, never the reverse).
package kubeenv

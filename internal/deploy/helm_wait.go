package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	"k8s.io/apimachinery/pkg/util/wait"
)

// DefaultHelmWaitInterval is how often Conveyor checks a release's resources
// while waiting for them (helm --wait). Helm itself checks every 2 s, which
// adds a second on average to every waited install, upgrade and rollback.
const DefaultHelmWaitInterval = 250 * time.Millisecond

// HelmWaitPollHelm as HelmOptions.WaitInterval keeps Helm's own wait (every
// 2 s).
const HelmWaitPollHelm time.Duration = -1

// fastWaitClient is Helm's Kubernetes client with a wait that polls at its
// own interval, using Helm's readiness rules (kube.ReadyChecker) unchanged.
// Every other method, deletion waits included, is Helm's.
type fastWaitClient struct {
	*kube.Client
	interval time.Duration
}

var _ kube.InterfaceExt = (*fastWaitClient)(nil)

// Wait waits until resources are ready, as helm --wait does.
func (c *fastWaitClient) Wait(resources kube.ResourceList, timeout time.Duration) error {
	return c.wait(resources, timeout, false)
}

// WaitWithJobs waits as Wait does, and for Jobs to complete.
func (c *fastWaitClient) WaitWithJobs(resources kube.ResourceList, timeout time.Duration) error {
	return c.wait(resources, timeout, true)
}

func (c *fastWaitClient) wait(resources kube.ResourceList, timeout time.Duration, jobs bool) error {
	cs, err := c.Factory.KubernetesClientSet()
	if err != nil {
		return err
	}
	checker := kube.NewReadyChecker(cs, c.Log, kube.PausedAsReady(true), kube.CheckJobs(jobs))
	c.Log("beginning wait for %d resources with timeout of %v", len(resources), timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	err = wait.PollUntilContextCancel(ctx, c.interval, true, func(ctx context.Context) (bool, error) {
		for _, v := range resources {
			ready, err := checker.IsReady(ctx, v)
			if err != nil {
				// Transient API errors are retried until the timeout, as
				// helm retries them.
				last = fmt.Errorf("%s %s/%s: %w", v.Mapping.GroupVersionKind.Kind, v.Namespace, v.Name, err)
				return false, nil
			}
			if !ready {
				last = nil
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && last != nil && !errors.Is(last, context.DeadlineExceeded) {
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	return err
}

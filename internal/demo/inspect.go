package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"conveyor.dev/conveyor/internal/server/client"
)

// inspect fills the summary's digests and workloads: the image references
// the CI and CD runs report, checked against the registries themselves, and
// the Deployments of the staging and production namespaces.
func (d *demo) inspect(ctx context.Context, api *client.Client, ci, cd client.Run, kubeconfig string) error {
	d.sum.NonprodRef = findOutput(ctx, api, ci.ID, "imageRef")
	d.sum.ProdRef = findOutput(ctx, api, cd.ID, "imageRef")
	var err error
	if d.sum.Digest, err = headDigest(ctx, d.sum.NonprodRef); err != nil {
		return fmt.Errorf("demo: nonprod image: %w", err)
	}
	if d.sum.ProdDigest, err = headDigest(ctx, d.sum.ProdRef); err != nil {
		return fmt.Errorf("demo: prod image: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("demo: kubeconfig: %w", err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range []string{"staging", "production"} {
		list, err := kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("demo: deployments in %s: %w", ns, err)
		}
		for _, dep := range list.Items {
			w := Workload{Namespace: ns, Name: dep.Name, Ready: dep.Status.ReadyReplicas, Available: available(dep)}
			if cs := dep.Spec.Template.Spec.Containers; len(cs) > 0 {
				w.Image = cs[0].Image
			}
			d.sum.Workloads = append(d.sum.Workloads, w)
		}
	}
	return nil
}

func available(dep appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == "True"
		}
	}
	return false
}

// findOutput returns the first output variable of a run's records whose
// name ends with suffix (e.g. "image.imageRef").
func findOutput(ctx context.Context, api *client.Client, runID, suffix string) string {
	recs, err := api.Records(ctx, runID)
	if err != nil {
		return ""
	}
	var keys []string
	values := map[string]string{}
	for _, r := range recs {
		for k, v := range r.Outputs {
			if strings.HasSuffix(strings.ToLower(k), strings.ToLower(suffix)) {
				keys = append(keys, r.ID+"/"+k)
				values[r.ID+"/"+k] = v
			}
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return values[keys[len(keys)-1]]
}

// headDigest asks the registry of ref for its digest.
func headDigest(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("no image reference was reported")
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

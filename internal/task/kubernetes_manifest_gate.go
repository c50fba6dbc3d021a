package task

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"conveyor.dev/conveyor/internal/supplychain"
)

// gate is KubernetesManifest@1's check before it applies anything to an
// environment of conveyor.yaml: with enforceRegistry, every image must come
// from the environment's registry (and the admission policy that keeps it
// so is installed); with requireSignedImages, every image must carry a
// signature that verifies with supplyChain.signingKey and, when
// supplyChain.scanOnBuild is set, a passed signed scan.
func (k *manifestRun) gate(ctx context.Context, cfg *rest.Config, images []string) error {
	name := k.env.Variables["Environment.Name"]
	if name == "" {
		name = k.conn
	}
	e, ok := k.svc.Config.Environments[name]
	if !ok || (!e.EnforceRegistry && !e.RequireSignedImages) {
		return nil
	}
	if e.EnforceRegistry {
		host, ns, _, err := supplychain.AdmissionTarget(k.svc.Config, name)
		if err != nil {
			return fmt.Errorf("environment %s: enforceRegistry: %w", name, err)
		}
		if ns == "" {
			ns = k.namespace
		}
		for _, img := range images {
			if !strings.HasPrefix(img, host+"/") || !strings.Contains(img, "@sha256:") {
				return fmt.Errorf("environment %s admits only images of %s pinned by digest, not %s: promote the image to that registry first (PromoteImage@1)", name, host, img)
			}
		}
		// The policy binds to the namespace, which the first deploy makes.
		if created, err := k.deployer.Manager.EnsureNamespace(ctx, ns); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		} else if created {
			k.env.Logf("Created namespace %s", ns)
		}
		if err := supplychain.EnsureAdmissionPolicy(ctx, cfg, host, ns, 30*time.Second); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		k.env.Logf("Admission policy of %s: only digest-pinned images of %s run in namespace %s", name, host, ns)
	}
	if e.RequireSignedImages {
		settings, _, err := supplySettings(k.env)
		if err != nil {
			return err
		}
		if settings.SigningKey == "" {
			return fmt.Errorf("environment %s requires signed images but supplyChain.signingKey is not set: Conveyor has no key to verify with", name)
		}
		signer, err := taskSigner(ctx, k.env, settings.SigningKey)
		if err != nil {
			return fmt.Errorf("supplyChain.signingKey: %w", err)
		}
		pub, ok := signer.Public().(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("supplyChain.signingKey: %T is not an ECDSA key", signer.Public())
		}
		for _, img := range images {
			opts, err := supplyOptions(k.env, img)
			if err != nil {
				return err
			}
			if err := supplychain.VerifyImage(ctx, img, pub, settings.ScanOnBuild, opts); err != nil {
				return fmt.Errorf("environment %s requires signed images: %w", name, err)
			}
			k.env.Logf("Verified the signature%s of %s", map[bool]string{true: " and the scan"}[settings.ScanOnBuild], img)
		}
	}
	return nil
}

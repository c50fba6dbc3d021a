package task

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"conveyor.dev/conveyor/internal/config"
	ociregistry "conveyor.dev/conveyor/internal/registry"
)

// runPromoteImage is PromoteImage@1: it copies an image by digest, with its
// signatures, SBOMs and attestations, from one registry to another
// (ociregistry.Promote). Inputs: sourceConnection and targetConnection
// (registry service connections of conveyor.yaml), repository, image (a
// digest sha256:… or a tag of repository; a full reference host/repo@… is
// accepted too), targetRepository (default repository), targetTags (one per
// line or comma separated; none keeps a source tag), requireSignature
// (default false: refuse an image without a signature). It sets the output
// variables imageDigest, imageRef (target repo@digest), DOCKER_OUTPUT_DIGEST
// and DOCKER_OUTPUT_REF.
func runPromoteImage(ctx context.Context, env *Env) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{Status: Failed, Message: fmt.Sprintf("PromoteImage@1: "+format, a...)}, nil
	}
	repo := strings.Trim(strings.TrimSpace(env.Input("repository", "")), "/")
	img := strings.TrimSpace(env.Input("image", ""))
	if img == "" {
		return fail("input image is required: a digest (sha256:…, e.g. $(build.imageDigest)) or a tag")
	}
	srcConn, dstConn := env.Input("sourceConnection", ""), env.Input("targetConnection", "")
	if dstConn == "" {
		return fail("input targetConnection is required (a registry service connection of conveyor.yaml, e.g. prod-acr)")
	}
	var src string
	var srcTarget registryTarget
	switch {
	case strings.Contains(img, "/"):
		src = img // a full reference
		var err error
		if srcTarget, err = resolveRepository(env, "", strings.SplitN(strings.SplitN(img, "@", 2)[0], ":", 2)[0]); err != nil {
			return fail("image %s: %v", img, err)
		}
		if repo == "" {
			repo = lastPath(img)
		}
	default:
		if repo == "" {
			return fail("input repository is required with an image digest or tag")
		}
		if srcConn == "" {
			return fail("input sourceConnection is required with an image digest or tag (a registry service connection, e.g. nonprod-acr)")
		}
		var err error
		if srcTarget, err = resolveRepository(env, srcConn, repo); err != nil {
			return fail("source: %v", err)
		}
		if strings.HasPrefix(img, "sha256:") {
			src = srcTarget.repo + "@" + img
		} else {
			src = srcTarget.repo + ":" + img
		}
	}
	dstRepo := strings.Trim(env.Input("targetRepository", repo), "/")
	dst, err := resolveRepository(env, dstConn, dstRepo)
	if err != nil {
		return fail("target: %v", err)
	}
	requireSig, err := env.BoolInput("requireSignature", false)
	if err != nil {
		return fail("%v", err)
	}
	opts := []ociregistry.PromoteOption{
		ociregistry.WithProgress(env.Log),
		ociregistry.WithKeychain(taskKeychain(env, registriesOf(env, srcConn, dstConn)...)),
		ociregistry.WithInsecure(srcTarget.insecure || dst.insecure),
	}
	if tags := promoteTags(env.Input("targetTags", "")); len(tags) > 0 {
		opts = append(opts, ociregistry.WithTags(tags...))
	}
	if requireSig {
		checker, err := signatureChecker(ctx, env, srcTarget.insecure)
		if err != nil {
			return fail("requireSignature: %v", err)
		}
		opts = append(opts, ociregistry.WithSignatureChecker(checker))
	}
	p, err := ociregistry.Promote(ctx, src, dst.repo, opts...)
	if err != nil {
		return fail("%v", err)
	}
	ref := p.Target + "@" + p.Digest
	env.Logf("promoted %s to %s (%d referrers, tags %s)", src, ref, len(p.Referrers), strings.Join(p.Tags, ", "))
	if err := setImageOutputs(env, p.Digest, ref); err != nil {
		return Result{}, err
	}
	return Result{Status: Succeeded, Message: "promoted " + ref}, nil
}

// registriesOf are the registries of the named connections (unknown ones skipped).
func registriesOf(env *Env, conns ...string) []config.Registry {
	var out []config.Registry
	if env.Services == nil || env.Services.Config == nil {
		return nil
	}
	for _, c := range conns {
		if c == "" {
			continue
		}
		if r, err := env.Services.Config.RegistryOf(c); err == nil {
			out = append(out, r)
		}
	}
	return out
}

func promoteTags(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// lastPath is the repository path of a reference without its registry host.
func lastPath(ref string) string {
	r := strings.SplitN(strings.SplitN(ref, "@", 2)[0], "/", 2)
	if len(r) < 2 {
		return ref
	}
	repo := r[1]
	if i := strings.LastIndex(repo, ":"); i >= 0 {
		repo = repo[:i]
	}
	return repo
}

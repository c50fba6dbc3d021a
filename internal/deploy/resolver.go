package deploy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is how to reach one registry host when resolving tags.
type Registry struct {
	Host     string // host[:port], as in image references
	Username string
	Password string
	Insecure bool // plain HTTP
}

// RegistryResolver resolves tags with a HEAD request to the registry
// (go-containerregistry remote.Head), with the credentials and the
// insecure flag of the Registry whose Host matches the image's; other
// hosts over HTTPS with the docker config's credentials.
type RegistryResolver struct {
	Registries []Registry
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

var _ ImageResolver = (*RegistryResolver)(nil)

// Digest returns the digest of the manifest ref points at. A registry
// without a username and password uses the docker config's credentials
// (authn.DefaultKeychain).
func (r *RegistryResolver) Digest(ctx context.Context, ref string) (string, error) {
	var reg *Registry
	host := ""
	if parsed, err := name.ParseReference(ref, name.WeakValidation); err == nil {
		host = parsed.Context().RegistryStr()
	}
	for i := range r.Registries {
		if r.Registries[i].Host == host {
			reg = &r.Registries[i]
		}
	}
	var nameOpts []name.Option
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if reg != nil {
		if reg.Insecure {
			nameOpts = append(nameOpts, name.Insecure)
		}
		if reg.Username != "" || reg.Password != "" {
			opts[1] = remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password}))
		}
	}
	parsed, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", ref, err)
	}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(parsed, opts...)
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

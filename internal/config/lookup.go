package config

import (
	"fmt"
	"strings"
)

// source names the configuration in errors.
func (c *Config) source() string {
	if c.File == "" {
		return "the embedded defaults (no " + FileName + ")"
	}
	return c.File
}

// Connection returns the service connection named name. A registry, cluster,
// environment or vault name is accepted too and stands for a connection to
// it, so that small configurations need no serviceConnections section.
func (c *Config) Connection(name string) (ServiceConnection, error) {
	if s, ok := c.ServiceConnections[name]; ok {
		return s, nil
	}
	if _, ok := c.Registries[name]; ok {
		return ServiceConnection{Name: name, Registry: name}, nil
	}
	if e, ok := c.Environments[name]; ok {
		return ServiceConnection{Name: name, Cluster: e.Cluster, Namespace: e.Namespace}, nil
	}
	if _, ok := c.Clusters[name]; ok {
		return ServiceConnection{Name: name, Cluster: name}, nil
	}
	if _, ok := c.Vaults[name]; ok {
		return ServiceConnection{Name: name, Vault: name}, nil
	}
	if name == "" {
		return ServiceConnection{}, fmt.Errorf("service connection: no name given")
	}
	return ServiceConnection{}, fmt.Errorf("service connection %q is not defined in %s: add it under serviceConnections (known: %s)",
		name, c.source(), strings.Join(c.connectionNames(), ", "))
}

func (c *Config) connectionNames() []string {
	m := names(c.ServiceConnections)
	for k := range c.Registries {
		m[k] = true
	}
	for k := range c.Environments {
		m[k] = true
	}
	for k := range c.Clusters {
		m[k] = true
	}
	for k := range c.Vaults {
		m[k] = true
	}
	return sortedKeys(m)
}

// RegistryOf returns the registry a connection points at.
func (c *Config) RegistryOf(connection string) (Registry, error) {
	s, err := c.Connection(connection)
	if err != nil {
		return Registry{}, err
	}
	if s.Registry == "" {
		return Registry{}, fmt.Errorf("service connection %q in %s is not a registry connection: give it registry: <name>", connection, c.source())
	}
	r, ok := c.Registries[s.Registry]
	if !ok {
		return Registry{}, fmt.Errorf("service connection %q: registry %q is not defined in %s", connection, s.Registry, c.source())
	}
	return r, nil
}

// ClusterOf returns the cluster and namespace of a connection or an
// environment. The namespace is the connection's, else the environment's,
// else empty (the caller's default).
func (c *Config) ClusterOf(connection string) (Cluster, string, error) {
	s, err := c.Connection(connection)
	if err != nil {
		return Cluster{}, "", err
	}
	if s.Cluster == "" {
		return Cluster{}, "", fmt.Errorf("service connection %q in %s is not a cluster connection: give it cluster: <name>", connection, c.source())
	}
	cl, ok := c.Clusters[s.Cluster]
	if !ok {
		return Cluster{}, "", fmt.Errorf("service connection %q: cluster %q is not defined in %s", connection, s.Cluster, c.source())
	}
	return cl, s.Namespace, nil
}

// VaultOf returns the vault of a connection (or a vault's own name).
func (c *Config) VaultOf(connection string) (Vault, error) {
	s, err := c.Connection(connection)
	if err != nil {
		return Vault{}, err
	}
	if s.Vault == "" {
		return Vault{}, fmt.Errorf("service connection %q in %s is not a vault connection: give it vault: <name>", connection, c.source())
	}
	v, ok := c.Vaults[s.Vault]
	if !ok {
		return Vault{}, fmt.Errorf("service connection %q: vault %q is not defined in %s", connection, s.Vault, c.source())
	}
	return v, nil
}

// RegistryByHost returns the registry whose URL's host is host (for
// credentials and the insecure flag of an image reference).
func (c *Config) RegistryByHost(host string) (Registry, bool) {
	for _, name := range sortedKeys(c.Registries) {
		r := c.Registries[name]
		h, _, _ := strings.Cut(r.URL, "/")
		if h != "" && strings.EqualFold(h, host) {
			return r, true
		}
	}
	return Registry{}, false
}

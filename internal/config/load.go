package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a configuration file, at a position.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

// ErrorList is every problem found in a configuration file.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Default returns the embedded defaults: the embedded registries nonprod and
// prod (prod with immutable tags), the embedded vault "default", the local
// cluster, the environments staging and production on it, and service
// connections named after each of them.
func Default() *Config {
	c := &Config{}
	c.fill()
	return c
}

// Find returns the conveyor.yaml of the repository root dir, or the
// embedded defaults when it has none.
func Find(dir string) (*Config, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		c := Default()
		c.Dir = dir
		return c, nil
	}
	return Load(path)
}

// Load reads and checks a conveyor.yaml. ${VAR} in values reads the process
// environment; an unset variable reads as empty and adds a warning (a local
// run needs no webhook secret; a server refuses an empty one).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := Parse(path, data, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	c.Dir = filepath.Dir(abs)
	return c, nil
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse checks a configuration's text; file names it in errors and lookup
// reads ${VAR} references. The embedded defaults fill what the text leaves
// out (nonprod/prod registries, the default vault, the local cluster).
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var errs ErrorList
	add := func(n *yaml.Node, format string, a ...any) {
		e := &Error{File: file, Msg: fmt.Sprintf(format, a...)}
		if n != nil {
			e.Line, e.Col = n.Line, n.Column
		}
		errs = append(errs, e)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, ErrorList{yamlError(file, err)}
	}
	c := &Config{File: file}
	if len(root.Content) > 0 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode {
			add(doc, "the configuration must be a mapping of sections (registries, clusters, vaults, environments, ...)")
			return nil, errs
		}
		expandVars(doc, lookup, func(n *yaml.Node, format string, a ...any) {
			c.Warnings = append(c.Warnings, &Error{File: file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, a...)})
		})
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(doc); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
		// Decode strictly from the original text (positions stay true), with
		// variables expanded node by node.
		dec := yaml.NewDecoder(bytes.NewReader(buf.Bytes()))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			// Re-decode the original to report the original line numbers.
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			var probe Config
			if err2 := dec.Decode(&probe); err2 != nil && !errors.Is(err2, io.EOF) {
				err = err2
			}
			return nil, ErrorList{yamlError(file, err)}
		}
		c.check(doc, add)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.fill()
	return c, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into an *Error.
func yamlError(file string, err error) *Error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := &Error{File: file, Msg: msg}
	var line int
	if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
		e.Line, e.Col = line, 1
		_, rest, _ := strings.Cut(msg, ":")
		e.Msg = strings.TrimSpace(rest)
	}
	e.Msg = strings.Replace(e.Msg, "in type config.", "in section ", 1)
	return e
}

// expandVars replaces ${VAR} in every scalar value.
func expandVars(n *yaml.Node, lookup func(string) (string, bool), warn func(*yaml.Node, string, ...any)) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = varRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := lookup(name)
			if !ok {
				warn(n, "%s is not set: it reads as empty (export %s or write the value)", ref, name)
				return ""
			}
			return v
		})
		n.Style = yaml.DoubleQuotedStyle
		n.Tag = "!!str"
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandVars(n.Content[i], lookup, warn)
		}
	default:
		for _, c := range n.Content {
			expandVars(c, lookup, warn)
		}
	}
}

// field returns the value node of key in a mapping node, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// at returns the node at a path of keys, or the deepest one found.
func at(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		next := field(n, k)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// check reports references to missing things and values out of range.
func (c *Config) check(doc *yaml.Node, add func(*yaml.Node, string, ...any)) {
	has := func(kind string, m map[string]bool, name string, n *yaml.Node, where string) {
		if name != "" && !m[name] {
			add(n, "%s: %s %q is not defined: add it under %s or use one of %s", where, strings.TrimSuffix(kind, "s"), name, kind, list(m))
		}
	}
	regs, clusters, vaults := names(c.Registries, "nonprod", "prod"), names(c.Clusters, "local"), names(c.Vaults, "default")
	for _, name := range sortedKeys(c.Registries) {
		r := c.Registries[name]
		if r.URL == "" && !r.Embedded {
			add(at(doc, "registries", name), "registries.%s: url is required (host:port) unless embedded: true", name)
		}
	}
	for _, name := range sortedKeys(c.Vaults) {
		v := c.Vaults[name]
		n := at(doc, "vaults", name, "provider")
		switch v.Provider {
		case "", ProviderEmbedded:
		case ProviderVault:
			if v.Address == "" {
				add(at(doc, "vaults", name), "vaults.%s: address is required for provider vault", name)
			}
		case ProviderKubernetes:
			has("clusters", clusters, v.Cluster, at(doc, "vaults", name, "cluster"), "vaults."+name+".cluster")
		default:
			add(n, "vaults.%s.provider: %q is not a provider: use embedded, vault or kubernetes", name, v.Provider)
		}
	}
	for _, name := range sortedKeys(c.Environments) {
		e := c.Environments[name]
		has("clusters", clusters, e.Cluster, at(doc, "environments", name, "cluster"), "environments."+name+".cluster")
		has("registries", regs, e.Registry, at(doc, "environments", name, "registry"), "environments."+name+".registry")
		if a := e.Checks.Approvals; a != nil {
			n := at(doc, "environments", name, "checks", "approvals")
			if len(a.Approvers) == 0 {
				add(n, "environments.%s.checks.approvals: approvers is empty: list users or groups", name)
			}
			if a.MinApprovers < 0 || a.MinApprovers > len(a.Approvers) && len(a.Approvers) > 0 && !c.hasGroupIn(a.Approvers) {
				add(at(n, "minApprovers"), "environments.%s.checks.approvals.minApprovers: %d is more than the %d approvers listed", name, a.MinApprovers, len(a.Approvers))
			}
			switch strings.ToLower(a.OnTimeout) {
			case "", "reject", "resume":
			default:
				add(at(n, "onTimeout"), "environments.%s.checks.approvals.onTimeout: %q: use reject or resume", name, a.OnTimeout)
			}
			if a.Timeout < 0 {
				add(at(n, "timeout"), "environments.%s.checks.approvals.timeout: must not be negative", name)
			}
		}
		if e.Watch < 0 {
			add(at(doc, "environments", name, "watch"), "environments.%s.watch: must not be negative (0 turns the post-deploy watch off)", name)
		}
		if l := e.Checks.ExclusiveLock; l != nil {
			switch strings.ToLower(l.LockBehavior) {
			case "", "sequential", "runlatest":
			default:
				add(at(doc, "environments", name, "checks", "exclusiveLock", "lockBehavior"), "environments.%s.checks.exclusiveLock.lockBehavior: %q: use sequential or runLatest", name, l.LockBehavior)
			}
		}
	}
	if c.Observe.OTLP != "" && !strings.HasPrefix(c.Observe.OTLP, "http://") && !strings.HasPrefix(c.Observe.OTLP, "https://") {
		add(at(doc, "observe", "otlp"), "observe.otlp: %q: want the OTLP/HTTP endpoint's URL, such as http://collector:4318", c.Observe.OTLP)
	}
	if c.Observe.DORAWindow < 0 {
		add(at(doc, "observe", "doraWindow"), "observe.doraWindow: must not be negative")
	}
	for _, name := range sortedKeys(c.ServiceConnections) {
		s := c.ServiceConnections[name]
		n := at(doc, "serviceConnections", name)
		set := 0
		for _, v := range []string{s.Registry, s.Cluster, s.Vault} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			add(n, "serviceConnections.%s: name exactly one of registry, cluster or vault", name)
		}
		has("registries", regs, s.Registry, at(n, "registry"), "serviceConnections."+name+".registry")
		has("clusters", clusters, s.Cluster, at(n, "cluster"), "serviceConnections."+name+".cluster")
		has("vaults", vaults, s.Vault, at(n, "vault"), "serviceConnections."+name+".vault")
	}
	for _, name := range sortedKeys(c.VariableGroups) {
		g := c.VariableGroups[name]
		has("vaults", vaults, g.Vault, at(doc, "variableGroups", name, "vault"), "variableGroups."+name+".vault")
	}
	seen := map[string]bool{}
	for i, r := range c.Repositories {
		var n *yaml.Node
		if rs := field(doc, "repositories"); rs != nil && i < len(rs.Content) {
			n = rs.Content[i]
		}
		if r.Name == "" {
			add(n, "repositories[%d]: name is required", i)
		}
		if r.URL == "" {
			e := &Error{File: c.File, Msg: fmt.Sprintf("repositories[%d] (%s): url is empty: a server cannot watch it", i, r.Name)}
			if n != nil {
				e.Line, e.Col = n.Line, n.Column
			}
			c.Warnings = append(c.Warnings, e)
		}
		if seen[r.Name] {
			add(n, "repositories[%d]: name %q is used twice", i, r.Name)
		}
		seen[r.Name] = true
		if r.Forge.Type != "" && r.Forge.Type != "github" && r.Forge.Type != "gitea" {
			add(at(n, "forge", "type"), "repositories[%d].forge.type: %q: use github or gitea", i, r.Forge.Type)
		}
	}
	for _, name := range sortedKeys(c.Users) {
		switch c.Users[name].Role {
		case "", RoleViewer, RoleOperator, RoleApprover, RoleAdmin:
		default:
			add(at(doc, "users", name, "role"), "users.%s.role: %q: use viewer, operator, approver or admin", name, c.Users[name].Role)
		}
	}
	switch strings.ToLower(c.SupplyChain.Severity) {
	case "", "low", "medium", "high", "critical":
	default:
		add(at(doc, "supplyChain", "severity"), "supplyChain.severity: %q: use low, medium, high or critical", c.SupplyChain.Severity)
	}
	c.checkGitOps(doc, add)
}

// hasGroupIn reports whether some approver is a group (then the number of
// people is not known from the list).
func (c *Config) hasGroupIn(approvers []string) bool {
	for _, a := range approvers {
		if _, user := c.Users[a]; !user {
			return true
		}
	}
	return false
}

func names[V any](m map[string]V, always ...string) map[string]bool {
	out := map[string]bool{}
	for _, a := range always {
		out[a] = true
	}
	for k := range m {
		out[k] = true
	}
	return out
}

func list(m map[string]bool) string {
	keys := sortedKeys(m)
	if len(keys) == 0 {
		return "(none)"
	}
	return strings.Join(keys, ", ")
}

// fill adds the embedded defaults and the names of entries.
func (c *Config) fill() {
	if c.Registries == nil {
		c.Registries = map[string]Registry{}
	}
	if _, ok := c.Registries["nonprod"]; !ok {
		c.Registries["nonprod"] = Registry{Embedded: true}
	}
	if _, ok := c.Registries["prod"]; !ok {
		c.Registries["prod"] = Registry{Embedded: true, ImmutableTags: true}
	}
	for k, r := range c.Registries {
		r.Name = k
		r.URL = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(r.URL, "https://"), "http://"), "/")
		if k == "prod" && r.Embedded {
			r.ImmutableTags = true
		}
		c.Registries[k] = r
	}
	if c.Clusters == nil {
		c.Clusters = map[string]Cluster{}
	}
	if _, ok := c.Clusters["local"]; !ok {
		c.Clusters["local"] = Cluster{}
	}
	for k, v := range c.Clusters {
		v.Name = k
		c.Clusters[k] = v
	}
	if c.Vaults == nil {
		c.Vaults = map[string]Vault{}
	}
	if _, ok := c.Vaults["default"]; !ok {
		c.Vaults["default"] = Vault{Provider: ProviderEmbedded}
	}
	for k, v := range c.Vaults {
		v.Name = k
		if v.Provider == "" {
			v.Provider = ProviderEmbedded
		}
		if v.Provider == ProviderVault && v.Mount == "" {
			v.Mount = "secret"
		}
		c.Vaults[k] = v
	}
	if c.Environments == nil {
		c.Environments = map[string]Environment{
			"staging":    {Cluster: "local", Namespace: "staging"},
			"production": {Cluster: "local", Namespace: "production", Registry: "prod"},
		}
	}
	for k, e := range c.Environments {
		e.Name = k
		if e.Cluster == "" {
			e.Cluster = "local"
		}
		if e.Namespace == "" {
			e.Namespace = k
		}
		if a := e.Checks.Approvals; a != nil {
			if a.MinApprovers == 0 {
				a.MinApprovers = 1
			}
			if a.OnTimeout == "" {
				a.OnTimeout = "reject"
			}
			a.OnTimeout = strings.ToLower(a.OnTimeout)
		}
		if l := e.Checks.ExclusiveLock; l != nil && l.LockBehavior == "" {
			l.LockBehavior = "sequential"
		}
		c.Environments[k] = e
	}
	if c.ServiceConnections == nil {
		c.ServiceConnections = map[string]ServiceConnection{}
	}
	for k, s := range c.ServiceConnections {
		s.Name = k
		c.ServiceConnections[k] = s
	}
	for k, g := range c.VariableGroups {
		if g.Vault == "" {
			g.Vault = "default"
		}
		c.VariableGroups[k] = g
	}
	if c.SupplyChain.Severity == "" {
		c.SupplyChain.Severity = "high"
	}
	c.SupplyChain.Severity = strings.ToLower(c.SupplyChain.Severity)
	c.fillGitOps()
}

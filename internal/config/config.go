package config

import (
	"time"
)

// FileName is the configuration's file name in a repository's root.
const FileName = "conveyor.yaml"

// Config is a parsed conveyor.yaml.
type Config struct {
	// Registries are OCI registries by name; "nonprod" and "prod" always exist.
	Registries map[string]Registry `yaml:"registries"`
	// Clusters are Kubernetes clusters by name; "local" always exists.
	Clusters map[string]Cluster `yaml:"clusters"`
	// Vaults are secret stores by name; "default" always exists.
	Vaults map[string]Vault `yaml:"vaults"`
	// Environments are deployment targets by name.
	Environments map[string]Environment `yaml:"environments"`
	// Repositories are the git repositories a server watches.
	Repositories []Repository `yaml:"repositories"`
	// ServiceConnections are the names tasks use for registries, clusters
	// and vaults.
	ServiceConnections map[string]ServiceConnection `yaml:"serviceConnections"`
	// VariableGroups are the groups of `variables: - group: name`.
	VariableGroups map[string]VariableGroup `yaml:"variableGroups"`
	// Users are the people who may act on a server, with their role and
	// groups (approvers may be listed by group).
	Users map[string]User `yaml:"users"`
	// BuildKit is the BuildKit daemon used for Dockerfiles with RUN.
	BuildKit BuildKit `yaml:"buildKit"`
	// SupplyChain configures SBOMs, vulnerability scanning and signing.
	SupplyChain SupplyChain `yaml:"supplyChain"`
	// Observe configures traces and the DORA metrics.
	Observe Observe `yaml:"observe"`
	// GitOps are the cluster states reconciled from git or OCI sources.
	GitOps []GitOps `yaml:"gitops"`
	// Dir is the directory of the file; relative paths resolve against it.
	Dir string `yaml:"-"`
	// File is the path the configuration was read from; empty for the
	// embedded defaults.
	File string `yaml:"-"`
	// Warnings are problems that do not stop a local run, such as a
	// ${VAR} that is not set.
	Warnings []*Error `yaml:"-"`
}

// Registry is an OCI registry.
type Registry struct {
	// Name is the registry's key in Registries (filled by Load).
	Name string `yaml:"-"`
	// URL is host[:port][/path] (a scheme is accepted and dropped).
	URL string `yaml:"url"`
	// Insecure allows plain HTTP.
	Insecure bool `yaml:"insecure"`
	// Embedded asks the runner to serve this registry itself; its URL is
	// then filled in at run time.
	Embedded bool `yaml:"embedded"`
	// Username and Password are basic credentials; empty means the docker
	// config (~/.docker/config.json) is used.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ImmutableTags refuses re-pointing a tag (always on for an embedded
	// "prod").
	ImmutableTags bool `yaml:"immutableTags"`
}

// Cluster is a Kubernetes cluster.
type Cluster struct {
	// Name is the cluster's key in Clusters (filled by Load).
	Name string `yaml:"-"`
	// Kubeconfig is the kubeconfig file; empty for "local" means the
	// cluster started by `conveyor cluster up`.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context is the kubeconfig context; empty means its current context.
	Context string `yaml:"context"`
}

// Vault providers.
const (
	ProviderEmbedded   = "embedded"
	ProviderVault      = "vault"
	ProviderKubernetes = "kubernetes"
)

// Vault is a secret store.
type Vault struct {
	// Name is the vault's key in Vaults (filled by Load).
	Name string `yaml:"-"`
	// Provider is embedded, vault (HashiCorp Vault/OpenBao KV v2) or
	// kubernetes (Secrets of a namespace).
	Provider string `yaml:"provider"`
	// Address is the Vault server's URL.
	Address string `yaml:"address"`
	// Mount is the KV v2 mount (default "secret").
	Mount string `yaml:"mount"`
	// Path is a prefix under the mount.
	Path string `yaml:"path"`
	// Token authenticates to Vault; RoleID and SecretID use AppRole.
	Token    string `yaml:"token"`
	RoleID   string `yaml:"roleID"`
	SecretID string `yaml:"secretID"`
	// Cluster and Namespace locate the Secrets of the kubernetes provider.
	Cluster   string `yaml:"cluster"`
	Namespace string `yaml:"namespace"`
}

// Environment is a deployment target with its checks.
type Environment struct {
	// Name is the environment's key in Environments (filled by Load).
	Name string `yaml:"-"`
	// Cluster names an entry of Clusters.
	Cluster string `yaml:"cluster"`
	// Namespace is the namespace deployments go to (default: the
	// environment's name).
	Namespace string `yaml:"namespace"`
	// Checks gate deployments to the environment.
	Checks Checks `yaml:"checks"`
	// RequireSignedImages makes deploys verify signatures and scan results.
	RequireSignedImages bool `yaml:"requireSignedImages"`
	// EnforceRegistry installs an admission policy that admits only
	// digest-pinned images from Registry.
	EnforceRegistry bool `yaml:"enforceRegistry"`
	// Registry names the registry the environment's images must come from.
	Registry string `yaml:"registry"`
	// Watch is how long the Deployments of a successful deploy are watched
	// afterwards; a crash loop or unavailability in that time marks the
	// deployment degraded (0: not watched).
	Watch time.Duration `yaml:"watch"`
}

// Checks are an environment's approvals and checks.
type Checks struct {
	Approvals     *Approvals     `yaml:"approvals"`
	BranchControl *BranchControl `yaml:"branchControl"`
	ExclusiveLock *ExclusiveLock `yaml:"exclusiveLock"`
}

// Approvals is the approval check.
type Approvals struct {
	// Approvers are user names or group names (see Users).
	Approvers []string `yaml:"approvers"`
	// MinApprovers is how many distinct approvals release (default 1).
	MinApprovers int `yaml:"minApprovers"`
	// RequesterCannotApprove forbids the run's requester to approve.
	RequesterCannotApprove bool `yaml:"requesterCannotApprove"`
	// Instructions are shown to approvers.
	Instructions string `yaml:"instructions"`
	// Timeout is how long the approval waits (default 30 days as Azure).
	Timeout time.Duration `yaml:"timeout"`
	// OnTimeout is reject (default) or resume.
	OnTimeout string `yaml:"onTimeout"`
}

// BranchControl lets only the listed branches deploy.
type BranchControl struct {
	// AllowedBranches are refs or patterns: refs/heads/main, refs/heads/release/*.
	AllowedBranches []string `yaml:"allowedBranches"`
}

// ExclusiveLock allows one deployment at a time.
type ExclusiveLock struct {
	// LockBehavior is sequential (default) or runLatest.
	LockBehavior string `yaml:"lockBehavior"`
}

// Repository is a git repository a server triggers pipelines from.
type Repository struct {
	// Name identifies the repository.
	Name string `yaml:"name"`
	// URL is any git URL or a local path.
	URL string `yaml:"url"`
	// WebhookSecret verifies webhook deliveries.
	WebhookSecret string `yaml:"webhookSecret"`
	// Pipelines maps pipeline names to files in the repository.
	Pipelines map[string]string `yaml:"pipelines"`
	// Poll is the polling interval; 0 means webhooks only.
	Poll time.Duration `yaml:"poll"`
	// Forge is where commit statuses are reported.
	Forge Forge `yaml:"forge"`
}

// Forge is a git hosting service's API for statuses.
type Forge struct {
	// Type is github or gitea.
	Type string `yaml:"type"`
	// API is the API's base URL.
	API string `yaml:"api"`
	// Token authenticates to the API.
	Token string `yaml:"token"`
	// FullName is owner/name on the forge (default: taken from URL).
	FullName string `yaml:"fullName"`
}

// ServiceConnection is a name a task uses for a registry, a cluster (with a
// namespace) or a vault.
type ServiceConnection struct {
	// Name is the connection's key (filled by Load).
	Name      string `yaml:"-"`
	Registry  string `yaml:"registry"`
	Cluster   string `yaml:"cluster"`
	Namespace string `yaml:"namespace"`
	Vault     string `yaml:"vault"`
}

// VariableGroup is a named group of variables, its secrets read from a vault.
type VariableGroup struct {
	// Vault names the vault the secrets come from (default "default").
	Vault string `yaml:"vault"`
	// Secrets are secret names in the vault; each becomes a secret variable.
	Secrets []string `yaml:"secrets"`
	// Variables are plain variables.
	Variables map[string]string `yaml:"variables"`
}

// Roles of users and tokens.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleApprover = "approver"
	RoleAdmin    = "admin"
)

// User is a person known to the server.
type User struct {
	Role   string   `yaml:"role"`
	Groups []string `yaml:"groups"`
}

// BuildKit locates a BuildKit daemon.
type BuildKit struct {
	// Address is e.g. unix:///run/buildkit/buildkitd.sock or tcp://host:1234.
	Address string `yaml:"address"`
}

// SupplyChain configures SBOMs, scanning and signing of built images.
type SupplyChain struct {
	// ScanOnBuild scans (and attaches an SBOM to) every image Docker@2 pushes.
	ScanOnBuild bool `yaml:"scanOnBuild"`
	// VulnDB is the OSV database folder or zip.
	VulnDB string `yaml:"vulnDB"`
	// Severity is the gate threshold: low, medium, high or critical.
	Severity string `yaml:"severity"`
	// Allow lists vulnerability IDs accepted until a date.
	Allow []Allow `yaml:"allow"`
	// SigningKey signs built images: a file or vault://<vault>/<secret>.
	SigningKey string `yaml:"signingKey"`
	// SigningPassword names the key's password secret (vault://...) or is
	// read from COSIGN_PASSWORD when empty.
	SigningPassword string `yaml:"signingPassword"`
}

// Allow accepts one vulnerability until a date.
type Allow struct {
	ID     string    `yaml:"id"`
	Until  time.Time `yaml:"until"`
	Reason string    `yaml:"reason"`
}

// Observe configures traces and the DORA metrics.
type Observe struct {
	// OTLP is the OTLP/HTTP endpoint runs are traced to, such as
	// http://collector:4318 (default: CONVEYOR_OTEL_ENDPOINT, then the
	// OTEL_EXPORTER_OTLP_* variables; none: no traces).
	OTLP string `yaml:"otlp"`
	// DORAWindow is the window of the DORA metrics on /metrics (default
	// 30 days).
	DORAWindow time.Duration `yaml:"doraWindow"`
}

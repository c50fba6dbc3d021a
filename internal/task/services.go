package task

import (
	"context"
	"fmt"
	"strconv"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
)

// SecretSource opens the vaults of conveyor.yaml by name.
type SecretSource interface {
	// Vault returns the provider of the vault named name (a key of
	// config.Vaults).
	Vault(ctx context.Context, name string) (vault.Provider, error)
}

// Services are the things of conveyor.yaml that tasks use: registries,
// clusters and vaults, resolved for this runner.
type Services struct {
	// Config is the resolved configuration: embedded registries carry their
	// live URL.
	Config *config.Config
	// DataDir is the runner's data folder; a task keeps state under
	// DataDir/<its area>.
	DataDir string
	// Secrets opens vaults; nil when no vault is available.
	Secrets SecretSource
	// Revisions keeps the successful deploys of KubernetesManifest@1 for
	// automatic rollback and pruning; nil turns both off. *store.DB
	// implements it.
	Revisions DeploymentStore
}

// ErrNoServices is wrapped by NeedServices when the run has no
// configuration.
var ErrNoServices = fmt.Errorf("no conveyor.yaml services in this run")

// NeedServices returns env.Services, or an error naming the task when the
// run has none.
func (e *Env) NeedServices() (*Services, error) {
	if e.Services == nil || e.Services.Config == nil {
		return nil, fmt.Errorf("%s: %w: run it with `conveyor run` or a server, which read conveyor.yaml (or its embedded defaults)", e.Task, ErrNoServices)
	}
	return e.Services, nil
}

// RunInfo identifies the run a task belongs to, read from the predefined
// variables.
type RunInfo struct {
	Number     int64  // Build.BuildId
	Name       string // Build.BuildNumber
	Pipeline   string // Build.DefinitionName
	Repository string // Build.Repository.Uri
	Commit     string // Build.SourceVersion
	Branch     string // Build.SourceBranch
	Requester  string // Build.RequestedFor
}

// Run returns the run's identity from the job's predefined variables.
func (e *Env) Run() RunInfo {
	n, _ := strconv.ParseInt(e.Variables["Build.BuildId"], 10, 64)
	return RunInfo{
		Number:     n,
		Name:       e.Variables["Build.BuildNumber"],
		Pipeline:   e.Variables["Build.DefinitionName"],
		Repository: e.Variables["Build.Repository.Uri"],
		Commit:     e.Variables["Build.SourceVersion"],
		Branch:     e.Variables["Build.SourceBranch"],
		Requester:  e.Variables["Build.RequestedFor"],
	}
}

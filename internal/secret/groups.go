package secret

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
)

// VaultSource opens the vaults of conveyor.yaml by name (task.SecretSource
// has this shape).
type VaultSource interface {
	Vault(ctx context.Context, name string) (vault.Provider, error)
}

// Groups resolves the variable groups of conveyor.yaml (variableGroups):
// plain variables as written, secrets read from the group's vault. It
// satisfies the engine's VariableGroups. Safe for concurrent use.
type Groups struct {
	groups map[string]config.VariableGroup
	vaults VaultSource
	file   string
}

// NewGroups returns the variable groups of cfg, their secrets read through
// vaults (nil: a group with secrets fails with a clear error).
func NewGroups(cfg *config.Config, vaults VaultSource) *Groups {
	g := &Groups{groups: map[string]config.VariableGroup{}, vaults: vaults, file: config.FileName}
	if cfg != nil {
		g.groups = cfg.VariableGroups
		if cfg.Dir != "" {
			g.file = cfg.Dir + "/" + config.FileName
		}
	}
	return g
}

// DefaultGroupVault is the vault of a group that names none.
const DefaultGroupVault = "default"

// VariableGroup returns the group's plain variables and its secrets, each
// secret named as in the vault with '/' and '#' replaced by '.'. A secret
// missing from the vault is an error naming it (never its value).
func (g *Groups) VariableGroup(ctx context.Context, name string) (plain, secrets map[string]string, err error) {
	grp, ok := g.groups[name]
	if !ok {
		known := slices.Sorted(maps.Keys(g.groups))
		return nil, nil, fmt.Errorf("not defined in %s: add it under variableGroups (defined: %s)", g.file, orNone(known))
	}
	plain = make(map[string]string, len(grp.Variables))
	maps.Copy(plain, grp.Variables)
	secrets = map[string]string{}
	if len(grp.Secrets) == 0 {
		return plain, secrets, nil
	}
	vname := grp.Vault
	if vname == "" {
		vname = DefaultGroupVault
	}
	if g.vaults == nil {
		return nil, nil, fmt.Errorf("its secrets are in vault %s, and no vault is available to this runner", vname)
	}
	p, err := g.vaults.Vault(ctx, vname)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, s := range grp.Secrets {
		v, err := p.Get(ctx, s)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			missing = append(missing, fmt.Sprintf("%s (%v)", s, err))
			continue
		}
		secrets[VariableName(s)] = string(v)
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("secrets not read from vault %s: %s", vname, strings.Join(missing, "; "))
	}
	return plain, secrets, nil
}

// VariableName is the variable a vault secret becomes: its name with '/'
// and '#' replaced by '.', so that $(name) macros can name it.
func VariableName(secretName string) string {
	return strings.NewReplacer("/", ".", "#", ".").Replace(secretName)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

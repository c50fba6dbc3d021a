package task

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/secret/vault"
)

// AzureKeyVault@2 reads secrets from a vault of conveyor.yaml and makes each
// a secret variable of the job, named after the secret, for the steps after
// it (as Azure's task does).
//
// Inputs:
//   - azureSubscription (alias ConnectedServiceName): a service connection
//     whose vault is used.
//   - KeyVaultName: when it names a vault of conveyor.yaml, that vault is used
//     (the connection is then optional); otherwise it is informational and the
//     connection's vault is used.
//   - SecretsFilter: "*" (default) for every secret of the vault, or a comma
//     separated list of names. A listed secret that is absent fails the task,
//     naming it; the others are still set.
//   - RunAsPreJob: Azure runs the task before the job so that every step sees
//     the secrets. Here the task runs where it stands: moving it to the
//     front of the job is the engine's (pre-job hooks).
//
// A secret name with '/' or '#' (vault paths, fields) becomes a variable with
// those characters replaced by '.', so that $(name) macros can name it.
// Values shorter than the masker's minimum cannot be masked: the task warns.
func runAzureKeyVault(ctx context.Context, env *Env) (Result, error) {
	svc, err := env.NeedServices()
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	if svc.Secrets == nil {
		return Result{Status: Failed, Message: env.Task + ": no vault is available to this runner: define one under vaults in conveyor.yaml"}, nil
	}
	vaultName, err := keyVaultOf(svc.Config, env.Input("azureSubscription", env.Input("ConnectedServiceName", "")), env.Input("KeyVaultName", ""))
	if err != nil {
		return Result{Status: Failed, Message: env.Task + ": " + err.Error()}, nil
	}
	preJob, err := env.BoolInput("RunAsPreJob", false)
	if err != nil {
		return Result{Status: Failed, Message: env.Task + ": " + err.Error()}, nil
	}
	if preJob {
		env.Logf("RunAsPreJob: the secrets are variables of the steps after this one (this runner does not move the task before the job)")
	}
	p, err := svc.Secrets.Vault(ctx, vaultName)
	if err != nil {
		return Result{Status: Failed, Message: env.Task + ": " + err.Error()}, nil
	}
	names, all := secretsFilter(env.Input("SecretsFilter", "*"))
	if all {
		infos, err := p.List(ctx)
		if err != nil {
			return Result{Status: Failed, Message: fmt.Sprintf("%s: list the secrets of vault %s: %v", env.Task, vaultName, err)}, nil
		}
		for _, i := range infos {
			names = append(names, i.Name)
		}
		env.Logf("Number of secrets found in vault %s: %d", vaultName, len(names))
	}
	var missing, failed []string
	set := 0
	for _, name := range names {
		env.Logf("Downloading secret value for: %s", name)
		v, err := p.Get(ctx, name)
		switch {
		case errors.Is(err, vault.ErrNotFound):
			missing = append(missing, name)
			continue
		case err != nil:
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			env.Logf("##[error]%v", err)
			failed = append(failed, name)
			continue
		}
		varName := secretVariableName(name)
		if len(v) < minMaskLength {
			env.Logf("##vso[task.logissue type=warning]secret %s has fewer than %d characters and cannot be masked in logs", name, minMaskLength)
		}
		if err := env.SetVariable(varName, string(v), VarOptions{Secret: true}); err != nil {
			env.Logf("##[error]set variable %s: %v", varName, err)
			failed = append(failed, name)
			continue
		}
		set++
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("secret %s not found in vault %s: check SecretsFilter or add it (conveyor secret set for the embedded vault)", strings.Join(missing, ", "), vaultName))
	}
	if len(failed) > 0 {
		problems = append(problems, fmt.Sprintf("secret %s could not be read from vault %s (see the log)", strings.Join(failed, ", "), vaultName))
	}
	if len(problems) > 0 {
		return Result{Status: Failed, Message: env.Task + ": " + strings.Join(problems, "; ")}, nil
	}
	return Result{Status: Succeeded, Message: fmt.Sprintf("%d secrets of vault %s set as secret variables", set, vaultName)}, nil
}

// minMaskLength is the masker's shortest maskable value (secret.MinLength;
// task does not import the masker).
const minMaskLength = 4

// keyVaultOf picks the vault of conveyor.yaml the task reads: KeyVaultName
// when it names one, else the connection's.
func keyVaultOf(cfg *config.Config, connection, keyVault string) (string, error) {
	if keyVault != "" {
		if _, ok := cfg.Vaults[keyVault]; ok {
			return keyVault, nil
		}
	}
	if connection == "" {
		known := make([]string, 0, len(cfg.Vaults))
		for n := range cfg.Vaults {
			known = append(known, n)
		}
		sort.Strings(known)
		if keyVault == "" {
			return "", fmt.Errorf("input azureSubscription is required: name a service connection with a vault, or set KeyVaultName to a vault of conveyor.yaml (%s)", strings.Join(known, ", "))
		}
		return "", fmt.Errorf("KeyVaultName %s is not a vault of conveyor.yaml (%s) and no azureSubscription connection is given: name one", keyVault, strings.Join(known, ", "))
	}
	if _, ok := cfg.Vaults[connection]; ok {
		return connection, nil // a vault's name used as the connection
	}
	sc, err := cfg.Connection(connection)
	if err != nil {
		return "", fmt.Errorf("input azureSubscription: %w", err)
	}
	if sc.Vault == "" {
		return "", fmt.Errorf("input azureSubscription: service connection %s names no vault: add vault: <name> to it in conveyor.yaml", connection)
	}
	return sc.Vault, nil
}

// secretsFilter parses SecretsFilter: all is true for "*"; otherwise the
// names, trimmed, without empties or repeats, in order.
func secretsFilter(f string) (names []string, all bool) {
	if strings.TrimSpace(f) == "*" || strings.TrimSpace(f) == "" {
		return nil, true
	}
	for _, n := range strings.Split(f, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, len(names) == 0
}

// secretVariableName is the variable a secret becomes.
func secretVariableName(name string) string {
	return strings.NewReplacer("/", ".", "#", ".").Replace(name)
}

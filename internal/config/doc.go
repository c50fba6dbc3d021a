// Package config reads conveyor.yaml: the registries, clusters, vaults,
// environments, repositories, service connections, variable groups and users
// that pipelines refer to by name, so that pipelines stay portable, and the
// gitops entries that clusters reconcile themselves from.
//
// Load reports bad input as file:line:col errors naming the field and what to
// do; Default returns the embedded defaults used when a repository has no
// conveyor.yaml. The package is pure apart from reading the file and the
// process environment (for ${VAR} references): it starts nothing and resolves
// no embedded registry address (its callers do).
//
// It must not import any other package of the module.
package config

// Package pipeline reads pipelines written in the Azure Pipelines YAML dialect:
// it parses them with source positions, validates them, expands templates and
// compile-time expressions, and compiles them to a plan.Plan.
//
// The flow is parse (YAML to Node trees with positions, node.go) → expand
// (template references, extends, parameters, ${{ }} directives and values,
// expand.go and params.go) → decode and compile (schema checks, shorthand
// steps to tasks, implicit stages and jobs, matrix and parallel legs,
// deployment strategies to hooks, dependencies; compile.go, jobs.go,
// steps.go). Compile returns every problem found as an ErrorList of *Error,
// each with file, line, column and field path, sorted by position.
// MatchTrigger decides whether a trigger filter starts a run for an event.
//
// Parsed but not run everywhere (compiled, with a plan.Warning naming the
// feature):
//   - job containers, service containers and resources.containers: they run
//     only on the kubernetes executor; the local executor runs steps on the
//     host;
//   - SMI traffic split (KubernetesManifest trafficSplitMethod: smi): the
//     canary is routed by replica count instead;
//   - script steps in agentless (pool: server) jobs or hooks;
//   - rolling deployments (batches of virtual machines): the hooks run once.
//
// Parsed and rejected with an error naming the feature: resources.builds,
// resources.packages, resources.webhooks and reviewApp steps. A matrix
// given as a runtime expression (strategy.matrix: $[ ... ]) stays one job
// in the plan (Job.RuntimeMatrix); the engine expands it into legs when the
// job runs. Rolling deployments are compiled to one pass of
// their hooks with Job.MaxParallel set: the targets of a rolling batch are
// only known at run time.
//
// Compared with Azure Pipelines: a template may not include itself, even
// with other parameters (a cycle is an error); the implicit "checkout: self"
// of agent jobs is made explicit in the plan (deployment jobs get none, and
// no implicit "download: current" is added to their hooks: write it when the
// deployment needs the pipeline's artifacts); for a pull request
// Build.SourceBranch is refs/pull/<n>/merge and the source branch is in
// System.PullRequest.SourceBranch, as Azure Pipelines sets them.
//
// It is pure: it reads files through an fs.FS and imports nothing of the
// runtime (engine, executor, store, task); the task registry is consulted
// through Options.ValidateTask.
package pipeline

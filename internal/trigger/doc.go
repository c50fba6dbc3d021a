// Package trigger turns git events into pipeline runs: webhook receivers
// (GitHub, Gitea/Forgejo, Azure Repos) that verify signatures or shared
// secrets and drop replayed deliveries, polling of any git URL (local paths
// too) as the fallback, the trigger/pr filters of a pipeline (branches,
// paths, tags, drafts, autoCancel, batch), and pipeline-completion triggers
// (resources.pipelines).
//
// The repository is matched against conveyor.yaml by clone URL or full
// name; each pipeline is read and compiled at the event's commit from a
// bare mirror (real git); parsing and matching are pure, git, HTTP and the
// store sit at the edges behind small interfaces declared here (Starter,
// Canceler, ActiveRuns, Deliveries, State).
//
// It produces Requests and hands them to a Starter that the server
// implements; it must not import the server, the engine, the executor or
// the store.
package trigger

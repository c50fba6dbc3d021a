// Package trigger turns git events into pipeline runs: webhook receivers
// (GitHub, Gitea/Forgejo, Azure Repos) that verify signatures and drop
// replayed deliveries, polling of any git URL, the trigger/pr filters of a
// pipeline, and pipeline-completion triggers (resources.pipelines).
//
// It produces Requests and hands them to a Starter that the server
// implements; it must not import the server, the engine or the executor.
package trigger

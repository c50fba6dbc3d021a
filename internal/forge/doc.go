// Package forge reports pipeline runs back to the forge hosting the
// repository, as commit statuses that pull requests show: pending while a
// run is queued or running, then success, failure or error, with context
// "conveyor/<pipeline>" and a link to the run. GitHub
// (POST /repos/{owner}/{repo}/statuses/{sha}) and Gitea/Forgejo
// (POST /api/v1/repos/{owner}/{repo}/statuses/{sha}) are supported; the
// token comes from the repository's forge settings in conveyor.yaml.
//
// It logs nothing and must not import the engine, the executor, the store
// or the server: the server calls Reporter.RunChanged on run state changes.
package forge

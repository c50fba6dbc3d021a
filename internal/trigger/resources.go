package trigger

import "sort"

// ResourceVariables returns the predefined variables Azure Pipelines sets
// for the pipeline resources of a run started by another pipeline's
// completion: resources.pipeline.<alias>.{projectName, projectID,
// pipelineName, pipelineID, runName, runID, runURI, sourceBranch,
// sourceCommit, sourceProvider, requestedFor, requestedForID}. Conveyor
// has no projects: the project is the source pipeline's repository, and a
// pipeline's ID is "<repository>/<pipeline>". The server adds them to the
// run's variables.
func ResourceVariables(r Request) map[string]string {
	if len(r.Resources) == 0 {
		return nil
	}
	aliases := make([]string, 0, len(r.Resources))
	for a := range r.Resources {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	vars := map[string]string{}
	for _, a := range aliases {
		res := r.Resources[a]
		repo := res.Repository
		if repo == "" {
			repo = r.Repository
		}
		p := "resources.pipeline." + a + "."
		vars[p+"projectName"] = repo
		vars[p+"projectID"] = repo
		vars[p+"pipelineName"] = res.Pipeline
		vars[p+"pipelineID"] = repo + "/" + res.Pipeline
		vars[p+"runID"] = res.RunID
		vars[p+"runName"] = res.RunName
		vars[p+"runURI"] = "conveyor:///runs/" + res.RunID
		vars[p+"sourceBranch"] = res.SourceBranch
		vars[p+"sourceCommit"] = res.SourceCommit
		vars[p+"sourceProvider"] = "git"
		vars[p+"requestedFor"] = res.RequestedFor
		vars[p+"requestedForID"] = res.RequestedFor
	}
	return vars
}

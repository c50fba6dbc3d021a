package trigger

import "sort"

// ResourceVariables returns the predefined variables Azure Pipelines sets
// for the pipeline resources of a run started by another pipeline's
// completion: resources.pipeline.<alias>.{pipelineName, runID, runName,
// sourceBranch, sourceCommit, requestedFor}. The server adds them to the
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
		p := "resources.pipeline." + a + "."
		vars[p+"pipelineName"] = res.Pipeline
		vars[p+"runID"] = res.RunID
		vars[p+"runName"] = res.RunName
		vars[p+"sourceBranch"] = res.SourceBranch
		vars[p+"sourceCommit"] = res.SourceCommit
		vars[p+"requestedFor"] = res.RequestedFor
	}
	return vars
}

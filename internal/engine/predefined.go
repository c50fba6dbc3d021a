package engine

import (
	"crypto/sha1"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

// refBranch returns the full ref of a branch name ("main" → refs/heads/main).
func refBranch(b string) string {
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}

// repoName is the repository's name: the last element of its URL or path.
func (in Input) repoName() string {
	if in.RepositoryName != "" {
		return in.RepositoryName
	}
	n := strings.TrimSuffix(strings.TrimRight(in.Repository, "/"), ".git")
	if i := strings.LastIndexAny(n, "/:"); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// runVariables are the predefined variables known when the run starts,
// before any job has a workspace.
func (rs *runState) runVariables() *vars {
	in := rs.in
	v := newVars()
	set := func(name, value string) { v.force(variable{Name: name, Value: value, Readonly: true}) }
	sourceBranch := rs.sourceBranch()
	if in.Event == store.EventPR {
		id := in.PullRequestID
		if id == 0 {
			id = 1
		}
		set("System.PullRequest.PullRequestId", strconv.Itoa(id))
		set("System.PullRequest.PullRequestNumber", strconv.Itoa(id))
		set("System.PullRequest.SourceBranch", refBranch(in.Branch))
		set("System.PullRequest.TargetBranch", refBranch(in.TargetBranch))
		set("System.PullRequest.TargetBranchName", path.Base(refBranch(in.TargetBranch)))
		set("System.PullRequest.SourceCommitId", in.Commit)
		set("System.PullRequest.SourceRepositoryURI", in.Repository)
		set("System.PullRequest.IsFork", "False")
	}
	name := rs.plan.Name
	buildNumber := rs.buildNumber(name)
	rs.mu.Lock()
	if rs.buildNumberSet != "" {
		buildNumber = rs.buildNumberSet
	}
	rs.mu.Unlock()
	set("Build.BuildId", strconv.FormatInt(rs.run.Number, 10))
	set("Build.BuildNumber", buildNumber)
	set("Build.BuildUri", "vstfs:///Build/Build/"+strconv.FormatInt(rs.run.Number, 10))
	set("Build.DefinitionName", in.Pipeline)
	set("Build.DefinitionVersion", "1")
	set("Build.QueuedBy", orName(in.RequestedFor, "conveyor"))
	set("Build.Reason", buildReason(in.Event))
	set("Build.RequestedFor", in.RequestedFor)
	set("Build.RequestedForEmail", in.RequestedForEmail)
	set("Build.RequestedForId", in.RequestedForEmail)
	set("Build.SourceBranch", sourceBranch)
	set("Build.SourceBranchName", path.Base(sourceBranch))
	set("Build.SourceVersion", in.Commit)
	set("Build.SourceVersionMessage", sourceVersionMessage(in.CommitMessage))
	set("Build.Repository.Name", in.repoName())
	set("Build.Repository.Uri", in.Repository)
	set("Build.Repository.Provider", "Git")
	set("Build.Repository.ID", in.repoName())
	set("Build.ContainerId", rs.run.ID)
	set("Build.TriggeredBy.DefinitionName", "")
	set("System.TeamProject", orName(in.Project, in.repoName()))
	set("System.TeamProjectId", orName(in.Project, in.repoName()))
	set("System.CollectionUri", "conveyor://local/")
	set("System.TeamFoundationCollectionUri", "conveyor://local/")
	set("System.DefinitionId", in.Pipeline)
	set("System.DefinitionName", in.Pipeline)
	set("System.HostType", "build")
	set("System.PlanId", guid(rs.run.ID))
	set("System.TimelineId", guid(rs.run.ID))
	set("System.Debug", "false")
	set("System.IsScheduled", strconv.FormatBool(in.Event == store.EventSchedule))
	set("Agent.OS", executor.AgentOS())
	set("Agent.OSArchitecture", executor.AgentArch())
	set("Agent.Name", "conveyor")
	set("Agent.MachineName", hostname)
	set("Agent.Id", "1")
	set("Agent.Version", "3.0.0")
	set("Agent.ContainerMapping", "")
	set("Pipeline.RunName", buildNumber)
	return v
}

// buildNumber expands the run-name format ("Run and build numbers"):
// $(Date:yyyyMMdd) and other date formats, $(Year:yy), $(Month),
// $(DayOfMonth), $(DayOfYear), $(Hours), $(Minutes), $(Seconds) (no zero
// padding, as the documented examples show), $(Build.DefinitionName),
// $(Build.BuildId), $(SourceBranchName), $(TeamProject), pipeline
// variables, and $(Rev:r). Rev counts the runs whose build number is the
// same apart from it: it starts at 1 and restarts when any other part
// changes (the next day, or 1.0.$(Rev:r) edited to 1.1.$(Rev:r)). More r's
// pad it with zeros ($(Rev:rr) is 01); $(Rev:.r) puts a dot before it.
// Azure's default format is $(Date:yyyyMMdd).$(Rev:r).
func (rs *runState) buildNumber(format string) string {
	if format == "" {
		format = "$(Date:yyyyMMdd).$(Rev:r)"
	}
	t := rs.run.CreatedAt
	sourceBranch := rs.sourceBranch()
	repl := map[string]string{
		"month":                  strconv.Itoa(int(t.Month())),
		"dayofmonth":             strconv.Itoa(t.Day()),
		"dayofyear":              strconv.Itoa(t.YearDay()),
		"hours":                  strconv.Itoa(t.Hour()),
		"minutes":                strconv.Itoa(t.Minute()),
		"seconds":                strconv.Itoa(t.Second()),
		"buildid":                strconv.FormatInt(rs.run.Number, 10),
		"build.buildid":          strconv.FormatInt(rs.run.Number, 10),
		"definitionname":         rs.in.Pipeline,
		"build.definitionname":   rs.in.Pipeline,
		"sourcebranchname":       path.Base(sourceBranch),
		"sourcebranch":           sourceBranch,
		"build.sourcebranchname": path.Base(sourceBranch),
		"build.sourcebranch":     sourceBranch,
		"sourceversion":          rs.in.Commit,
		"build.sourceversion":    rs.in.Commit,
		"teamproject":            orName(rs.in.Project, rs.in.repoName()),
		"system.teamproject":     orName(rs.in.Project, rs.in.repoName()),
	}
	var revs []string // the $(Rev:...) arguments, in order
	const revMark = "\x00rev\x00"
	out := buildNumberToken.ReplaceAllStringFunc(format, func(tok string) string {
		name := tok[2 : len(tok)-1]
		kind, arg, hasArg := strings.Cut(name, ":")
		if hasArg {
			switch strings.ToLower(kind) {
			case "rev":
				if r := strings.TrimPrefix(arg, "."); r != "" && strings.Trim(r, "r") == "" {
					revs = append(revs, arg)
					return revMark
				}
			case "date", "year":
				return expr.FormatDate(t, arg)
			}
		}
		if v, ok := repl[strings.ToLower(name)]; ok {
			return v
		}
		if x, ok := rs.planVar(name); ok {
			return x
		}
		return tok
	})
	if len(revs) == 0 {
		return out
	}
	rev, err := rs.counter("\x00build number\x00"+out, 1)
	if err != nil {
		rev = rs.run.Number // no counter store: the run number is unique too
	}
	for _, arg := range revs {
		s := fmt.Sprintf("%0*d", len(strings.TrimPrefix(arg, ".")), rev)
		if strings.HasPrefix(arg, ".") {
			s = "." + s
		}
		out = strings.Replace(out, revMark, s, 1)
	}
	return out
}

// sourceVersionMessage is Build.SourceVersionMessage: the first line of
// the commit message, at most 200 characters.
func sourceVersionMessage(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	msg = strings.TrimRight(msg, "\r")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200])
	}
	return msg
}

// buildNumberToken matches $(token) in a run-name format.
var buildNumberToken = regexp.MustCompile(`\$\([^()]+\)`)

// planVar looks a pipeline-level variable up by name.
func (rs *runState) planVar(name string) (string, bool) {
	for _, v := range rs.plan.Variables {
		if strings.EqualFold(v.Name, name) {
			return v.Value, true
		}
	}
	return "", false
}

// jobVariables adds the job's predefined variables once its workspace is
// known.
func jobVariables(v *vars, st plan.Stage, j plan.Job, d task.Dirs, jobID string, attempt int) {
	set := func(name, value string) { v.force(variable{Name: name, Value: value, Readonly: true}) }
	set("System.JobId", guid(jobID))
	set("System.JobName", j.Name)
	set("System.JobDisplayName", orName(j.DisplayName, j.Name))
	set("System.PhaseName", j.Name)
	set("System.PhaseDisplayName", orName(j.DisplayName, j.Name))
	set("System.StageName", st.Name)
	set("System.StageDisplayName", orName(st.DisplayName, st.Name))
	set("System.StageId", guid(st.Name))
	set("System.PhaseId", guid(jobID))
	set("System.JobAttempt", strconv.Itoa(attempt))
	set("System.PhaseAttempt", strconv.Itoa(attempt))
	set("System.StageAttempt", "1")
	set("System.JobIdentifier", jobID)
	pos, total := 1, 1
	if j.Expansion != nil {
		pos, total = j.Expansion.Position, j.Expansion.Total
	}
	set("System.JobPositionInPhase", strconv.Itoa(pos))
	set("System.TotalJobsInPhase", strconv.Itoa(total))
	set("Agent.JobName", orName(j.DisplayName, j.Name))
	set("Agent.JobStatus", "Succeeded")
	set("Agent.BuildDirectory", d.Pipeline)
	set("Agent.WorkFolder", d.Work)
	set("Agent.RootDirectory", d.Work)
	set("Agent.TempDirectory", d.Temp)
	set("Agent.ToolsDirectory", d.Tools)
	set("Agent.HomeDirectory", d.Work)
	set("Pipeline.Workspace", d.Pipeline)
	set("System.WorkFolder", d.Work)
	set("System.DefaultWorkingDirectory", d.Sources)
	set("System.ArtifactsDirectory", d.ArtifactStaging)
	set("Build.SourcesDirectory", d.Sources)
	set("Build.Repository.LocalPath", d.Sources)
	set("Build.ArtifactStagingDirectory", d.ArtifactStaging)
	set("Build.StagingDirectory", d.ArtifactStaging)
	set("Build.BinariesDirectory", d.Binaries)
	set("Common.TestResultsDirectory", d.TestResults)
	if j.Kind == plan.KindDeployment {
		if env := j.Environment; env != nil {
			set("Environment.Name", env.Name)
			set("Environment.Id", guid("env:"+env.Name))
			set("Environment.ResourceName", env.ResourceName)
			set("Environment.ResourceType", env.ResourceType)
			if env.ResourceName != "" {
				set("Environment.ResourceId", guid("res:"+env.Name+"/"+env.ResourceName))
			}
		}
		set("Strategy.Name", orName(j.Strategy, "runOnce"))
	}
}

// cycleName is Strategy.CycleName for a hook.
func cycleName(hook string) string {
	switch hook {
	case plan.HookPreDeploy:
		return "PreIteration"
	case plan.HookOnSuccess, plan.HookOnFailure:
		return "PostIteration"
	}
	return "Iteration"
}

// guid makes a stable GUID-shaped id from s.
func guid(s string) string {
	h := sha1.Sum([]byte(s))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// jobStatusName is Agent.JobStatus for a job result so far.
func jobStatusName(r store.Result) string { return depResult(r) }

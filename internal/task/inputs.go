package task

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// documentedInputs lists, for each built-in task that mirrors an Azure
// task, the input names of Azure's task reference (aliases included) plus
// the few inputs Conveyor adds. A step input not listed here is ignored by
// the task, as Azure ignores it, but the step's log says so with the
// closest input name, so that a misspelt input does not pass unnoticed.
var documentedInputs = map[string][]string{
	"CmdLine@2": {"script", "workingDirectory", "failOnStderr"},
	"Bash@3": {"targetType", "filePath", "arguments", "script", "workingDirectory", "failOnStderr", "bashEnvValue",
		"noProfile", "noRc"},
	"PublishPipelineArtifact@1": {"targetPath", "path", "artifact", "artifactName", "publishLocation", "artifactType",
		"fileSharePath", "parallel", "parallelCount", "properties"},
	"DownloadPipelineArtifact@2": {"buildType", "source", "project", "definition", "pipeline",
		"specificBuildWithTriggering", "preferTriggeringPipeline", "buildVersionToDownload", "runVersion", "branchName",
		"runBranch", "pipelineId", "runId", "buildId", "tags", "allowPartiallySucceededBuilds", "allowFailedBuilds",
		"artifactName", "artifact", "itemPattern", "patterns", "targetPath", "path", "downloadPath",
		"checkDownloadedFiles", "retryDownloadCount", "extractTars"},
	"PublishTestResults@2": {"testResultsFormat", "testRunner", "testResultsFiles", "searchFolder", "mergeTestResults",
		"failTaskOnFailedTests", "failTaskOnFailureToPublishResults", "failTaskOnMissingResultsFile", "testRunTitle",
		"buildPlatform", "platform", "buildConfiguration", "configuration", "publishRunAttachments"},
	"CopyFiles@2": {"SourceFolder", "Contents", "TargetFolder", "CleanTargetFolder", "OverWrite", "flattenFolders",
		"preserveTimestamp", "retryCount", "delayBetweenRetries", "ignoreMakeDirErrors"},
	"ArchiveFiles@2": {"rootFolderOrFile", "includeRootFolder", "archiveType", "sevenZipCompression", "tarCompression",
		"archiveFile", "replaceExistingArchive", "verbose", "quiet"},
	"HelmDeploy@0": helmInputs,
	"HelmDeploy@1": helmInputs,
	"KubernetesManifest@1": {"action", "connectionType", "kubernetesServiceConnection", "kubernetesServiceEndpoint",
		"azureSubscriptionConnection", "azureSubscriptionEndpoint", "azureResourceGroup", "kubernetesCluster",
		"useClusterAdmin", "namespace", "strategy", "trafficSplitMethod", "percentage", "baselineAndCanaryReplicas",
		"manifests", "containers", "imagePullSecrets", "renderType", "dockerComposeFile", "helmChart", "releaseName",
		"overrideFiles", "overrides", "kustomizationPath", "resourceToPatch", "resourceFileToPatch", "kind", "name",
		"replicas", "mergeStrategy", "arguments", "patch", "secretType", "secretName", "secretArguments",
		"dockerRegistryEndpoint", "rolloutStatusTimeout", "resourceType",
		// Conveyor's additions.
		"prune", "rollbackOnFailure"},
	"Kubernetes@1": {"connectionType", "kubernetesServiceEndpoint", "kubernetesServiceConnection",
		"azureSubscriptionEndpoint", "azureSubscription", "azureResourceGroup", "kubernetesCluster", "useClusterAdmin",
		"namespace", "command", "useConfigurationFile", "configurationType", "configuration", "inline", "arguments",
		"secretType", "secretArguments", "containerRegistryType", "dockerRegistryEndpoint",
		"azureSubscriptionEndpointForSecrets", "azureContainerRegistry", "secretName", "forceUpdate", "configMapName",
		"forceUpdateConfigMap", "useConfigMapFile", "configMapFile", "configMapArguments", "versionOrLocation",
		"versionSpec", "checkLatest", "specifyLocation", "cwd", "workingDirectory", "outputFormat",
		// Conveyor's addition.
		"outputIsSecret"},
	"Docker@2": {"containerRegistry", "repository", "command", "Dockerfile", "buildContext", "tags", "arguments",
		"addPipelineData", "addBaseImageData", "container",
		// Conveyor's additions: daemonless Go builds, and the connection
		// under ContainerBuild@0's name.
		"goModule", "goPackage", "ldflags", "baseImage", "dockerRegistryServiceConnection"},
	"AzureKeyVault@2":    {"azureSubscription", "ConnectedServiceName", "KeyVaultName", "SecretsFilter", "RunAsPreJob"},
	"ManualValidation@0": manualValidationInputs,
	"ManualValidation@1": manualValidationInputs,
}

var helmInputs = []string{"connectionType", "azureSubscription", "azureSubscriptionEndpoint", "azureResourceGroup",
	"kubernetesCluster", "useClusterAdmin", "kubernetesServiceConnection", "kubernetesServiceEndpoint", "namespace",
	"azureSubscriptionForACR", "azureSubscriptionEndpointForACR", "azureResourceGroupForACR", "azureContainerRegistry",
	"command", "chartType", "chartName", "chartPath", "chartVersion", "version", "releaseName", "overrideValues",
	"valueFile", "destination", "canaryimage", "upgradetiller", "updatedependency", "save", "install", "recreate",
	"resetValues", "force", "waitForExecution", "arguments", "enableTls", "caCert", "certificate", "privatekey",
	"tillernamespace", "failOnStderr", "publishPipelineMetadata", "chartNameForACR", "chartPathForACR",
	// Conveyor's addition: the revision of a rollback.
	"revision"}

var manualValidationInputs = []string{"notifyUsers", "approvers", "allowApproversToApproveTheirOwnRuns",
	"instructions", "onTimeout"}

// UnknownInputs returns a message for each input in inputs that the task
// named task ("Name@Major") does not have, with the closest documented name
// when one is near; nil for a task without a documented input list. Input
// names are compared case-insensitively, as Azure compares them.
func UnknownInputs(task string, inputs map[string]string) []string {
	var canonical string
	for name := range documentedInputs {
		if strings.EqualFold(name, strings.TrimSpace(task)) {
			canonical = name
		}
	}
	known := documentedInputs[canonical]
	if known == nil {
		return nil
	}
	var out []string
	for in := range inputs {
		found := false
		for _, k := range known {
			if strings.EqualFold(in, k) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		msg := fmt.Sprintf("%s has no input %s: it is ignored", canonical, in)
		if near := closestInput(in, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// closestInput returns the name in known nearest to name by edit distance
// (ignoring case), or "" when none is within a third of name's length.
func closestInput(name string, known []string) string {
	best, bestD := "", len(name)/3+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// warnUnknownInputs wraps the built-in task name so that it logs a warning
// for each input it does not have before running.
func warnUnknownInputs(name string, t Task) Task {
	if documentedInputs[name] == nil {
		return t
	}
	return Func(func(ctx context.Context, env *Env) (Result, error) {
		for _, msg := range UnknownInputs(name, env.Inputs) {
			env.Logf("##[warning]%s", msg)
		}
		return t.Run(ctx, env)
	})
}

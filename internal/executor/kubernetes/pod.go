package kubernetes

import (
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// Labels and annotations on job pods.
const (
	// LabelRun and LabelJob carry the run and job ids, made valid label
	// values; AnnotationRun and AnnotationJob carry them as they are.
	LabelRun      = "conveyor.dev/run"
	LabelJob      = "conveyor.dev/job"
	AnnotationRun = "conveyor.dev/run"
	AnnotationJob = "conveyor.dev/job"
	// LabelComponent is on every job pod, value "job".
	LabelComponent = "app.kubernetes.io/component"
	// LabelManagedBy is on every job pod, value "conveyor".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelAgent names the agent that made the pod (WithAgent).
	LabelAgent = "conveyor.dev/agent"
)

// Paths inside a job pod.
const (
	workDir      = "/__w"
	artifactsDir = "/conveyor/artifacts"
	// jobContainer is the container the steps run in.
	jobContainer = "job"
)

// podDirs is the workspace of a job pod, laid out like Azure's container
// jobs: /__w/1/{s,a,b,TestResults}, with the run's artifacts on their own
// volume.
func podDirs(runID string) task.Dirs {
	return task.Dirs{
		Work:            workDir,
		Pipeline:        workDir + "/1",
		Sources:         workDir + "/1/s",
		ArtifactStaging: workDir + "/1/a",
		Binaries:        workDir + "/1/b",
		TestResults:     workDir + "/1/TestResults",
		Temp:            workDir + "/_temp",
		Tools:           workDir + "/_tool",
		Artifacts:       path.Join(artifactsDir, safePath(runID)),
	}
}

// podSettings are the Executor's settings that shape a job pod.
type podSettings struct {
	runnerImage, defaultImage string
	resources                 corev1.ResourceRequirements
	nodeSelector              map[string]string
	tolerations               []corev1.Toleration
	serviceAccount            string
	pullSecrets               []string
	hostNetwork               bool
	artifacts                 *corev1.VolumeSource
	labels                    map[string]string
	gracePeriod               int64
	agent                     string
	deadline                  int64 // activeDeadlineSeconds; 0: none
}

// podFor returns the pod of one job: an init container installing the step
// runner from the runner image into a shared emptyDir, and the job
// container (the job's image, else the default one) waiting for steps,
// with the workspace on an emptyDir.
func podFor(spec executor.JobSpec, s podSettings) *corev1.Pod {
	d := podDirs(spec.RunID)
	image := spec.Container
	if image == "" {
		image = s.defaultImage
	}
	if image == "" {
		image = s.runnerImage
	}
	labels := map[string]string{}
	for k, v := range s.labels {
		labels[k] = v
	}
	labels[LabelRun] = labelValue(spec.RunID)
	labels[LabelJob] = labelValue(spec.JobID)
	labels[LabelComponent] = "job"
	labels[LabelManagedBy] = "conveyor"
	if s.agent != "" {
		labels[LabelAgent] = labelValue(s.agent)
	}
	artifacts := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if s.artifacts != nil {
		artifacts = *s.artifacts
	}
	var pullSecrets []corev1.LocalObjectReference
	for _, n := range s.pullSecrets {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: n})
	}
	automount := s.serviceAccount != ""
	grace := s.gracePeriod
	var deadline *int64
	if s.deadline > 0 {
		deadline = &s.deadline
	}
	mkdirs := []string{d.Sources, d.ArtifactStaging, d.Binaries, d.TestResults, d.Temp, d.Tools, d.Artifacts}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "conveyor-" + namePart(spec.JobID) + "-",
			Labels:       labels,
			Annotations:  map[string]string{AnnotationRun: spec.RunID, AnnotationJob: spec.JobID},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			ActiveDeadlineSeconds:         deadline,
			NodeSelector:                  s.nodeSelector,
			Tolerations:                   s.tolerations,
			ServiceAccountName:            s.serviceAccount,
			AutomountServiceAccountToken:  &automount,
			ImagePullSecrets:              pullSecrets,
			HostNetwork:                   s.hostNetwork,
			EnableServiceLinks:            new(false),
			InitContainers: []corev1.Container{{
				Name:            "install-runner",
				Image:           s.runnerImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         append([]string{"/bin/conveyor", "executor", "install", "/shared"}, mkdirs...),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "runner", MountPath: "/shared"},
					{Name: "work", MountPath: d.Work},
					{Name: "artifacts", MountPath: artifactsDir},
				},
			}},
			Containers: []corev1.Container{{
				Name:       jobContainer,
				Image:      image,
				Command:    []string{BinDir + "/conveyor", "executor", "wait"},
				WorkingDir: d.Sources,
				Resources:  s.resources,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "runner", MountPath: BinDir, ReadOnly: true},
					{Name: "work", MountPath: d.Work},
					{Name: "artifacts", MountPath: artifactsDir},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "runner", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "artifacts", VolumeSource: artifacts},
			},
		},
	}
}

var notLabelChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// labelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with a letter or digit.
func labelValue(s string) string {
	v := notLabelChars.ReplaceAllString(s, "_")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.TrimFunc(v, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
}

var notNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// namePart makes s a short piece of a pod name: lower case letters, digits
// and dashes, at most 40 characters.
func namePart(s string) string {
	v := notNameChars.ReplaceAllString(strings.ToLower(s), "-")
	if len(v) > 40 {
		v = v[:40]
	}
	v = strings.Trim(v, "-")
	if v == "" {
		return "job"
	}
	return v
}

// safePath makes s one path element.
func safePath(s string) string {
	v := strings.NewReplacer("/", "_", "\x00", "_").Replace(s)
	if v == "" || v == "." || v == ".." {
		return "_"
	}
	return v
}

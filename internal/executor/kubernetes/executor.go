package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// Executor runs each job in a pod of its own in one namespace. Safe for
// concurrent use. The identity of its config needs pods create, get, list
// and delete and pods/exec create in the namespace.
type Executor struct {
	config    *rest.Config
	client    kubernetes.Interface
	namespace string
	pod       podSettings
	start     time.Duration
	stop      time.Duration
}

// Option configures an Executor.
type Option func(*Executor) error

// WithDefaultImage sets the image of jobs without a container: (default:
// the runner image, which has busybox and bash).
func WithDefaultImage(ref string) Option {
	return func(e *Executor) error { e.pod.defaultImage = ref; return nil }
}

// WithResources sets the job container's resource requests and limits.
func WithResources(r corev1.ResourceRequirements) Option {
	return func(e *Executor) error { e.pod.resources = r; return nil }
}

// WithNodeSelector places job pods on nodes with these labels.
func WithNodeSelector(sel map[string]string) Option {
	return func(e *Executor) error { e.pod.nodeSelector = sel; return nil }
}

// WithTolerations lets job pods run on nodes with these taints.
func WithTolerations(t []corev1.Toleration) Option {
	return func(e *Executor) error { e.pod.tolerations = t; return nil }
}

// WithServiceAccount runs job pods as this service account, its token
// mounted (without one no token is mounted).
func WithServiceAccount(name string) Option {
	return func(e *Executor) error { e.pod.serviceAccount = name; return nil }
}

// WithImagePullSecrets names secrets of the namespace used to pull the
// runner and job images.
func WithImagePullSecrets(names ...string) Option {
	return func(e *Executor) error { e.pod.pullSecrets = append(e.pod.pullSecrets, names...); return nil }
}

// WithHostNetwork runs job pods on their node's network, so steps reach
// services on the node's loopback (a development cluster on this machine).
func WithHostNetwork(on bool) Option {
	return func(e *Executor) error { e.pod.hostNetwork = on; return nil }
}

// WithArtifactsVolume keeps pipeline artifacts (Dirs.Artifacts) on this
// volume, one folder per run, so later jobs of the run and the host see
// them. Default: an emptyDir, gone with the job's pod.
func WithArtifactsVolume(v corev1.VolumeSource) Option {
	return func(e *Executor) error { e.pod.artifacts = &v; return nil }
}

// WithAgent labels every job pod with the name of the agent that runs it
// (LabelAgent), so that Sweep can find the pods a previous process of the
// agent left behind.
func WithAgent(name string) Option {
	return func(e *Executor) error { e.pod.agent = name; return nil }
}

// WithMaxJobDuration has the cluster stop a job pod that runs longer than
// d (activeDeadlineSeconds): a safety net for pods whose agent died and
// never came back. Default: none; the engine's job timeouts apply anyway.
func WithMaxJobDuration(d time.Duration) Option {
	return func(e *Executor) error {
		if d < time.Second {
			return fmt.Errorf("kubernetes executor: max job duration %v: must be at least a second", d)
		}
		e.pod.deadline = int64(d / time.Second)
		return nil
	}
}

// WithLabels adds labels to every job pod.
func WithLabels(l map[string]string) Option {
	return func(e *Executor) error { e.pod.labels = l; return nil }
}

// WithStartTimeout bounds how long StartJob waits for the pod to run
// (default 5 minutes): scheduling, pulling the images, installing the
// runner.
func WithStartTimeout(d time.Duration) Option {
	return func(e *Executor) error {
		if d <= 0 {
			return fmt.Errorf("kubernetes executor: start timeout %v: must be positive", d)
		}
		e.start = d
		return nil
	}
}

// New returns an executor that runs jobs as pods in namespace, reached with
// config, installing the step runner from runnerImage (see RunnerImage).
func New(config *rest.Config, namespace, runnerImage string, opts ...Option) (*Executor, error) {
	if config == nil {
		return nil, errors.New("kubernetes executor: no cluster config")
	}
	if namespace == "" {
		return nil, errors.New("kubernetes executor: no namespace")
	}
	if runnerImage == "" {
		return nil, errors.New("kubernetes executor: no runner image: build one with `conveyor executor runner-image REF` and pass its reference")
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	e := &Executor{config: config, client: client, namespace: namespace,
		pod:   podSettings{runnerImage: runnerImage, gracePeriod: 5},
		start: 5 * time.Minute, stop: 2 * time.Minute}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Sweep deletes the job pods of this executor's agent (WithAgent) and
// returns how many there were. An agent runs one job at a time and calls
// Sweep before its first: pods with its name are then orphans of a previous
// process that died before it closed them. Without WithAgent it does
// nothing.
func (e *Executor) Sweep(ctx context.Context) (int, error) {
	if e.pod.agent == "" {
		return 0, nil
	}
	sel := LabelAgent + "=" + labelValue(e.pod.agent) + "," + LabelManagedBy + "=conveyor"
	pods := e.client.CoreV1().Pods(e.namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, fmt.Errorf("kubernetes executor: list the pods of agent %s in %s: %w", e.pod.agent, e.namespace, err)
	}
	n := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return n, fmt.Errorf("kubernetes executor: delete orphaned pod %s/%s: %w", e.namespace, p.Name, err)
		}
		n++
	}
	return n, nil
}

// Job is one job's pod.
type Job struct {
	e    *Executor
	spec executor.JobSpec
	name string
	dirs task.Dirs
}

var (
	_ executor.Job          = (*Job)(nil)
	_ executor.ContainerJob = (*Job)(nil)
)

// StartJob creates the job's pod and waits until its job container runs.
// A pod that cannot be scheduled, pulled or started in the start timeout is
// deleted and reported as an *executor.InfraError saying what to check.
func (e *Executor) StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error) {
	pods := e.client.CoreV1().Pods(e.namespace)
	pod, err := pods.Create(ctx, podFor(spec, e.pod), metav1.CreateOptions{})
	if err != nil {
		return nil, &executor.InfraError{Job: spec.JobID, Msg: fmt.Sprintf("create its pod in namespace %s (the agent needs pods create, get, delete and pods/exec create there)", e.namespace), Err: err}
	}
	j := &Job{e: e, spec: spec, name: pod.Name, dirs: podDirs(spec.RunID)}
	if err := j.waitRunning(ctx); err != nil {
		_ = j.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return j, nil
}

// waitRunning polls the pod until its job container runs, failing early on
// what will not get better by waiting.
func (j *Job) waitRunning(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, j.e.start)
	defer cancel()
	pods := j.e.client.CoreV1().Pods(j.e.namespace)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var last *corev1.Pod
	for {
		p, err := pods.Get(ctx, j.name, metav1.GetOptions{})
		switch {
		case err == nil:
			last = p
			running, ferr := podStarted(p)
			if ferr != "" {
				return &executor.InfraError{Job: j.spec.JobID, Msg: "pod " + j.e.namespace + "/" + j.name + ": " + ferr}
			}
			if running {
				return nil
			}
		case apierrors.IsNotFound(err):
			return &executor.InfraError{Job: j.spec.JobID, Msg: "pod " + j.e.namespace + "/" + j.name + " was deleted before it ran"}
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return &executor.InfraError{Job: j.spec.JobID, Msg: "read pod " + j.e.namespace + "/" + j.name + " (the agent needs pods get there)", Err: err}
		}
		// Other errors may pass (a busy API server): poll on until the
		// start timeout.
		select {
		case <-ctx.Done():
			return &executor.InfraError{Job: j.spec.JobID, Msg: "pod " + j.e.namespace + "/" + j.name + " " + notRunning(last, j.e.start), Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// podStarted reports whether p's job container runs, or why it never will.
func podStarted(p *corev1.Pod) (running bool, failure string) {
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		why := strings.TrimSpace(p.Status.Reason + " " + p.Status.Message)
		if why == "" {
			why = "its containers exited"
		}
		return false, fmt.Sprintf("ended (%s) before the job ran: run the job again; if it recurs, check the node's resources", why)
	}
	for _, c := range p.Status.InitContainerStatuses {
		if f := containerFailure(c, true); f != "" {
			return false, f
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if f := containerFailure(c, false); f != "" {
			return false, f
		}
		if c.Name == jobContainer && c.State.Running != nil {
			return true, ""
		}
	}
	return false, ""
}

// containerFailure says why container status c cannot lead to a running
// job, or "".
func containerFailure(c corev1.ContainerStatus, init bool) string {
	what := "the job image " + c.Image
	if init {
		what = "the runner image " + c.Image
	}
	if w := c.State.Waiting; w != nil {
		// A pull error is retried by the kubelet (ImagePullBackOff), but
		// one for an image that does not exist will not get better.
		notFound := w.Reason == "ErrImagePull" && strings.Contains(strings.ToLower(w.Message), "not found")
		switch {
		case notFound || w.Reason == "ImagePullBackOff" || w.Reason == "ErrImageNeverPull" || w.Reason == "InvalidImageName":
			hint := "check the image reference and that the node may pull it (image pull secrets)"
			if init {
				hint = "check --runner-image and that the node may pull it (image pull secrets)"
			}
			return fmt.Sprintf("cannot pull %s: %s: %s", what, strings.TrimSpace(w.Reason+" "+w.Message), hint)
		case w.Reason == "CreateContainerConfigError" || w.Reason == "CreateContainerError" || w.Reason == "RunContainerError" || w.Reason == "CrashLoopBackOff":
			return fmt.Sprintf("cannot start container %s (%s): %s", c.Name, what, strings.TrimSpace(w.Reason+" "+w.Message))
		}
	}
	if t := c.State.Terminated; t != nil {
		if init && t.ExitCode == 0 {
			return ""
		}
		msg := strings.TrimSpace(t.Message)
		if msg == "" {
			msg = t.Reason
		}
		if init {
			return fmt.Sprintf("installing the step runner from %s failed (exit code %d: %s): check that --runner-image is an image made by `conveyor executor runner-image` for the node's platform", what, t.ExitCode, msg)
		}
		return fmt.Sprintf("the job container exited (exit code %d: %s): the job image must run Linux programs of the node's platform", t.ExitCode, msg)
	}
	return ""
}

// notRunning says why p did not run in d.
func notRunning(p *corev1.Pod, d time.Duration) string {
	if p == nil {
		return fmt.Sprintf("was not readable in %v: check the cluster connection", d)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			return fmt.Sprintf("was not scheduled in %v (%s): check the node selector, the resource requests and the cluster's free capacity", d, strings.TrimSpace(c.Reason+": "+c.Message))
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("did not start in %v: container %s is waiting (%s): check that the node can pull %s", d, cs.Name, strings.TrimSpace(w.Reason+" "+w.Message), cs.Image)
		}
	}
	return fmt.Sprintf("did not start in %v (phase %s)", d, p.Status.Phase)
}

// Dirs returns the job's workspace as its steps see it in the pod.
func (j *Job) Dirs() task.Dirs { return j.dirs }

// RunsInContainer reports whether the job runs in its container: image.
func (j *Job) RunsInContainer() bool { return j.spec.Container != "" }

// Pod returns the name of the job's pod.
func (j *Job) Pod() string { return j.name }

// Close deletes the job's pod and waits until it is gone, so that nothing
// a step left running outlives the job (at most two minutes; past that it
// returns an error and the pod is left to the cluster to remove).
func (j *Job) Close(ctx context.Context) error {
	pods := j.e.client.CoreV1().Pods(j.e.namespace)
	err := pods.Delete(ctx, j.name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("job %s: delete pod %s/%s: %w", j.spec.JobID, j.e.namespace, j.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, j.e.stop)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		_, err := pods.Get(ctx, j.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job %s: pod %s/%s not gone after %v: %w", j.spec.JobID, j.e.namespace, j.name, j.e.stop, ctx.Err())
		case <-t.C:
		}
	}
}

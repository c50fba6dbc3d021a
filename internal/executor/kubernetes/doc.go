// Package kubernetes is the executor backend that runs each job in a pod of
// its own: the job's container: image (or a default image) with an emptyDir
// workspace at the paths the steps see (Dirs), and each step exec'd into
// the pod.
//
// The pod carries its own step runner, as Tekton's entrypoint does: an init
// container from the runner image (the conveyor binary with a static
// busybox and bash; see RunnerImage) copies them into a shared emptyDir
// mounted at /conveyor/bin, so script steps run in any image, with or
// without a shell. The job container's command is `conveyor executor wait`
// (PID 1: it reaps orphans and keeps the pod up); RunStep execs
// `conveyor executor step` in it, sends the step as JSON on stdin and reads
// a stream of JSON events back (output lines, variables, summaries, the
// result), so tasks run in the pod with the local backend's code. Closing
// stdin cancels the step: SIGTERM, then SIGKILL after its KillGrace.
//
// What to know:
//   - Every job gets a fresh workspace (/__w/1/s, …): workspace.clean has
//     nothing to clean. Pipeline artifacts go to an emptyDir unless
//     WithArtifactsVolume names a shared volume.
//   - Only tasks that need nothing but the workspace run in a pod (script,
//     checkout, artifacts, files, test results); the others need the
//     services of conveyor.yaml and are refused with an error saying so.
//   - Close deletes the pod and waits until it is gone, so nothing a step
//     left running outlives the job.
//   - The agent's identity needs pods create, get, list and delete and
//     pods/exec create in the namespace. Steps' variables (secrets too)
//     travel on the exec's stdin, never in the pod spec.
//   - A pod whose agent died stays until Sweep, which a new process of
//     the agent (WithAgent, the same name) calls before its first job.
//
// The pod half lives here too (ServeStep, Install, Wait); cmd/conveyor
// wires it to the hidden `conveyor executor` commands.
//
// It must not import the engine, the store or the server.
package kubernetes

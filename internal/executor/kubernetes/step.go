package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// podTasks are the tasks a job pod can run: those that need nothing but
// the workspace and programs of the image. The others need the services
// of conveyor.yaml (registries, clusters, vaults), which the pod has not.
var podTasks = map[string]bool{
	"cmdline@2": true, "bash@3": true, strings.ToLower(task.CheckoutTask): true,
	"publishpipelineartifact@1": true, "downloadpipelineartifact@2": true,
	"copyfiles@2": true, "archivefiles@2": true, "publishtestresults@2": true,
}

// cancelLinger is how long RunStep waits past a canceled step's KillGrace
// for the runner's result before it gives up on the pod.
const cancelLinger = 30 * time.Second

// RunStep execs the step runner in the job's pod and passes the step's
// events on. When ctx ends the runner's stdin is closed: it sends the
// step's processes SIGTERM, then SIGKILL after s.KillGrace, and reports
// the result. A lost connection to the pod is an *executor.InfraError.
func (j *Job) RunStep(ctx context.Context, s executor.Step) (task.Result, error) {
	if _, ok := task.Lookup(s.Task); !ok {
		return task.Result{}, fmt.Errorf("step %s: %w %s", s.ID, executor.ErrUnknownTask, s.Task)
	}
	if !podTasks[strings.ToLower(strings.TrimSpace(s.Task))] {
		return task.Result{}, fmt.Errorf("step %s: task %s is not available on the kubernetes backend yet: run this job on an agent with the local backend (pool demands)", s.ID, s.Task)
	}
	body, err := json.Marshal(stepRequest{Dirs: j.dirs, StepSpec: s.Spec()})
	if err != nil {
		return task.Result{}, fmt.Errorf("step %s: %w", s.ID, err)
	}
	exe, err := j.stepExecutor()
	if err != nil {
		return task.Result{}, &executor.InfraError{Job: j.spec.JobID, Msg: "exec into pod " + j.e.namespace + "/" + j.name, Err: err}
	}

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	stderr := &tailBuffer{max: 4 << 10}
	// The stream outlives ctx: a canceled step still reports its result.
	sctx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	streamErr := make(chan error, 1)
	go func() {
		err := exe.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Stderr: stderr})
		outW.CloseWithError(io.EOF)
		inW.CloseWithError(io.ErrClosedPipe)
		streamErr <- err
	}()
	stepDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = inW.Write(append(body, '\n'))
		select {
		case <-stepDone:
			return
		case <-ctx.Done():
		}
		_ = inW.Close() // the runner cancels the step
		t := time.NewTimer(s.KillGrace + cancelLinger)
		defer t.Stop()
		select {
		case <-stepDone:
		case <-t.C:
			stopStream()
		}
	}()

	var final *event
	dec := json.NewDecoder(outR)
	for {
		var ev event
		if err := dec.Decode(&ev); err != nil {
			break
		}
		switch ev.Kind {
		case evLine:
			if s.Output != nil {
				s.Output(ev.Time, ev.Text)
			}
		case evVar:
			if s.SetVariable != nil {
				if err := s.SetVariable(ev.Name, ev.Value, ev.Opts); err != nil && s.Output != nil {
					s.Output(time.Now(), fmt.Sprintf("##[error]set variable %s: %v", ev.Name, err))
				}
			}
		case evSummary:
			if s.AddSummary != nil {
				s.AddSummary(ev.Text)
			}
		case evResult, evError:
			e := ev
			final = &e
		}
	}
	close(stepDone)
	_, _ = io.Copy(io.Discard, outR)
	err = <-streamErr
	wg.Wait()
	switch {
	case final != nil && final.Kind == evResult:
		return final.Result, nil
	case final != nil:
		return task.Result{}, fmt.Errorf("step %s: %s", s.ID, final.Text)
	}
	msg := "the step runner in pod " + j.e.namespace + "/" + j.name + " ended without a result"
	if tail := strings.TrimSpace(stderr.String()); tail != "" {
		msg += " (" + tail + ")"
	}
	msg += ": the pod may have been evicted or deleted; run the job again"
	if err == nil {
		err = errors.New("no result")
	}
	return task.Result{}, &executor.InfraError{Job: j.spec.JobID, Msg: msg, Err: err}
}

// stepExecutor returns an exec of `conveyor executor step` in the job
// container, over WebSocket with a fallback to SPDY (as kubectl does).
func (j *Job) stepExecutor() (remotecommand.Executor, error) {
	req := j.e.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(j.e.namespace).Name(j.name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: jobContainer,
		Command:   []string{BinDir + "/conveyor", "executor", "step"},
		Stdin:     true, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(j.e.config, "POST", req.URL())
	if err != nil {
		return nil, err
	}
	ws, err := remotecommand.NewWebSocketExecutor(j.e.config, "GET", req.URL().String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

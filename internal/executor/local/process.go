package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"conveyor.dev/conveyor/internal/task"
)

// maxLine is the longest line passed on whole; longer lines are split.
const maxLine = 1 << 20

// pipeLinger is how long output is still read after a step's process exits
// while a background process it started keeps the pipe open.
const pipeLinger = 2 * time.Second

// runProcess runs c in its own process group, passing each output line to
// emit. When ctx ends the group gets SIGTERM, then SIGKILL after grace.
// Processes the step leaves running in the background live on (a later step
// may use them); started is told each group so the job can kill what is left
// when it ends, as Azure's agent cleans up orphans at the end of a job.
func runProcess(ctx context.Context, c task.Command, grace time.Duration, emit func(time.Time, string), now func() time.Time, started func(pgid int)) (task.ExitStatus, error) {
	path, err := exec.LookPath(c.Path)
	if err != nil {
		for _, kv := range c.Env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				path, err = lookPathIn(c.Path, p)
			}
		}
		if err != nil {
			return task.ExitStatus{}, fmt.Errorf("run %s: %w", c.Path, err)
		}
	}
	cmd := &exec.Cmd{Path: path, Args: append([]string{c.Path}, c.Args...), Dir: c.Dir, Env: c.Env}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, outW, err := os.Pipe()
	if err != nil {
		return task.ExitStatus{}, fmt.Errorf("run %s: %w", c.Path, err)
	}
	cmd.Stdout, cmd.Stderr = outW, outW
	var errR, errW *os.File
	if c.SeparateStderr {
		if errR, errW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			return task.ExitStatus{}, fmt.Errorf("run %s: %w", c.Path, err)
		}
		cmd.Stderr = errW
	}
	devnull, err := os.Open(os.DevNull)
	if err == nil {
		cmd.Stdin = devnull
		defer devnull.Close()
	}
	if err := cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		if errR != nil {
			errR.Close()
			errW.Close()
		}
		return task.ExitStatus{}, fmt.Errorf("run %s: %w", c.Path, err)
	}
	outW.Close()
	var mu sync.Mutex
	locked := func(ts time.Time, line string) {
		mu.Lock()
		defer mu.Unlock()
		emit(ts, line)
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { defer readers.Done(); readLines(outR, locked, now) }()
	var sawStderr bool
	if errR != nil {
		errW.Close()
		readers.Add(1)
		go func() {
			defer readers.Done()
			readLines(errR, func(ts time.Time, line string) { sawStderr = true; locked(ts, line) }, now)
		}()
	}
	pgid := cmd.Process.Pid
	if started != nil {
		started(pgid)
	}
	done := make(chan struct{})
	var killed bool
	var killMu sync.Mutex
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		// Both may be ready (ctx ended just after the process): a step that
		// ended leaves its background processes alone.
		select {
		case <-done:
			return
		default:
		}
		killMu.Lock()
		killed = true
		killMu.Unlock()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	werr := cmd.Wait()
	close(done)
	// Background processes may hold the pipes open: read what they write
	// for a moment, then let go of the pipes.
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()
	t := time.NewTimer(pipeLinger)
	select {
	case <-readersDone:
	case <-t.C:
		outR.Close()
		if errR != nil {
			errR.Close()
		}
		<-readersDone
	}
	t.Stop()
	outR.Close()
	if errR != nil {
		errR.Close()
	}
	st := task.ExitStatus{Stderr: sawStderr}
	killMu.Lock()
	st.Signaled = killed
	killMu.Unlock()
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return st, fmt.Errorf("run %s: %w", c.Path, werr)
		}
		st.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.Signaled = true
			st.Code = 128 + int(ws.Signal())
		}
	}
	return st, nil
}

func lookPathIn(file, path string) (string, error) {
	for _, dir := range strings.Split(path, string(os.PathListSeparator)) {
		p := dir + "/" + file
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in PATH", file)
}

// readLines reads r to its end, emitting each line without its newline.
func readLines(r io.Reader, emit func(time.Time, string), now func() time.Time) {
	br := bufio.NewReaderSize(r, 64<<10)
	var partial []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if err == bufio.ErrBufferFull || (err != nil && chunk[len(chunk)-1] != '\n') {
				partial = append(partial, chunk...)
				if len(partial) >= maxLine {
					emit(now(), string(partial))
					partial = partial[:0]
				}
			} else {
				line := chunk[:len(chunk)-1]
				if len(partial) > 0 {
					line = append(partial, line...)
				}
				emit(now(), strings.TrimSuffix(string(line), "\r"))
				partial = partial[:0]
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(partial) > 0 {
				emit(now(), strings.TrimSuffix(string(partial), "\r"))
			}
			return
		}
	}
}

// lineWriter turns a task's own Write calls into lines.
type lineWriter struct {
	emit func(time.Time, string)
	now  func() time.Time
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		if w.emit != nil {
			w.emit(w.now(), strings.TrimSuffix(string(w.buf[:i]), "\r"))
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// flush emits a pending partial line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 && w.emit != nil {
		w.emit(w.now(), string(w.buf))
	}
	w.buf = w.buf[:0]
}

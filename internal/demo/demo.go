package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"conveyor.dev/conveyor/examples"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/server/client"
)

// Options configure a demo run.
type Options struct {
	// Exe is the conveyor binary the demo starts the server and the cluster
	// supervisor with.
	Exe string
	// Dir is the demo's folder (git repositories, server data); default a
	// new temporary folder.
	Dir string
	// ClusterState is the local cluster's state folder; default
	// <Dir>/cluster.
	ClusterState string
	// Yes approves the production deployment without asking.
	Yes bool
	// Keep leaves the cluster and the server running at the end.
	Keep bool
	// Out receives progress and the summary; In answers the approval prompt.
	Out io.Writer
	In  io.Reader
	// Timeout bounds each wait for a pipeline (default 10 minutes).
	Timeout time.Duration
}

// PipelineResult is one pipeline run of the demo.
type PipelineResult struct {
	Pipeline string
	RunID    string
	Result   string
	Duration time.Duration
}

// Workload is what runs in one namespace.
type Workload struct {
	Namespace string
	Name      string
	Image     string
	Available bool
	Ready     int32
}

// Summary is what the demo did.
type Summary struct {
	Pipelines []PipelineResult
	// Digest is the image digest CI built; NonprodRef and ProdRef the
	// references of that digest in each registry.
	Digest              string
	NonprodRef, ProdRef string
	ProdDigest          string
	Workloads           []Workload
	// MergeToProduction is the time from the merge's push to the
	// production deploy's end, without the human wait; ApprovalWait is the
	// human wait.
	MergeToProduction, ApprovalWait time.Duration
	// AcceptanceBeforeApproval is true when staging's acceptance tests had
	// finished before the production approval was requested.
	AcceptanceBeforeApproval bool
	// ProductionVerified is true when the acceptance tests passed against
	// production after its deploy.
	ProductionVerified bool
	// ApprovalAudited is true when the audit log holds the approval.
	ApprovalAudited    bool
	ServerURL, DataDir string
	// AdminToken is the server's admin token; it stays out of the JSON
	// summary (it is in <DataDir>/admin-token, mode 0600).
	AdminToken string `json:"-"`
	// ClusterState is the local cluster's state folder.
	ClusterState string
}

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	ownDir := o.Dir == ""
	if ownDir {
		d, err := os.MkdirTemp("", "conveyor-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		o.Dir = d
	}
	if o.ClusterState == "" {
		o.ClusterState = filepath.Join(o.Dir, "cluster")
	}
	d := &demo{o: o, say: func(format string, a ...any) { fmt.Fprintf(o.Out, "==> "+format+"\n", a...) }}
	sum, err := d.run(ctx)
	if sum != nil {
		sum.ClusterState = o.ClusterState
	}
	if !o.Keep {
		d.cleanup()
		switch {
		case err != nil:
			d.say("The demo's folder stays for a look at what failed: %s (server log %s)", o.Dir, filepath.Join(o.Dir, "server.log"))
		case ownDir:
			if rerr := os.RemoveAll(o.Dir); rerr != nil {
				d.say("Could not remove the demo's folder %s: %v", o.Dir, rerr)
			}
		}
	} else if sum != nil {
		d.say("--keep: the cluster (state %s) and the server (%s, data %s) keep running", o.ClusterState, sum.ServerURL, sum.DataDir)
	}
	return sum, err
}

type demo struct {
	o      Options
	say    func(format string, a ...any)
	server *exec.Cmd
	exited chan error // receives the server's exit, once
	sum    Summary
}

func (d *demo) cleanup() {
	if d.server != nil && d.server.Process != nil {
		_ = d.server.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			_ = d.server.Process.Kill()
			<-d.exited
		}
	}
	if _, err := kubeenv.Down(context.Background(), d.o.ClusterState); err != nil {
		fmt.Fprintf(d.o.Out, "demo: cluster down: %v\n", err)
	}
}

func (d *demo) run(ctx context.Context) (*Summary, error) {
	start := time.Now()
	d.say("Local Kubernetes control plane (built on first use; progress below)")
	up, err := kubeenv.Up(ctx, d.o.ClusterState, []string{d.o.Exe, "cluster", "serve", "--state", d.o.ClusterState}, d.o.Out)
	if err != nil {
		return nil, err
	}
	d.say("Cluster ready in %s (kubeconfig %s)", up.Elapsed.Round(time.Millisecond), up.Kubeconfig)

	r, err := newRepo(ctx, filepath.Join(d.o.Dir, "git"))
	if err != nil {
		return nil, err
	}
	d.say("Git repository %s (work tree %s)", r.bare, r.work)

	secret := randomHex(16)
	data := filepath.Join(d.o.Dir, "server")
	url, err := d.startServer(ctx, r, up.Kubeconfig, data, secret)
	if err != nil {
		return nil, err
	}
	d.sum.ServerURL, d.sum.DataDir = url, data
	admin, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		return nil, fmt.Errorf("demo: the server wrote no admin token: %w", err)
	}
	d.sum.AdminToken = strings.TrimSpace(string(admin))
	api, err := client.New(url, d.sum.AdminToken)
	if err != nil {
		return nil, err
	}
	approverToken, err := api.CreateToken(ctx, "ops-lead", "approver")
	if err != nil {
		return nil, err
	}
	devToken, err := api.CreateToken(ctx, "dev", "approver")
	if err != nil {
		return nil, err
	}
	hook := &forge{url: url + "/webhooks/gitea", secret: secret, cloneURL: r.bare, client: &http.Client{Timeout: 30 * time.Second}}
	d.say("Server %s up in %s", url, time.Since(start).Round(time.Millisecond))

	// The pull request.
	base, err := r.head(ctx, "main")
	if err != nil {
		return nil, err
	}
	head, err := r.openBranch(ctx, "feature/greeting", "greeting.txt", "hello from the demo\n", "webapp: say hello")
	if err != nil {
		return nil, err
	}
	since := time.Now()
	if err := hook.pullRequest(ctx, "opened", 1, "Say hello", "feature/greeting", head, base); err != nil {
		return nil, err
	}
	d.say("Pull request #1 opened (feature/greeting → main): the PR pipeline runs")
	pr, err := d.waitRun(ctx, api, "pr", since, func(r client.Run) bool { return r.State == "completed" })
	if err != nil {
		return nil, err
	}
	d.record(pr)
	if pr.Result != "succeeded" {
		return &d.sum, fmt.Errorf("demo: the PR pipeline %s: %s", pr.ID, pr.Result)
	}

	// The merge.
	before, after, err := r.merge(ctx, "feature/greeting", "Merge pull request #1 from feature/greeting")
	if err != nil {
		return nil, err
	}
	files, err := r.changedFiles(ctx, before, after)
	if err != nil {
		return nil, err
	}
	merged := time.Now()
	if err := hook.push(ctx, "refs/heads/main", before, after, "Merge pull request #1 from feature/greeting", files); err != nil {
		return nil, err
	}
	d.say("Merged to main (%.12s): CI runs, then CD", after)
	ci, err := d.waitRun(ctx, api, "ci", merged, func(r client.Run) bool { return r.State == "completed" })
	if err != nil {
		return nil, err
	}
	d.record(ci)
	if ci.Result != "succeeded" {
		return &d.sum, fmt.Errorf("demo: the CI pipeline %s: %s", ci.ID, ci.Result)
	}
	cd, err := d.waitRun(ctx, api, "cd", merged, func(r client.Run) bool { return r.State == "waiting" || r.State == "completed" })
	if err != nil {
		return nil, err
	}
	if cd.State == "completed" {
		d.record(cd)
		return &d.sum, fmt.Errorf("demo: the CD pipeline %s ended (%s) before the production approval", cd.ID, cd.Result)
	}
	pending, err := d.pendingApproval(ctx, api, cd.ID)
	if err != nil {
		return nil, err
	}
	d.sum.AcceptanceBeforeApproval = d.acceptanceDone(ctx, api, cd.ID, "Acceptance", pending.CreatedAt)
	waitStart := time.Now()
	var digests []string
	for _, v := range pending.Release.Digests {
		if !slices.Contains(digests, v) {
			digests = append(digests, v)
		}
	}
	slices.Sort(digests)
	d.say("CD run %d waits for the production approval of %s (releases %s)", cd.Number, pending.Environment, strings.Join(digests, ", "))
	if _, err := api.As(devToken).Decide(ctx, pending.ID, "approve", "I wrote it, ship it"); err == nil {
		return &d.sum, errors.New("demo: the requester's own approval was accepted although production has requesterCannotApprove")
	} else {
		d.say("The requester (dev) may not approve: %v", shortErr(err))
	}
	if !d.o.Yes && !d.confirm("Approve the production deployment as ops-lead? [y/N] ") {
		if _, err := api.As(approverToken).Decide(ctx, pending.ID, "reject", "rejected at the demo prompt"); err != nil {
			return nil, err
		}
		return &d.sum, errors.New("demo: production deployment rejected")
	}
	if _, err := api.As(approverToken).Decide(ctx, pending.ID, "approve", "acceptance tests passed on staging"); err != nil {
		return nil, err
	}
	d.sum.ApprovalWait = time.Since(waitStart)
	d.say("Approved by ops-lead: promoting to prod and deploying to production")
	cd, err = d.waitRun(ctx, api, "cd", merged, func(r client.Run) bool { return r.State == "completed" })
	if err != nil {
		return nil, err
	}
	d.record(cd)
	d.sum.MergeToProduction = cd.FinishedAt.Sub(merged) - d.sum.ApprovalWait
	if cd.Result != "succeeded" {
		return &d.sum, fmt.Errorf("demo: the CD pipeline %s: %s", cd.ID, cd.Result)
	}
	d.sum.ProductionVerified = d.acceptanceDone(ctx, api, cd.ID, "VerifyProduction", time.Time{})
	if err := d.inspect(ctx, api, ci, cd, up.Kubeconfig); err != nil {
		return &d.sum, err
	}
	if entries, err := api.Audit(ctx, 0); err == nil {
		for _, e := range entries {
			if e.Actor == "ops-lead" && e.RunID == cd.ID && strings.Contains(strings.ToLower(e.Action), "approve") {
				d.sum.ApprovalAudited = true
			}
		}
	}
	return &d.sum, nil
}

// record adds a finished run to the summary.
func (d *demo) record(r client.Run) {
	d.sum.Pipelines = append(d.sum.Pipelines, PipelineResult{Pipeline: r.Pipeline, RunID: r.ID, Result: r.Result, Duration: r.FinishedAt.Sub(r.CreatedAt)})
	d.say("%s run %d: %s in %s", r.Pipeline, r.Number, r.Result, r.FinishedAt.Sub(r.CreatedAt).Round(time.Millisecond))
}

// waitRun waits for the newest run of pipeline created after since to
// satisfy done, polling the API.
func (d *demo) waitRun(ctx context.Context, api *client.Client, pipeline string, since time.Time, done func(client.Run) bool) (client.Run, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		runs, err := api.ListRuns(ctx, client.RunFilter{})
		if err != nil && ctx.Err() == nil {
			return client.Run{}, err
		}
		var newest *client.Run
		for i := range runs {
			r := &runs[i]
			if r.Pipeline == pipeline && !r.CreatedAt.Before(since.Add(-time.Second)) && (newest == nil || r.CreatedAt.After(newest.CreatedAt)) {
				newest = r
			}
		}
		if newest != nil && done(*newest) {
			return *newest, nil
		}
		select {
		case <-ctx.Done():
			state := "no run yet"
			if newest != nil {
				state = fmt.Sprintf("run %s is %s", newest.ID, newest.State)
			}
			return client.Run{}, fmt.Errorf("demo: waiting for pipeline %s: %s after %s", pipeline, state, d.o.Timeout)
		case <-tick.C:
		}
	}
}

func (d *demo) pendingApproval(ctx context.Context, api *client.Client, runID string) (client.Approval, error) {
	as, err := api.ListApprovals(ctx, runID, "pending")
	if err != nil {
		return client.Approval{}, err
	}
	for _, a := range as {
		if a.RunID == runID && a.State == "pending" {
			return a, nil
		}
	}
	return client.Approval{}, fmt.Errorf("demo: run %s waits but has no pending approval", runID)
}

// acceptanceDone reports whether the CD run's job succeeded before t
// (any time when t is zero).
func (d *demo) acceptanceDone(ctx context.Context, api *client.Client, runID, job string, t time.Time) bool {
	recs, err := api.Records(ctx, runID)
	if err != nil {
		return false
	}
	for _, r := range recs {
		if r.Type == "job" && r.Name == job {
			return r.Result == "succeeded" && !r.FinishedAt.IsZero() && (t.IsZero() || !r.FinishedAt.After(t))
		}
	}
	return false
}

func (d *demo) confirm(prompt string) bool {
	fmt.Fprint(d.o.Out, prompt)
	if d.o.In == nil {
		return false
	}
	line, _ := bufio.NewReader(d.o.In).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}

// startServer writes the server's conveyor.yaml and starts `conveyor
// server` on a free loopback port; it returns the server's URL once
// /healthz answers.
func (d *demo) startServer(ctx context.Context, r *repo, kubeconfig, data, secret string) (string, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", err
	}
	cfg, err := os.ReadFile(filepath.Join(r.work, "conveyor.yaml"))
	if err != nil {
		return "", err
	}
	text := strings.Replace(string(cfg), "  local: {}                       # the cluster of `conveyor cluster up`",
		"  local: {kubeconfig: "+kubeconfig+"}", 1)
	cfgPath := filepath.Join(d.o.Dir, "conveyor.yaml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		return "", err
	}
	// The integration tests' secret, in the server's embedded vault (the
	// variable group webapp-integration links it).
	set := exec.CommandContext(ctx, d.o.Exe, "secret", "set", "admin-token", "--data", data)
	set.Stdin = strings.NewReader(randomHex(16) + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		return "", fmt.Errorf("demo: store the integration tests' secret in the vault: %w: %s", err, out)
	}
	// The signing key CI signs with and CD verifies with, made the way a
	// user would, into the same vault.
	keygen := exec.CommandContext(ctx, d.o.Exe, "sign", "generate-key-pair", "--key", "vault://default/cosign-key", "--data", data, "--pub", filepath.Join(d.o.Dir, "cosign.pub"))
	if out, err := keygen.CombinedOutput(); err != nil {
		return "", fmt.Errorf("demo: make the signing key: %w: %s", err, out)
	}
	// The image scan's database: osv.dev is not fetched (the demo must run
	// offline and give the same result each time); a few real advisories
	// stand in for it.
	n, err := examples.SampleVulnDB(filepath.Join(data, "vulndb"))
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	d.say("Vault: integration secret and signing key stored; vulnerability database: %d sample advisories (conveyor vulndb update fetches osv.dev's)", n)
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(d.o.Dir, "server.log"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command(d.o.Exe, "server", "--config", cfgPath, "--data", data, "--listen", addr)
	cmd.Env = append(os.Environ(), "WEBAPP_REPO="+r.bare, "WEBHOOK_SECRET="+secret)
	if bin, err := kubeenv.BinDir(); err == nil {
		cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", fmt.Errorf("demo: start the server: %w", err)
	}
	logf.Close()
	d.server = cmd
	url := "http://" + addr
	exited := make(chan error, 1)
	d.exited = exited
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, nil
			}
		}
		select {
		case err := <-exited:
			d.server = nil
			log, _ := os.ReadFile(filepath.Join(d.o.Dir, "server.log"))
			return "", fmt.Errorf("demo: the server exited (%v):\n%s", err, tail(string(log), 30))
		case <-deadline:
			return "", fmt.Errorf("demo: the server did not answer /healthz within a minute; see %s", filepath.Join(d.o.Dir, "server.log"))
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func shortErr(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		return fmt.Sprintf("%d %s", ae.Status, ae.Message)
	}
	return err.Error()
}

package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/config"
)

// Run is a run whose state changed, as the reporter needs it.
type Run struct {
	Repository string // the repository's name in conveyor.yaml
	Pipeline   string
	RunID      string
	Commit     string
	State      string // queued, running, waiting or completed
	Result     string // when completed: succeeded, succeededWithIssues, failed, canceled, …
}

// StatusOf maps a run's state and result to a commit status state:
// queued, running and waiting are pending; succeeded (with or without
// issues) is success; failed is failure; anything else that completed
// (canceled, interrupted, skipped) is error.
func StatusOf(state, result string) State {
	if state != "completed" {
		return StatePending
	}
	switch result {
	case "succeeded", "succeededWithIssues":
		return StateSuccess
	case "failed":
		return StateFailure
	}
	return StateError
}

// Reporter sets commit statuses for runs of the repositories of
// conveyor.yaml that have forge settings. Safe for concurrent use.
type Reporter struct {
	repos     []config.Repository
	targetURL func(runID string) string
	hc        *http.Client

	mu      sync.Mutex
	clients map[string]Client
}

// NewReporter reports for the repositories of cfg; targetURL gives the
// link to a run (the server's run page). hc may be nil.
func NewReporter(cfg *config.Config, targetURL func(runID string) string, hc *http.Client) *Reporter {
	return &Reporter{repos: cfg.Repositories, targetURL: targetURL, hc: hc, clients: map[string]Client{}}
}

// RunChanged sets the commit status of the run's commit. It does nothing
// (and returns nil) for a repository without forge settings or a run
// without a commit.
func (r *Reporter) RunChanged(ctx context.Context, run Run) error {
	var repo *config.Repository
	for i := range r.repos {
		if r.repos[i].Name == run.Repository {
			repo = &r.repos[i]
			break
		}
	}
	if repo == nil || repo.Forge.Type == "" || run.Commit == "" {
		return nil
	}
	c, err := r.client(*repo)
	if err != nil {
		return err
	}
	full := repo.Forge.FullName
	if full == "" {
		if full, err = OwnerRepo(repo.URL); err != nil {
			return fmt.Errorf("repository %s: %w: set forge.fullName in conveyor.yaml", repo.Name, err)
		}
	}
	st := StatusOf(run.State, run.Result)
	desc := fmt.Sprintf("%s: %s", run.Pipeline, run.State)
	if run.State == "completed" {
		desc = fmt.Sprintf("%s: %s", run.Pipeline, run.Result)
	}
	s := Status{Commit: run.Commit, State: st, Context: "conveyor/" + run.Pipeline, Description: desc}
	if r.targetURL != nil && run.RunID != "" {
		s.TargetURL = r.targetURL(run.RunID)
	}
	if err := c.SetStatus(ctx, full, s); err != nil {
		return fmt.Errorf("report run %s of %s: %w", run.RunID, run.Pipeline, err)
	}
	return nil
}

func (r *Reporter) client(repo config.Repository) (Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[repo.Name]; ok {
		return c, nil
	}
	c, err := NewClient(repo.Forge.Type, repo.Forge.API, repo.Forge.Token, r.hc)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", repo.Name, err)
	}
	r.clients[repo.Name] = c
	return c, nil
}

// OwnerRepo returns "owner/name" from a repository's clone URL
// (https://host/owner/name.git or git@host:owner/name.git).
func OwnerRepo(cloneURL string) (string, error) {
	p := cloneURL
	if u, err := url.Parse(cloneURL); err == nil && u.Host != "" {
		p = u.Path
	} else if _, rest, ok := strings.Cut(cloneURL, ":"); ok && strings.Contains(cloneURL, "@") {
		p = rest
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	name := path.Base(p)
	owner := path.Base(path.Dir(p))
	if owner == "." || owner == "/" || owner == "" || name == "" || name == "." {
		return "", fmt.Errorf("cannot tell owner/name from URL %q", cloneURL)
	}
	return owner + "/" + name, nil
}

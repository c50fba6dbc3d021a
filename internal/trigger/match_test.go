package trigger

import (
	"testing"

	"conveyor.dev/conveyor/internal/config"
)

func TestMatchRepository(t *testing.T) {
	repos := []config.Repository{
		{Name: "webapp", URL: "https://github.com/Ann/WebApp.git"},
		{Name: "ann/tools", URL: "http://127.0.0.1:3000/ann/tools.git"},
		{Name: "local", URL: "/srv/git/local.git/"},
		{Name: "ssh", URL: "git@gitea.example:team/ssh-repo.git"},
	}
	tests := []struct {
		name string
		ref  RepoRef
		want string
	}{
		{"clone URL, case and .git", RepoRef{URLs: []string{"https://github.com/ann/webapp"}}, "webapp"},
		{"ssh URL of an https repository", RepoRef{URLs: []string{"git@github.com:ann/webapp.git"}}, "webapp"},
		{"https with default port", RepoRef{URLs: []string{"https://github.com:443/ann/webapp.git"}}, "webapp"},
		{"credentials in URL", RepoRef{URLs: []string{"https://x:y@github.com/ann/webapp.git"}}, "webapp"},
		{"full name equals the name", RepoRef{FullName: "ann/tools"}, "ann/tools"},
		{"full name ends the URL path", RepoRef{FullName: "team/ssh-repo"}, "ssh"},
		{"local path", RepoRef{URLs: []string{"/srv/git/local.git"}}, "local"},
		{"other port is another server", RepoRef{URLs: []string{"http://127.0.0.1:3001/ann/tools2.git"}}, ""},
		{"unknown", RepoRef{FullName: "bob/other", URLs: []string{"https://github.com/bob/other.git"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MatchRepository(repos, tt.ref)
			if tt.want == "" {
				if ok {
					t.Errorf("matched %s, want none", got.Name)
				}
				return
			}
			if !ok || got.Name != tt.want {
				t.Errorf("matched %q (%v), want %q", got.Name, ok, tt.want)
			}
		})
	}
}

package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseGitOps(t *testing.T) {
	text := `
environments:
  staging: {cluster: local, namespace: stage}
gitops:
- name: webapp
  source:
    git: {url: /srv/git/deploy.git, path: apps/webapp}
  environment: staging
  prune: true
  images: [127.0.0.1:5001/webapp:1.2]
  pinDigests: true
- name: from-oci
  source:
    oci:
      url: oci://127.0.0.1:5001/manifests/webapp
      ref: sha256:` + strings.Repeat("ab", 32) + `
      verify: {key: cosign.pub}
  namespace: web
  interval: 30s
  wait: false
  render: {type: kustomize}
`
	c, err := Parse("conveyor.yaml", []byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := []GitOps{
		{Name: "webapp", Source: GitOpsSource{Git: &GitOpsGit{URL: "/srv/git/deploy.git", Ref: "main", Path: "apps/webapp"}},
			Environment: "staging", Cluster: "local", Namespace: "stage", Interval: DefaultGitOpsInterval, Timeout: DefaultGitOpsTimeout,
			Prune: true, Render: GitOpsRender{Type: RenderAuto}, Images: []string{"127.0.0.1:5001/webapp:1.2"}, PinDigests: true},
		{Name: "from-oci", Source: GitOpsSource{OCI: &GitOpsOCI{URL: "oci://127.0.0.1:5001/manifests/webapp", Ref: "sha256:" + strings.Repeat("ab", 32), Verify: &GitOpsVerify{Key: "cosign.pub"}}},
			Cluster: "local", Namespace: "web", Interval: 30 * time.Second, Timeout: DefaultGitOpsTimeout, Wait: &no,
			Render: GitOpsRender{Type: RenderKustomize}},
	}
	if diff := cmp.Diff(want, c.GitOps); diff != "" {
		t.Errorf("gitops (-want +got):\n%s", diff)
	}
	if c.GitOps[0].WaitOrDefault() != true || c.GitOps[1].WaitOrDefault() != false {
		t.Errorf("WaitOrDefault = %v, %v; want true (unset), false", c.GitOps[0].WaitOrDefault(), c.GitOps[1].WaitOrDefault())
	}
}

func TestParseGitOpsErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"no source", "gitops:\n- name: a\n  source: {}\n", []string{"conveyor.yaml:3:11: gitops[0].source: give git"}},
		{"both sources", "gitops:\n- name: a\n  source:\n    git: {url: /x}\n    oci: {url: oci://h/r}\n", []string{"conveyor.yaml:4:5: gitops[0].source: give git or oci, not both"}},
		{"no name", "gitops:\n- source: {git: {url: /x}}\n", []string{"conveyor.yaml:2:3: gitops[0]: name is required"}},
		{"bad name", "gitops:\n- name: Web_App\n  source: {git: {url: /x}}\n", []string{`conveyor.yaml:2:9: gitops[0].name: "Web_App"`}},
		{"name twice", "gitops:\n- name: a\n  source: {git: {url: /x}}\n- name: a\n  source: {git: {url: /y}}\n", []string{`conveyor.yaml:4:9: gitops[1].name: "a" is used twice`}},
		{"git without url", "gitops:\n- name: a\n  source: {git: {ref: main}}\n", []string{"conveyor.yaml:3:17: gitops[0].source.git.url is required"}},
		{"bad ref", "gitops:\n- name: a\n  source: {git: {url: /x, ref: 'a..b'}}\n", []string{`conveyor.yaml:3:32: gitops[0].source.git.ref: "a..b"`}},
		{"path escapes", "gitops:\n- name: a\n  source: {git: {url: /x, path: ../etc}}\n", []string{`conveyor.yaml:3:33: gitops[0].source.git.path: "../etc" must be a relative path`}},
		{"oci url without scheme", "gitops:\n- name: a\n  source:\n    oci: {url: 'h:5000/r:v1'}\n", []string{`conveyor.yaml:4:16: gitops[0].source.oci.url: "h:5000/r:v1": use oci://`}},
		{"oci bad digest", "gitops:\n- name: a\n  source:\n    oci: {url: oci://h/r, ref: 'sha256:zz'}\n", []string{`conveyor.yaml:4:32: gitops[0].source.oci.ref: "sha256:zz" is neither a tag nor a digest`}},
		{"verify without key", "gitops:\n- name: a\n  source:\n    oci: {url: oci://h/r, verify: {}}\n", []string{"conveyor.yaml:4:35: gitops[0].source.oci.verify.key is required"}},
		{"unknown environment", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  environment: qa\n", []string{`conveyor.yaml:4:16: gitops[0].environment: environment "qa" is not defined`}},
		{"unknown cluster", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  cluster: aks\n", []string{`conveyor.yaml:4:12: gitops[0].cluster: cluster "aks" is not defined`}},
		{"bad render", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  render: {type: jsonnet}\n", []string{`conveyor.yaml:4:18: gitops[0].render.type: "jsonnet"`}},
		{"helm options on plain", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  render: {type: plain, releaseName: r}\n", []string{"conveyor.yaml:4:11: gitops[0].render: releaseName, values and set are for type helm"}},
		{"short interval", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  interval: 10ms\n", []string{"conveyor.yaml:4:13: gitops[0].interval: 10ms is too short"}},
		{"bad interval", "gitops:\n- name: a\n  source: {git: {url: /x}}\n  interval: often\n", []string{"conveyor.yaml:4:", "often"}},
		{"unknown field", "gitops:\n- name: a\n  source: {git: {url: /x, branch: main}}\n", []string{"conveyor.yaml:3:", "branch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("conveyor.yaml", []byte(tt.text), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

package task

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for f, body := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPublishPipelineArtifactInputs follows PublishPipelineArtifact@1's
// reference: targetPath defaults to $(Pipeline.Workspace), publishLocation
// (alias artifactType) filepath copies to fileSharePath/<artifact>, and
// .artifactignore leaves files out.
func TestPublishPipelineArtifactInputs(t *testing.T) {
	env, _ := testEnv(t, map[string]string{"artifact": "ws"})
	writeFiles(t, env.Dirs.Pipeline, map[string]string{"out/app.bin": "bin", "out/.gitignore": "*.tmp"})
	if res, err := runPublishPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("publish with default targetPath: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(env.Dirs.Artifacts, "ws", "out", "app.bin")); err != nil {
		t.Errorf("the default targetPath is not $(Pipeline.Workspace): %v", err)
	}
	if _, err := os.Stat(filepath.Join(env.Dirs.Artifacts, "ws", "out", ".gitignore")); !os.IsNotExist(err) {
		t.Errorf(".gitignore was published without a .artifactignore (%v)", err)
	}

	// Without a name the artifact is named after the job.
	env.Variables["System.JobIdentifier"] = "Build.Linux"
	env.Inputs = map[string]string{"targetPath": filepath.Join(env.Dirs.Pipeline, "out")}
	if res, err := runPublishPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("publish without a name: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(env.Dirs.Artifacts, "Build.Linux", "app.bin")); err != nil {
		t.Errorf("the unnamed artifact is not named after the job: %v", err)
	}

	writeFiles(t, env.Dirs.Sources, map[string]string{
		"site/index.html": "x", "site/debug.log": "x", "site/node_modules/m/i.js": "x", "site/keep/important.log": "x",
		"site/.artifactignore": "# build noise\n*.log\nnode_modules/\n!keep/important.log\n",
	})
	share := filepath.Join(t.TempDir(), "share")
	env.Inputs = map[string]string{"path": "site", "artifactName": "web", "artifactType": "filepath", "fileSharePath": share}
	if res, err := runPublishPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("publish to a file share: %+v %v", res, err)
	}
	got, _ := matchFiles(filepath.Join(share, "web"), "**")
	if diff := cmp.Diff([]string{"index.html", "keep/important.log"}, got); diff != "" {
		t.Errorf("published to the share (-want +got):\n%s", diff)
	}
	// The reference's example: exclude everything, then re-include.
	writeFiles(t, env.Dirs.Sources, map[string]string{
		"app/dist/main.js": "x", "app/dist/css/a.css": "x", "app/package.json": "x", "app/src/main.ts": "x",
		"app/.artifactignore": "# Exclude everything\n**/*\n\n!dist/\n!dist/**\n!package.json\n",
	})
	env.Inputs = map[string]string{"path": "app", "artifact": "app"}
	if res, err := runPublishPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("publish app: %+v %v", res, err)
	}
	got, _ = matchFiles(filepath.Join(env.Dirs.Artifacts, "app"), "**")
	if diff := cmp.Diff([]string{"dist/css/a.css", "dist/main.js", "package.json"}, got); diff != "" {
		t.Errorf("published with the reference's .artifactignore (-want +got):\n%s", diff)
	}
	for _, tc := range []map[string]string{
		{"path": "site", "artifact": "x", "publishLocation": "filepath"},
		{"path": "site", "artifact": "y", "publishLocation": "container"},
		{"path": "site", "artifact": "z", "publishLocation": "filepath", "fileSharePath": "site/share"},
	} {
		env.Inputs = tc
		if res, _ := runPublishPipelineArtifact(t.Context(), env); res.Status != Failed {
			t.Errorf("%v: %+v, want Failed", tc, res)
		}
	}
}

// TestDownloadPipelineArtifactOutputs checks the pipelineId alias and the
// documented BuildNumber output variable.
func TestDownloadPipelineArtifactOutputs(t *testing.T) {
	env, _ := testEnv(t, nil)
	vars := map[string]string{}
	env.SetVariable = func(name, value string, opts VarOptions) error {
		if !opts.Output {
			t.Errorf("%s is not an output variable", name)
		}
		vars[name] = value
		return nil
	}
	writeFiles(t, filepath.Join(filepath.Dir(env.Dirs.Artifacts), "run-41", "drop"), map[string]string{"a.txt": "a"})
	env.Inputs = map[string]string{"source": "Specific", "pipelineId": "run-41", "artifact": "drop", "path": "dl"}
	if res, err := runDownloadPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("download by pipelineId: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(env.Dirs.Sources, "dl", "a.txt")); err != nil {
		t.Error(err)
	}
	if vars["BuildNumber"] != "run-41" {
		t.Errorf("BuildNumber = %q, want run-41", vars["BuildNumber"])
	}
	env.Variables["Build.BuildNumber"] = "20261129.3"
	env.Inputs = map[string]string{}
	if res, err := runDownloadPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("download current: %+v %v", res, err)
	}
	if vars["BuildNumber"] != "20261129.3" {
		t.Errorf("BuildNumber = %q, want the current run's", vars["BuildNumber"])
	}
}

// TestDownloadPipelineArtifactPlacement follows the task's reference: a
// named artifact downloads into targetPath itself (default
// $(Pipeline.Workspace)); without a name each artifact gets a folder of its
// own; the download shorthand, which passes $(Pipeline.Workspace), puts a
// named artifact in $(Pipeline.Workspace)/<name>.
func TestDownloadPipelineArtifactPlacement(t *testing.T) {
	env, _ := testEnv(t, nil)
	writeFiles(t, filepath.Join(env.Dirs.Artifacts, "web"), map[string]string{"index.html": "w"})
	writeFiles(t, filepath.Join(env.Dirs.Artifacts, "api"), map[string]string{"api.bin": "a"})
	for _, tc := range []struct {
		inputs map[string]string
		want   []string
	}{
		{map[string]string{"artifact": "web"}, []string{"index.html"}},
		{map[string]string{"artifactName": "web", "path": "dl"}, []string{"s/dl/index.html"}},
		{map[string]string{}, []string{"api/api.bin", "web/index.html"}},
		{map[string]string{"artifact": "web", "targetPath": env.Dirs.Pipeline}, []string{"web/index.html"}},
	} {
		if err := os.RemoveAll(env.Dirs.Pipeline); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(env.Dirs.Sources, 0o755); err != nil {
			t.Fatal(err)
		}
		env.Inputs = tc.inputs
		if res, err := runDownloadPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
			t.Fatalf("%v: %+v %v", tc.inputs, res, err)
		}
		got, _ := matchFiles(env.Dirs.Pipeline, "**")
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.inputs, diff)
		}
	}
}

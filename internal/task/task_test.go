package task

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLookupAndKnown(t *testing.T) {
	for _, name := range []string{"CmdLine@2", "bash@3", "PublishPipelineArtifact@1", "DownloadPipelineArtifact@2", "PublishTestResults@2", "CopyFiles@2", "ArchiveFiles@2"} {
		if !Known(name) {
			t.Errorf("Known(%q) = false", name)
		}
	}
	for _, name := range []string{"Bash@2", "NoSuch@1", CheckoutTask, ""} {
		if Known(name) {
			t.Errorf("Known(%q) = true", name)
		}
	}
	if _, ok := Lookup(CheckoutTask); !ok {
		t.Error("the checkout task is not registered")
	}
}

func TestParseJUnit(t *testing.T) {
	doc := `<testsuites>
  <testsuite name="a"><testcase classname="pkg" name="ok"/><testcase classname="pkg" name="bad"><failure>boom</failure></testcase></testsuite>
  <testsuite name="b"><testsuite name="nested"><testcase name="err"><error/></testcase><testcase name="skip"><skipped/></testcase></testsuite></testsuite>
</testsuites>`
	c, failed, err := ParseJUnit([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(TestCounts{Total: 4, Passed: 1, Failed: 2, Skipped: 1}, c); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pkg.bad", "err"}, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	c, _, err = ParseJUnit([]byte(`<testsuite tests="1"><testcase name="x"/></testsuite>`))
	if err != nil || c.Total != 1 || c.Passed != 1 {
		t.Errorf("single suite: %+v %v", c, err)
	}
	if _, _, err := ParseJUnit([]byte("not xml")); err == nil {
		t.Error("no error for a broken document")
	}
}

// testEnv is an Env whose processes run with os/exec and whose log is a
// buffer.
func testEnv(t *testing.T, inputs map[string]string) (*Env, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	d := Dirs{Work: root, Pipeline: filepath.Join(root, "1"), Sources: filepath.Join(root, "1", "s"),
		ArtifactStaging: filepath.Join(root, "1", "a"), Binaries: filepath.Join(root, "1", "b"),
		TestResults: filepath.Join(root, "1", "TestResults"), Temp: filepath.Join(root, "_temp"),
		Tools: filepath.Join(root, "_tool"), Artifacts: filepath.Join(root, "artifacts", "run")}
	for _, p := range []string{d.Sources, d.ArtifactStaging, d.Binaries, d.TestResults, d.Temp} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	env := &Env{Inputs: inputs, Variables: map[string]string{"Build.BuildId": "7"}, Dirs: d, Log: &log, Now: time.Now,
		Environ: os.Environ()}
	env.Exec = func(ctx context.Context, c Command) (ExitStatus, error) {
		cmd := exec.CommandContext(ctx, c.Path, c.Args...)
		cmd.Dir = c.Dir
		cmd.Env = env.Environ
		var stderr bytes.Buffer
		cmd.Stdout = &log
		cmd.Stderr = &stderr
		err := cmd.Run()
		log.Write(stderr.Bytes())
		st := ExitStatus{Stderr: stderr.Len() > 0}
		if ee, ok := err.(*exec.ExitError); ok {
			st.Code = ee.ExitCode()
			err = nil
		}
		return st, err
	}
	return env, &log
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name   string
		task   Task
		inputs map[string]string
		want   Status
		log    string
	}{
		{"cmdline ok", Func(runCmdLine), map[string]string{"script": "echo hi; false; echo still"}, Succeeded, "hi\nstill\n"},
		{"cmdline exit", Func(runCmdLine), map[string]string{"script": "exit 4"}, Failed, ""},
		{"cmdline stderr", Func(runCmdLine), map[string]string{"script": "echo oops >&2", "failOnStderr": "true"}, Failed, "oops\n"},
		{"bash inline", Func(runBash), map[string]string{"targetType": "inline", "script": "echo $((1+2))"}, Succeeded, "3\n"},
		{"bash workdir", Func(runBash), map[string]string{"targetType": "inline", "script": "basename $PWD", "workingDirectory": "/"}, Succeeded, "/\n"},
		{"bash file", Func(runBash), map[string]string{"filePath": "run.sh", "arguments": "a 'b c'"}, Succeeded, "2 a b c\n"},
		{"bash missing file", Func(runBash), map[string]string{"filePath": "nope.sh"}, Failed, ""},
		{"bash relative workingDirectory", Func(runBash), map[string]string{"targetType": "inline", "script": "basename $PWD", "workingDirectory": "sub"}, Succeeded, "sub\n"},
		{"cmdline relative workingDirectory", Func(runCmdLine), map[string]string{"script": "basename $PWD", "workingDirectory": "sub"}, Succeeded, "sub\n"},
		{"bash filePath is a folder", Func(runBash), map[string]string{"filePath": "sub"}, Failed, ""},
		{"bash targetType any case", Func(runBash), map[string]string{"targetType": "FILEPATH", "filePath": "run.sh", "arguments": "x"}, Succeeded, "1 x\n"},
		{"bash inline ignores arguments", Func(runBash), map[string]string{"targetType": "inline", "script": "echo $#", "arguments": "a b"}, Succeeded, "0\n"},
		{"bash bad targetType", Func(runBash), map[string]string{"targetType": "url", "script": "echo hi"}, Failed, ""},
		{"bash default inline script", Func(runBash), map[string]string{"targetType": "inline"}, Succeeded, "Hello world\n"},
		{"cmdline default script", Func(runCmdLine), map[string]string{}, Succeeded, "Write your commands here\nHello world\n"},
		{"bash bashEnvValue is sourced", Func(runBash), map[string]string{"targetType": "inline", "script": "echo ${FROM_BASH_ENV:-unset}", "bashEnvValue": "env.sh"}, Succeeded, "set\n"},
		{"bash stderr without failOnStderr", Func(runBash), map[string]string{"targetType": "inline", "script": "echo warn >&2"}, Succeeded, "warn\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, log := testEnv(t, tt.inputs)
			if err := os.WriteFile(filepath.Join(env.Dirs.Sources, "run.sh"), []byte("echo $# \"$@\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(env.Dirs.Sources, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(env.Dirs.Sources, "env.sh"), []byte("export FROM_BASH_ENV=set\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := tt.task.Run(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want {
				t.Errorf("status %s (%s), want %s", res.Status, res.Message, tt.want)
			}
			if tt.log != "" && log.String() != tt.log {
				t.Errorf("log %q, want %q", log.String(), tt.log)
			}
		})
	}
}

func TestArchiveFiles(t *testing.T) {
	for _, tc := range []struct {
		inputs map[string]string
		want   []string
	}{
		{map[string]string{"archiveType": "zip", "archiveFile": "out.zip"}, []string{"b/x.txt", "b/y/z.txt"}},
		{map[string]string{"archiveType": "zip", "includeRootFolder": "false", "archiveFile": "out.zip"}, []string{"x.txt", "y/z.txt"}},
		{map[string]string{"archiveType": "tar", "archiveFile": "out.tar.gz"}, []string{"b/x.txt", "b/y/z.txt"}},
		{map[string]string{"archiveType": "tar", "tarCompression": "none", "includeRootFolder": "false", "archiveFile": "out.tar"}, []string{"x.txt", "y/z.txt"}},
	} {
		env, _ := testEnv(t, tc.inputs)
		for _, f := range []string{"x.txt", "y/z.txt"} {
			p := filepath.Join(env.Dirs.Binaries, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(f), 0o644)
		}
		res, err := runArchiveFiles(t.Context(), env)
		if err != nil || res.Status != Succeeded {
			t.Fatalf("%v: %+v %v", tc.inputs, res, err)
		}
		out := filepath.Join(env.Dirs.Sources, tc.inputs["archiveFile"])
		var names []string
		switch {
		case strings.HasSuffix(out, ".zip"):
			zr, err := zip.OpenReader(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			zr.Close()
		default:
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			var r io.Reader = f
			if strings.HasSuffix(out, ".gz") {
				if r, err = gzip.NewReader(f); err != nil {
					t.Fatal(err)
				}
			}
			tr := tar.NewReader(r)
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				names = append(names, h.Name)
			}
			f.Close()
		}
		slices.Sort(names)
		if diff := cmp.Diff(tc.want, names); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.inputs, diff)
		}
	}
}

func TestCopyFilesAndArtifacts(t *testing.T) {
	env, _ := testEnv(t, map[string]string{"Contents": "**/*.txt\n!skip/**", "TargetFolder": "$(ignored)/../out", "flattenFolders": "false"})
	env.Inputs["TargetFolder"] = filepath.Join(env.Dirs.ArtifactStaging, "out")
	for _, f := range []string{"a.txt", "d/b.txt", "skip/c.txt", "e.go"} {
		p := filepath.Join(env.Dirs.Sources, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f), 0o644)
	}
	if res, err := runCopyFiles(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("copy: %+v %v", res, err)
	}
	got, _ := matchFiles(filepath.Join(env.Dirs.ArtifactStaging, "out"), "**")
	if diff := cmp.Diff([]string{"a.txt", "d/b.txt"}, got); diff != "" {
		t.Errorf("copied (-want +got):\n%s", diff)
	}
	env.Inputs = map[string]string{"targetPath": filepath.Join(env.Dirs.ArtifactStaging, "out"), "artifactName": "drop"}
	if res, err := runPublishPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("publish: %+v %v", res, err)
	}
	if res, _ := runPublishPipelineArtifact(t.Context(), env); res.Status != Failed {
		t.Errorf("publishing the same artifact twice: %+v", res)
	}
	env.Inputs = map[string]string{"buildType": "current", "artifactName": "drop", "targetPath": env.Dirs.Pipeline, "itemPattern": "d/**"}
	if res, err := runDownloadPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("download: %+v %v", res, err)
	}
	got, _ = matchFiles(filepath.Join(env.Dirs.Pipeline, "drop"), "**")
	if diff := cmp.Diff([]string{"d/b.txt"}, got); diff != "" {
		t.Errorf("downloaded (-want +got):\n%s", diff)
	}
	env.Inputs = map[string]string{"artifactName": "missing"}
	if res, _ := runDownloadPipelineArtifact(t.Context(), env); res.Status != Failed || !strings.Contains(res.Message, "missing") {
		t.Errorf("missing artifact: %+v", res)
	}
}

func TestDownloadFromPipelineResource(t *testing.T) {
	env, _ := testEnv(t, nil)
	// The CI run "ci-run-1" published artifact "release" in the same data folder.
	ciArtifacts := filepath.Join(filepath.Dir(env.Dirs.Artifacts), "ci-run-1", "release")
	if err := os.MkdirAll(ciArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ciArtifacts, "image.txt"), []byte("reg/webapp@sha256:abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := func() map[string]string {
		return map[string]string{"buildType": "specific", "pipeline": "ci", "artifact": "release", "targetPath": filepath.Join(env.Dirs.Pipeline, "ci")}
	}
	env.Inputs = inputs()
	if res, _ := runDownloadPipelineArtifact(t.Context(), env); res.Status != Failed || !strings.Contains(res.Message, "not triggered by pipeline resource ci") {
		t.Errorf("download without the resource's run: %+v", res)
	}
	env.Variables["resources.pipeline.ci.runID"] = "ci-run-1"
	env.Inputs = inputs()
	if res, err := runDownloadPipelineArtifact(t.Context(), env); err != nil || res.Status != Succeeded {
		t.Fatalf("download: %+v %v", res, err)
	}
	got, err := os.ReadFile(filepath.Join(env.Dirs.Pipeline, "ci", "release", "image.txt"))
	if err != nil || string(got) != "reg/webapp@sha256:abc\n" {
		t.Errorf("downloaded image.txt = %q, %v", got, err)
	}
	env.Inputs = map[string]string{"buildType": "specific", "runId": "../etc", "artifact": "release"}
	if res, _ := runDownloadPipelineArtifact(t.Context(), env); res.Status != Failed {
		t.Errorf("runId with a path: %+v", res)
	}
}

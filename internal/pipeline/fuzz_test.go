package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzCompile feeds arbitrary bytes as the pipeline file (and as a
// template it may include): compiling must never panic.
func FuzzCompile(f *testing.F) {
	paths, _ := filepath.Glob("testdata/golden/*.txtar")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range parseArchive(string(data)).files {
			if strings.HasSuffix(file.name, ".yml") {
				f.Add([]byte(file.data))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"azure-pipelines.yml": {Data: data},
			"t.yml":               {Data: data},
			"steps.yml":           {Data: []byte("parameters:\n- name: p\n  type: object\n  default: {}\nsteps:\n- script: echo ${{ parameters.p }}\n")},
		}
		p, err := Compile(fsys, "azure-pipelines.yml", Options{Input: Input{Params: map[string]string{"p": string(data)}}})
		if err == nil && p == nil {
			t.Fatal("Compile returned neither a plan nor an error")
		}
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("Compile returned %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File == "" || e.Msg == "" {
					t.Fatalf("error without file or message: %#v", e)
				}
			}
		}
	})
}

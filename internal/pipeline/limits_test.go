package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

func errorText(t *testing.T, fsys fstest.MapFS) string {
	t.Helper()
	_, err := Compile(fsys, "azure-pipelines.yml", Options{})
	if err == nil {
		t.Fatal("Compile succeeded, want an error")
	}
	return err.Error()
}

func TestTemplateLimits(t *testing.T) {
	t.Run("more than 100 files", func(t *testing.T) {
		fsys := fstest.MapFS{"azure-pipelines.yml": {Data: []byte("steps:\n- template: t0.yml\n")}}
		for i := 0; i < 101; i++ {
			fsys[fmt.Sprintf("t%d.yml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("steps:\n- script: echo %d\n- template: t%d.yml\n", i, i+1))}
		}
		if got := errorText(t, fsys); !strings.Contains(got, "more than 100 YAML files") {
			t.Errorf("error = %q, want the file limit", got)
		}
	})
	t.Run("100 files are fine", func(t *testing.T) {
		fsys := fstest.MapFS{"azure-pipelines.yml": {Data: []byte("steps:\n- template: t0.yml\n")}}
		for i := 0; i < 99; i++ {
			next := ""
			if i < 98 {
				next = fmt.Sprintf("- template: t%d.yml\n", i+1)
			}
			fsys[fmt.Sprintf("t%d.yml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("steps:\n- script: echo %d\n%s", i, next))}
		}
		p, err := Compile(fsys, "azure-pipelines.yml", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.Stages[0].Jobs[0].Steps); got != 100 { // 99 scripts and the checkout
			t.Errorf("got %d steps, want 100", got)
		}
	})
	t.Run("file over 10 MB", func(t *testing.T) {
		fsys := fstest.MapFS{
			"azure-pipelines.yml": {Data: []byte("steps:\n- template: big.yml\n")},
			"big.yml":             {Data: []byte("steps: []\n" + strings.Repeat("#", 10<<20))},
		}
		if got := errorText(t, fsys); !strings.Contains(got, "at most 10 MB") {
			t.Errorf("error = %q, want the file size limit", got)
		}
	})
	t.Run("more than 20 MB parsed", func(t *testing.T) {
		filler := strings.Repeat("# filler line of a comment to make the file large\n", (8<<20)/50)
		fsys := fstest.MapFS{"azure-pipelines.yml": {Data: []byte("steps:\n- template: a.yml\n- template: b.yml\n- template: c.yml\n")}}
		for _, n := range []string{"a", "b", "c"} {
			fsys[n+".yml"] = &fstest.MapFile{Data: []byte("steps:\n- script: echo\n" + filler)}
		}
		if got := errorText(t, fsys); !strings.Contains(got, "more than 20 MB") {
			t.Errorf("error = %q, want the parsed-size limit", got)
		}
	})
	t.Run("self include is a cycle", func(t *testing.T) {
		fsys := fstest.MapFS{
			"azure-pipelines.yml": {Data: []byte("steps:\n- template: t.yml\n")},
			"t.yml":               {Data: []byte("steps:\n- template: t.yml\n")},
		}
		if got := errorText(t, fsys); !strings.Contains(got, "template cycle: t.yml → t.yml") {
			t.Errorf("error = %q, want a cycle", got)
		}
	})
}

package pipeline

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the expected output of golden files")

// archive is a golden file: a comment, then files each introduced by a
// "-- name --" line.
type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct {
	name string
	data string
}

func parseArchive(s string) archive {
	var a archive
	lines := strings.SplitAfter(s, "\n")
	cur := -1
	for _, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			a.files = append(a.files, archiveFile{name: strings.TrimSpace(t[3 : len(t)-3])})
			cur = len(a.files) - 1
			continue
		}
		if cur < 0 {
			a.comment += l
		} else {
			a.files[cur].data += l
		}
	}
	return a
}

func formatArchive(a archive) string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n", f.name)
		b.WriteString(f.data)
		if f.data != "" && !strings.HasSuffix(f.data, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// goldenOptions reads the optional "args" file: lines "event: pr",
// "branch: x", "target: y", "param: k=v", "var: k=v", "tasks: A@1 B@2"
// (only these tasks are known).
func goldenOptions(t *testing.T, args string, repos map[string]fstest.MapFS) Options {
	t.Helper()
	opts := Options{Input: Input{Params: map[string]string{}, Vars: map[string]string{}}}
	for _, l := range strings.Split(args, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "event":
			opts.Event = v
		case "branch":
			opts.Branch = v
		case "target":
			opts.TargetBranch = v
		case "param", "var":
			pk, pv, _ := strings.Cut(v, "=")
			if k == "param" {
				opts.Params[pk] = pv
			} else {
				opts.Vars[pk] = pv
			}
		case "tasks":
			known := strings.Fields(v)
			opts.ValidateTask = func(task string) error {
				for _, k := range known {
					if k == task {
						return nil
					}
				}
				return fmt.Errorf("no such task in the registry")
			}
		default:
			t.Fatalf("args: unknown line %q", l)
		}
	}
	if len(repos) > 0 {
		opts.Repositories = RepositoryResolverFunc(func(alias string, _ plan.RepositoryResource) (fs.FS, error) {
			if r, ok := repos[alias]; ok {
				return r, nil
			}
			return nil, fmt.Errorf("repository not available")
		})
	}
	return opts
}

func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files")
	}
	sort.Strings(paths)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(string(data))
			self := fstest.MapFS{}
			repos := map[string]fstest.MapFS{}
			args := ""
			want, wantName := "", ""
			var kept []archiveFile
			for _, f := range a.files {
				switch {
				case f.name == "args":
					args = f.data
				case f.name == "plan.json" || f.name == "errors" || f.name == "plan.txt":
					want, wantName = f.data, f.name
					continue
				case strings.HasPrefix(f.name, "@"):
					alias, rest, _ := strings.Cut(f.name[1:], "/")
					if repos[alias] == nil {
						repos[alias] = fstest.MapFS{}
					}
					repos[alias][rest] = &fstest.MapFile{Data: []byte(f.data)}
				default:
					self[f.name] = &fstest.MapFile{Data: []byte(f.data)}
				}
				kept = append(kept, f)
			}
			if wantName == "" {
				wantName = "plan.json"
			}
			opts := goldenOptions(t, args, repos)
			p, err := Compile(self, "azure-pipelines.yml", opts)
			got := ""
			if err != nil {
				list, ok := err.(ErrorList)
				if !ok {
					t.Fatalf("Compile returned %T, want ErrorList: %v", err, err)
				}
				got = list.Error() + "\n"
				if wantName != "errors" && !*update {
					t.Fatalf("Compile failed, want a plan:\n%s", got)
				}
				wantName = "errors"
			} else {
				if wantName == "errors" && !*update {
					t.Fatalf("Compile succeeded, want errors:\n%s", want)
				}
				if wantName == "plan.txt" {
					var b bytes.Buffer
					if err := WriteText(&b, p); err != nil {
						t.Fatal(err)
					}
					got = b.String()
				} else {
					wantName = "plan.json"
					b, err := json.MarshalIndent(p, "", "  ")
					if err != nil {
						t.Fatal(err)
					}
					got = string(b) + "\n"
				}
			}
			if *update {
				a.files = append(kept, archiveFile{name: wantName, data: got})
				if err := os.WriteFile(path, []byte(formatArchive(a)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", wantName, diff)
			}
		})
	}
}

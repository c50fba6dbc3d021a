package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "conveyor.dev/conveyor"

// pkg is one Go package of the module, read from source.
type pkg struct {
	dir     string // relative to the module root, slash-separated
	name    string
	doc     bool
	imports map[string]bool // non-test imports
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// loadPackages parses the non-test Go files of every package under root/sub.
func loadPackages(t *testing.T, root, sub string) []pkg {
	t.Helper()
	byDir := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, sub), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		p := byDir[rel]
		if p == nil {
			p = &pkg{dir: rel, name: f.Name.Name, imports: map[string]bool{}}
			byDir[rel] = p
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.doc = true
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			p.imports[path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []pkg
	for _, p := range byDir {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

func TestExamplesImportNothingOfTheModule(t *testing.T) {
	for _, p := range loadPackages(t, moduleRoot(t), "examples") {
		for imp := range p.imports {
			if strings.HasPrefix(imp, module+"/") {
				t.Errorf("%s imports %s: the sample apps are stand-alone", p.dir, imp)
			}
		}
	}
}

func TestEveryInternalPackageHasDocComment(t *testing.T) {
	pkgs := loadPackages(t, moduleRoot(t), "internal")
	if len(pkgs) == 0 {
		t.Fatal("no packages found under internal/")
	}
	for _, p := range pkgs {
		if !p.doc {
			t.Errorf("package %s (%s) has no package doc comment: add one saying what it is for and what it must not import", p.name, p.dir)
		}
	}
}

// isStdlib reports whether an import path belongs to the standard library:
// its first element has no dot.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestPlanImportsOnlyStandardLibrary(t *testing.T) {
	pkgs := loadPackages(t, moduleRoot(t), "internal/plan")
	if len(pkgs) == 0 {
		t.Fatal("internal/plan not found")
	}
	for _, p := range pkgs {
		for imp := range p.imports {
			if !isStdlib(imp) {
				t.Errorf("%s imports %q: internal/plan may import only the standard library", p.dir, imp)
			}
		}
	}
}

// sharedLeaves import only the standard library (their own entries in
// forbidden check it), so any package may use them.
var sharedLeaves = map[string]bool{"internal/toolscript": true, "internal/glob": true}

// forbidden lists, per package prefix, module packages it must not import:
// nothing reaches "up" the flow (DESIGN.md).
var forbidden = map[string][]string{
	"internal/toolscript":    {"internal/"},
	"internal/pipeline":      {"internal/engine", "internal/executor", "internal/store", "internal/task", "internal/server", "internal/trigger", "internal/agent"},
	"internal/pipeline/expr": {"internal/"},
	"internal/task":          {"internal/engine", "internal/server", "internal/agent"},
	"internal/executor":      {"internal/engine", "internal/server"},
	"internal/store":         {"internal/engine", "internal/executor", "internal/task", "internal/server"},
	"internal/secret":        {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/store"},
	"internal/kubeenv":       {"internal/"},
	"internal/registry":      {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/store"},
	"internal/config":        {"internal/"},
	"internal/glob":          {"internal/"},
	"internal/services":      {"internal/engine", "internal/server", "internal/agent"},
	"internal/trigger":       {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/agent", "internal/store"},
	"internal/forge":         {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/agent", "internal/store", "internal/trigger"},
	"internal/image":         {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/store"},
	"internal/supplychain":   {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/store", "internal/agent", "internal/image"},
	"internal/approval":      {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/agent", "internal/trigger"},
	"internal/deploy":        {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/store"},
	"internal/e2e":           {"internal/engine", "internal/executor", "internal/store", "internal/server"},
	"internal/gitops":        {"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/agent", "internal/store"},
}

func TestNoPackageReachesUpTheFlow(t *testing.T) {
	for _, p := range loadPackages(t, moduleRoot(t), "internal") {
		for prefix, banned := range forbidden {
			if p.dir != prefix && !strings.HasPrefix(p.dir, prefix+"/") {
				continue
			}
			for imp := range p.imports {
				rel, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				for _, b := range banned {
					if rel == strings.TrimSuffix(b, "/") || strings.HasPrefix(rel, strings.TrimSuffix(b, "/")+"/") {
						if rel == "internal/plan" && prefix != "internal/pipeline/expr" && prefix != "internal/kubeenv" {
							continue
						}
						if sharedLeaves[rel] {
							continue
						}
						t.Errorf("%s imports %s: %s must not import %s", p.dir, imp, prefix, b)
					}
				}
			}
		}
	}
}

// Package examples embeds the sample apps (their sources, pipelines and
// conveyor.yaml) so that `conveyor demo` can lay one out as a git
// repository from any working directory.
//
// It must not import any other package of the module.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed all:webapp
var files embed.FS

// vulnDB holds a few real OSV advisories from osv.dev's Go export, so that
// the demo's image scan runs offline against true records.
//
//go:embed vulndb/*.json
var vulnDB embed.FS

// Names lists the sample apps.
func Names() []string { return []string{"webapp"} }

// Materialize writes the sample app name into dir (which it creates). The
// app's go.mod is kept as go.mod.txt inside this module (a nested go.mod
// would make it another module, which go:embed refuses) and written back as
// go.mod.
func Materialize(name, dir string) error {
	root, err := fs.Sub(files, name)
	if err != nil {
		return fmt.Errorf("example %s: %w", name, err)
	}
	if _, err := fs.Stat(root, "."); err != nil {
		return fmt.Errorf("example %s: no such sample app (have %s)", name, strings.Join(Names(), ", "))
	}
	return fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if path == "go.mod.txt" {
			target = filepath.Join(dir, "go.mod")
		}
		data, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// SampleVulnDB writes the sample OSV advisories into dir (which it
// creates) and returns how many it wrote. It is a stand-in for
// `conveyor vulndb update` where osv.dev is out of reach: a scan against it
// is real, but knows only these records.
func SampleVulnDB(dir string) (int, error) {
	entries, err := fs.ReadDir(vulnDB, "vulndb")
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("sample vulnerability database: %w", err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(vulnDB, "vulndb/"+e.Name())
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return 0, fmt.Errorf("sample vulnerability database: %w", err)
		}
	}
	return len(entries), nil
}

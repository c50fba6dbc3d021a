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

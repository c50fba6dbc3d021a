package task

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyFile copies src to dst, creating dst's directory, keeping the mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// copyTree copies the file or directory src to dst.
func copyTree(src, dst string) (int, error) {
	st, err := os.Stat(src)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 1, copyFile(src, dst)
	}
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n++
		return copyFile(p, filepath.Join(dst, rel))
	})
	return n, err
}

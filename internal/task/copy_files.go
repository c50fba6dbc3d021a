package task

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runCopyFiles is CopyFiles@2: inputs SourceFolder (default
// $(Build.SourcesDirectory)), Contents (patterns, default **), TargetFolder
// (required), CleanTargetFolder, OverWrite, flattenFolders,
// preserveTimestamp, retryCount and delayBetweenRetries (milliseconds,
// default 1000), ignoreMakeDirErrors. As in Azure's task only files are
// copied: a matched folder that holds no matched file is not created.
func runCopyFiles(ctx context.Context, env *Env) (Result, error) {
	src := env.Input("SourceFolder", env.Dirs.Sources)
	if !filepath.IsAbs(src) {
		src = filepath.Join(env.Dirs.Sources, src)
	}
	dst := env.Input("TargetFolder", "")
	if dst == "" {
		return Result{Status: Failed, Message: "CopyFiles@2: input TargetFolder is required"}, nil
	}
	if !filepath.IsAbs(dst) {
		dst = filepath.Join(env.Dirs.Sources, dst)
	}
	var clean, overwrite, flatten, preserve, ignoreMkdir bool
	for _, b := range []struct {
		name string
		v    *bool
	}{{"CleanTargetFolder", &clean}, {"OverWrite", &overwrite}, {"flattenFolders", &flatten},
		{"preserveTimestamp", &preserve}, {"ignoreMakeDirErrors", &ignoreMkdir}} {
		v, err := env.BoolInput(b.name, false)
		if err != nil {
			return Result{Status: Failed, Message: "CopyFiles@2: " + err.Error()}, nil
		}
		*b.v = v
	}
	retries, err := intInput(env, "retryCount", 0)
	if err != nil {
		return Result{Status: Failed, Message: "CopyFiles@2: " + err.Error()}, nil
	}
	delay, err := intInput(env, "delayBetweenRetries", 1000)
	if err != nil {
		return Result{Status: Failed, Message: "CopyFiles@2: " + err.Error()}, nil
	}
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return Result{Status: Failed, Message: fmt.Sprintf("CopyFiles@2: source folder %s not found", src)}, nil
	}
	if st, err := os.Stat(dst); err == nil && !st.IsDir() {
		return Result{Status: Failed, Message: fmt.Sprintf("CopyFiles@2: target folder %s is a file", dst)}, nil
	}
	// retry runs op up to retryCount more times when it fails.
	retry := func(op func() error) error {
		err := op()
		for i := 0; err != nil && i < retries; i++ {
			env.Logf("##[warning]%v: retrying in %d ms (%d of %d)", err, delay, i+1, retries)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(delay) * time.Millisecond):
			}
			err = op()
		}
		return err
	}
	if clean {
		entries, _ := os.ReadDir(dst)
		for _, e := range entries {
			p := filepath.Join(dst, e.Name())
			if err := retry(func() error { return os.RemoveAll(p) }); err != nil {
				return Result{}, fmt.Errorf("copy files: clean %s: %w", dst, err)
			}
		}
	}
	if err := retry(func() error { return os.MkdirAll(dst, 0o755) }); err != nil && !ignoreMkdir {
		return Result{}, fmt.Errorf("copy files: create %s: %w", dst, err)
	}
	pats := parsePatterns(src, env.Input("Contents", "**"))
	var files []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || !matchPatterns(pats, rel) {
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("copy files: %w", err)
	}
	copied := 0
	for _, f := range files {
		from := filepath.Join(src, filepath.FromSlash(f))
		to := filepath.Join(dst, filepath.FromSlash(f))
		if flatten {
			to = filepath.Join(dst, filepath.Base(f))
		}
		if st, err := os.Stat(to); err == nil {
			if st.IsDir() {
				return Result{Status: Failed, Message: fmt.Sprintf("CopyFiles@2: cannot copy %s: %s is a folder", f, to)}, nil
			}
			if !overwrite {
				env.Logf("skipping %s: it exists and OverWrite is false", to)
				continue
			}
		}
		err := retry(func() error {
			if err := copyFile(from, to); err != nil {
				return err
			}
			if preserve {
				st, err := os.Stat(from)
				if err != nil {
					return err
				}
				return os.Chtimes(to, st.ModTime(), st.ModTime())
			}
			return nil
		})
		if err != nil {
			return Result{}, fmt.Errorf("copy files: %w", err)
		}
		copied++
	}
	env.Logf("Copied %d file(s) from %s to %s", copied, src, dst)
	return Result{Status: Succeeded}, nil
}

// intInput returns the non-negative integer input named name, or def when
// unset.
func intInput(env *Env, name string, def int) (int, error) {
	v := strings.TrimSpace(env.Input(name, ""))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("input %s: %q is not a whole number of 0 or more", name, v)
	}
	return n, nil
}

package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runScript writes script to a file under the job's temp directory and runs
// it with bash and the given flags, as Azure's agent does on Linux. The
// result is Failed when bash exits non-zero, or when failOnStderr is set and
// the script wrote to stderr.
func runScript(ctx context.Context, env *Env, flags []string, script, file string, args []string, dir string, failOnStderr bool) (Result, error) {
	if file == "" {
		if err := os.MkdirAll(env.Dirs.Temp, 0o755); err != nil {
			return Result{}, fmt.Errorf("script: temp directory: %w", err)
		}
		var b [16]byte
		_, _ = rand.Read(b[:])
		file = filepath.Join(env.Dirs.Temp, hex.EncodeToString(b[:])+".sh")
		if err := os.WriteFile(file, []byte(script), 0o700); err != nil {
			return Result{}, fmt.Errorf("script: write %s: %w", file, err)
		}
		defer os.Remove(file)
	}
	if dir == "" {
		dir = env.Dirs.Sources
	} else if !filepath.IsAbs(dir) {
		// A relative workingDirectory is a path in the sources, as Azure
		// resolves path inputs against System.DefaultWorkingDirectory.
		dir = filepath.Join(env.Dirs.Sources, dir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return Result{Status: Failed, Message: fmt.Sprintf("input workingDirectory: %s does not exist", dir)}, nil
	}
	argv := append(append(append([]string{}, flags...), file), args...)
	st, err := env.Exec(ctx, Command{Path: "bash", Args: argv, Dir: dir, SeparateStderr: failOnStderr})
	if err != nil {
		return Result{}, err
	}
	switch {
	case st.Code != 0:
		return Result{Status: Failed, Message: fmt.Sprintf("bash exited with code %d", st.Code)}, nil
	case failOnStderr && st.Stderr:
		return Result{Status: Failed, Message: "bash wrote to standard error and failOnStderr is true"}, nil
	}
	return Result{Status: Succeeded}, nil
}

// runCmdLine is CmdLine@2: inputs script, workingDirectory, failOnStderr.
// On Linux Azure runs the script with `bash --noprofile --norc`.
func runCmdLine(ctx context.Context, env *Env) (Result, error) {
	failOnStderr, err := env.BoolInput("failOnStderr", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	return runScript(ctx, env, []string{"--noprofile", "--norc"}, env.Input("script", "echo Write your commands here\n\necho Hello world\n"), "", nil,
		env.Input("workingDirectory", ""), failOnStderr)
}

// runBash is Bash@3: targetType filePath|inline, filePath, arguments, script,
// workingDirectory, failOnStderr, noProfile, noRc, bashEnvValue.
func runBash(ctx context.Context, env *Env) (Result, error) {
	failOnStderr, err := env.BoolInput("failOnStderr", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	noProfile, err := env.BoolInput("noProfile", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	noRc, err := env.BoolInput("noRc", true)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	var flags []string
	if noProfile {
		flags = append(flags, "--noprofile")
	}
	if noRc {
		flags = append(flags, "--norc")
	}
	if v := env.Input("bashEnvValue", ""); v != "" {
		env.Environ = append(env.Environ, "BASH_ENV="+v)
	}
	dir := env.Input("workingDirectory", "")
	targetType := env.Input("targetType", "")
	if targetType == "" {
		if env.Input("script", "") != "" && env.Input("filePath", "") == "" {
			targetType = "inline"
		} else {
			targetType = "filePath"
		}
	}
	switch strings.ToLower(targetType) {
	case "inline":
		return runScript(ctx, env, flags, env.Input("script", "# Write your commands here\n\necho 'Hello world'\n"), "", nil, dir, failOnStderr)
	case "filepath":
		path := env.Input("filePath", "")
		if path == "" {
			return Result{Status: Failed, Message: "Bash@3: input filePath is required when targetType is filePath (or set targetType: inline and script)"}, nil
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.Dirs.Sources, path)
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			return Result{Status: Failed, Message: fmt.Sprintf("Bash@3: input filePath: script file %s not found", path)}, nil
		}
		return runScript(ctx, env, flags, "", path, splitArgs(env.Input("arguments", "")), dir, failOnStderr)
	default:
		return Result{Status: Failed, Message: fmt.Sprintf("Bash@3: input targetType: %q is not allowed: use filePath or inline", targetType)}, nil
	}
}

// splitArgs splits an arguments string on spaces, honouring single and
// double quotes.
func splitArgs(s string) []string {
	var out []string
	var cur []rune
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur = append(cur, r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, string(cur))
				cur, in = cur[:0], false
			}
		default:
			cur, in = append(cur, r), true
		}
	}
	if in {
		out = append(out, string(cur))
	}
	return out
}

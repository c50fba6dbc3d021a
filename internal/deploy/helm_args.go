package deploy

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HelmArgs are the helm command-line flags and positional arguments that
// Conveyor understands in a HelmDeploy arguments input.
type HelmArgs struct {
	// Positional are the arguments that are not flags (RELEASE [REVISION]
	// for rollback, RELEASE... for uninstall).
	Positional []string

	Atomic           bool          // --atomic
	Wait             bool          // --wait
	WaitForJobs      bool          // --wait-for-jobs
	Timeout          time.Duration // --timeout (0: not given)
	CreateNamespace  bool          // --create-namespace
	Install          bool          // --install, -i (upgrade)
	Force            bool          // --force
	ResetValues      bool          // --reset-values
	ReuseValues      bool          // --reuse-values
	CleanupOnFail    bool          // --cleanup-on-fail
	DryRun           bool          // --dry-run
	NoHooks          bool          // --no-hooks
	SkipCRDs         bool          // --skip-crds
	IncludeCRDs      bool          // --include-crds (template)
	KeepHistory      bool          // --keep-history (uninstall)
	DependencyUpdate bool          // --dependency-update (install, package)
	PlainHTTP        bool          // --plain-http
	InsecureTLS      bool          // --insecure-skip-tls-verify
	Debug            bool          // --debug
	HistoryMax       int           // --history-max (0: not given)
	Version          string        // --version
	Namespace        string        // --namespace, -n
	Description      string        // --description
	Destination      string        // --destination, -d (package)
	AppVersion       string        // --app-version (package)
	KubeVersion      string        // --kube-version (template)
	Username         string        // --username
	Password         string        // --password
	Set              []string      // --set
	SetString        []string      // --set-string
	Values           []string      // --values, -f
}

// helmFlag describes one flag: whether it takes a value and where it goes.
type helmFlag struct {
	boolean func(a *HelmArgs, v bool)
	value   func(a *HelmArgs, v string) error
}

func boolFlag(f func(a *HelmArgs, v bool)) helmFlag { return helmFlag{boolean: f} }

func stringFlag(f func(a *HelmArgs, v string)) helmFlag {
	return helmFlag{value: func(a *HelmArgs, v string) error { f(a, v); return nil }}
}

var helmFlags = map[string]helmFlag{
	"--atomic":                   boolFlag(func(a *HelmArgs, v bool) { a.Atomic = v }),
	"--wait":                     boolFlag(func(a *HelmArgs, v bool) { a.Wait = v }),
	"--wait-for-jobs":            boolFlag(func(a *HelmArgs, v bool) { a.WaitForJobs = v }),
	"--create-namespace":         boolFlag(func(a *HelmArgs, v bool) { a.CreateNamespace = v }),
	"--install":                  boolFlag(func(a *HelmArgs, v bool) { a.Install = v }),
	"-i":                         boolFlag(func(a *HelmArgs, v bool) { a.Install = v }),
	"--force":                    boolFlag(func(a *HelmArgs, v bool) { a.Force = v }),
	"--reset-values":             boolFlag(func(a *HelmArgs, v bool) { a.ResetValues = v }),
	"--reuse-values":             boolFlag(func(a *HelmArgs, v bool) { a.ReuseValues = v }),
	"--cleanup-on-fail":          boolFlag(func(a *HelmArgs, v bool) { a.CleanupOnFail = v }),
	"--dry-run":                  boolFlag(func(a *HelmArgs, v bool) { a.DryRun = v }),
	"--no-hooks":                 boolFlag(func(a *HelmArgs, v bool) { a.NoHooks = v }),
	"--skip-crds":                boolFlag(func(a *HelmArgs, v bool) { a.SkipCRDs = v }),
	"--include-crds":             boolFlag(func(a *HelmArgs, v bool) { a.IncludeCRDs = v }),
	"--keep-history":             boolFlag(func(a *HelmArgs, v bool) { a.KeepHistory = v }),
	"--dependency-update":        boolFlag(func(a *HelmArgs, v bool) { a.DependencyUpdate = v }),
	"--plain-http":               boolFlag(func(a *HelmArgs, v bool) { a.PlainHTTP = v }),
	"--insecure-skip-tls-verify": boolFlag(func(a *HelmArgs, v bool) { a.InsecureTLS = v }),
	"--debug":                    boolFlag(func(a *HelmArgs, v bool) { a.Debug = v }),
	"--timeout": {value: func(a *HelmArgs, v string) error {
		d, err := parseHelmTimeout(v)
		a.Timeout = d
		return err
	}},
	"--history-max": {value: func(a *HelmArgs, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("--history-max %q: want a whole number ≥ 0", v)
		}
		a.HistoryMax = n
		return nil
	}},
	"--version":      stringFlag(func(a *HelmArgs, v string) { a.Version = v }),
	"--namespace":    stringFlag(func(a *HelmArgs, v string) { a.Namespace = v }),
	"-n":             stringFlag(func(a *HelmArgs, v string) { a.Namespace = v }),
	"--description":  stringFlag(func(a *HelmArgs, v string) { a.Description = v }),
	"--destination":  stringFlag(func(a *HelmArgs, v string) { a.Destination = v }),
	"-d":             stringFlag(func(a *HelmArgs, v string) { a.Destination = v }),
	"--app-version":  stringFlag(func(a *HelmArgs, v string) { a.AppVersion = v }),
	"--kube-version": stringFlag(func(a *HelmArgs, v string) { a.KubeVersion = v }),
	"--username":     stringFlag(func(a *HelmArgs, v string) { a.Username = v }),
	"--password":     stringFlag(func(a *HelmArgs, v string) { a.Password = v }),
	"--set":          stringFlag(func(a *HelmArgs, v string) { a.Set = append(a.Set, v) }),
	"--set-string":   stringFlag(func(a *HelmArgs, v string) { a.SetString = append(a.SetString, v) }),
	"--values":       stringFlag(func(a *HelmArgs, v string) { a.Values = append(a.Values, v) }),
	"-f":             stringFlag(func(a *HelmArgs, v string) { a.Values = append(a.Values, v) }),
}

// HelmFlagNames lists the flags ParseHelmArgs understands, sorted.
func HelmFlagNames() []string {
	names := make([]string, 0, len(helmFlags))
	for n := range helmFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseHelmArgs parses a helm arguments string (words split as a shell
// does, quotes kept together; newlines are spaces). Flags take their value
// as the next word or after "="; boolean flags accept =true/=false. Unknown
// flags are an error that names every one of them.
func ParseHelmArgs(s string) (HelmArgs, error) {
	var a HelmArgs
	words, err := SplitArgs(s)
	if err != nil {
		return a, err
	}
	var unknown []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			a.Positional = append(a.Positional, words[i+1:]...)
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			a.Positional = append(a.Positional, w)
			continue
		}
		name, val, hasVal := strings.Cut(w, "=")
		f, ok := helmFlags[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if f.boolean != nil {
			b := true
			if hasVal {
				if b, err = strconv.ParseBool(val); err != nil {
					return a, fmt.Errorf("arguments: %s=%s: want true or false", name, val)
				}
			}
			f.boolean(&a, b)
			continue
		}
		if !hasVal {
			if i+1 >= len(words) {
				return a, fmt.Errorf("arguments: %s needs a value", name)
			}
			i++
			val = words[i]
		}
		if err := f.value(&a, val); err != nil {
			return a, fmt.Errorf("arguments: %w", err)
		}
	}
	if len(unknown) > 0 {
		return a, fmt.Errorf("arguments: unknown helm flag(s) %s: Conveyor runs helm through its SDK and understands only %s",
			strings.Join(unknown, ", "), strings.Join(HelmFlagNames(), " "))
	}
	return a, nil
}

// parseHelmTimeout reads a Go duration (5m, 90s); a bare number is seconds,
// as Helm 2 took it.
func parseHelmTimeout(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--timeout %q: want a duration such as 5m or 90s", v)
	}
	return d, nil
}

// SplitArgs splits s into words as a POSIX shell would without expansion:
// blanks (spaces, tabs, newlines) separate words, single quotes keep
// everything, double quotes keep everything but \" and \\, a backslash
// outside quotes escapes the next character.
func SplitArgs(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word has started (possibly empty, as in '')
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("arguments: unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			in = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
					cur.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					closed = true
					break
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New(`arguments: unterminated " quote`)
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

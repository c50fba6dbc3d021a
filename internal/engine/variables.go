package engine

import (
	"sort"
	"strings"
)

// variable is one variable of a job.
type variable struct {
	Name     string // as first written
	Value    string
	Secret   bool
	Readonly bool
	// Output is true for an output variable, named "step.var".
	Output bool
}

// vars is a job's variable table; names are case-insensitive as in Azure.
type vars struct {
	m map[string]variable
}

func newVars() *vars { return &vars{m: map[string]variable{}} }

// set defines or replaces a variable; it reports false when the variable
// is read-only.
func (v *vars) set(nv variable) bool {
	k := strings.ToLower(nv.Name)
	if old, ok := v.m[k]; ok {
		if old.Readonly {
			return false
		}
		nv.Name = old.Name
	}
	v.m[k] = nv
	return true
}

// force defines a variable even over a read-only one (system values).
func (v *vars) force(nv variable) { v.m[strings.ToLower(nv.Name)] = nv }

func (v *vars) get(name string) (variable, bool) {
	x, ok := v.m[strings.ToLower(name)]
	return x, ok
}

// lookup returns the value of a variable, for macro expansion.
func (v *vars) lookup(name string) (string, bool) {
	x, ok := v.m[strings.ToLower(strings.TrimSpace(name))]
	return x.Value, ok
}

// values returns every variable by its name; secrets included when
// withSecrets.
func (v *vars) values(withSecrets bool) map[string]string {
	out := make(map[string]string, len(v.m))
	for _, x := range v.m {
		if x.Secret && !withSecrets {
			continue
		}
		out[x.Name] = x.Value
	}
	return out
}

// reservedPrefixes are the variable name prefixes Azure Pipelines keeps
// for itself ("Define variables"): such variables are not passed to tasks
// and scripts in their environment.
var reservedPrefixes = []string{"endpoint", "input", "secret", "path", "securefile"}

func reservedName(name string) bool {
	for _, p := range reservedPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// environ returns the environment form of every non-secret variable:
// upper case, with '.' and ' ' replaced by '_'. Variables with a reserved
// prefix (endpoint, input, secret, path, securefile) are left out.
func (v *vars) environ() map[string]string {
	out := make(map[string]string, len(v.m))
	names := make([]string, 0, len(v.m))
	for k := range v.m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		x := v.m[k]
		if x.Secret || reservedName(x.Name) {
			continue
		}
		out[EnvName(x.Name)] = x.Value
	}
	return out
}

// EnvName is the environment-variable form of a variable name: upper case,
// '.' and ' ' replaced by '_' (Build.SourcesDirectory → BUILD_SOURCESDIRECTORY).
func EnvName(name string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", " ", "_").Replace(name))
}

// expandMacros replaces each $(name) in s whose name lookup knows with its
// value; unknown macros are left as they are, as Azure does. A value put
// in is not expanded again.
func expandMacros(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "$(")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := strings.IndexByte(s[i+2:], ')')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+2 : i+2+end]
		b.WriteString(s[:i])
		if validMacroName(name) {
			if v, ok := lookup(name); ok {
				b.WriteString(v)
				s = s[i+2+end+1:]
				continue
			}
		}
		// Not a known macro: go on from the next character, as the Azure
		// agent does, so that a macro nested in shell syntax such as
		// $(cat $(Pipeline.Workspace)/file) still expands.
		b.WriteString("$")
		s = s[i+1:]
	}
}

func validMacroName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-', r == ' ':
		default:
			return false
		}
	}
	return true
}

// resolve expands the macros left in variable values once every variable of
// the job is known (a value may name a variable defined after it, or a
// workspace directory known only when the job starts).
func (v *vars) resolve() {
	for round := 0; round < 5; round++ {
		changed := false
		for k, x := range v.m {
			if x.Output || !strings.Contains(x.Value, "$(") {
				continue
			}
			if nv := expandMacros(x.Value, v.lookup); nv != x.Value {
				x.Value = nv
				v.m[k] = x
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

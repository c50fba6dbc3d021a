package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"conveyor.dev/conveyor/internal/observe"
)

// panel is what the test reads of a Grafana panel.
type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// metricName matches the metric and recording-rule names of Conveyor in a
// PromQL expression.
var metricName = regexp.MustCompile(`\bconveyor[_:][a-zA-Z0-9_:]*`)

// recorded lists the names recorded by deploy/prometheus's rules.
func recorded(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("prometheus/conveyor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

// known reports whether name is a series Conveyor exposes: a metric of
// the registry, a histogram's _bucket/_sum/_count, or a recording rule.
func known(name string, metrics, rules []string) bool {
	if slices.Contains(metrics, name) || slices.Contains(rules, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(metrics, base) {
			return true
		}
	}
	return false
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// grafanaVars are replaced by values PromQL parses, to check the syntax.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m", "$environment", ".*", "$pipeline", ".*")

func TestDashboards(t *testing.T) {
	m := observe.NewMetrics()
	if err := m.Register(observe.NewDORACollector(nil)); err != nil {
		t.Fatal(err)
	}
	metrics, rules := m.Names(), recorded(t)
	files, err := filepath.Glob("grafana/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("dashboards %v, want pipelines, DORA and deployments", files)
	}
	var exprs []string
	used := map[string]bool{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", file)
		}
		check := func(where, expr string) {
			for _, name := range metricName.FindAllString(expr, -1) {
				used[name] = true
				if !known(name, metrics, rules) {
					t.Errorf("%s: %s: %s is neither a metric of Conveyor's registry nor a recording rule", file, where, name)
				}
			}
			exprs = append(exprs, grafanaVars.Replace(expr))
		}
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
			if q, ok := v.Query.(map[string]any); ok {
				// label_values(SELECTOR, LABEL) is Grafana's: PromQL sees the selector.
				check("variable "+v.Name, labelValues.ReplaceAllString(fmt.Sprint(q["query"]), "$1"))
			}
		}
		ids := map[int]bool{}
		var walk func(ps []panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if ids[p.ID] {
					t.Errorf("%s: %s: duplicate id", file, where)
				}
				ids[p.ID] = true
				if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("%s: %s: gridPos %+v is outside the 24 columns", file, where, p.GridPos)
				}
				if p.Type != "row" {
					if len(p.Targets) == 0 {
						t.Errorf("%s: %s: no query", file, where)
					}
					if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
						t.Errorf("%s: %s: datasource is not the ${datasource} variable", file, where)
					}
				}
				for _, tg := range p.Targets {
					if !metricName.MatchString(tg.Expr) {
						t.Errorf("%s: %s: query %q reads no Conveyor metric", file, where, tg.Expr)
					}
					for _, ref := range regexp.MustCompile(`\$([a-z]+)`).FindAllStringSubmatch(tg.Expr, -1) {
						if !vars[ref[1]] {
							t.Errorf("%s: %s: $%s is not a variable of the dashboard", file, where, ref[1])
						}
					}
					check(where, tg.Expr)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	// Every DORA metric is shown somewhere.
	for _, name := range metrics {
		if strings.HasPrefix(name, "conveyor_dora_") && name != "conveyor_dora_up" && name != "conveyor_dora_window_seconds" {
			if !used[name] && !used[name+"_bucket"] && !slices.ContainsFunc(rules, func(r string) bool { return used[r] && strings.Contains(ruleExpr(t, r), name) }) {
				t.Errorf("no dashboard shows %s", name)
			}
		}
	}

	// PromQL syntax: promtool checks every query as a recording rule.
	var b strings.Builder
	b.WriteString("groups:\n- name: dashboards\n  rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&b, "  - record: dashboard:query:%d\n    expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboards.rules.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, ".", "check", "rules", file)
}

// ruleExpr returns the expression of a recording rule.
func ruleExpr(t *testing.T, record string) string {
	t.Helper()
	b, err := os.ReadFile("prometheus/conveyor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record == record {
				return r.Expr
			}
		}
	}
	return ""
}

// The rules, too, read only metrics Conveyor exposes.
func TestRulesReadConveyorMetrics(t *testing.T) {
	m := observe.NewMetrics()
	if err := m.Register(observe.NewDORACollector(nil)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("prometheus/conveyor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	metrics, rules := m.Names(), recorded(t)
	for _, name := range metricName.FindAllString(string(b), -1) {
		if !known(name, metrics, rules) {
			t.Errorf("conveyor.rules.yml reads %s, which Conveyor does not expose", name)
		}
	}
}

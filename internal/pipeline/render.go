package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"conveyor.dev/conveyor/internal/plan"
)

// WriteText writes a plan as an indented tree of stages, jobs, hooks and
// steps, for people to read.
func WriteText(w io.Writer, p *plan.Plan) error {
	b := bufio.NewWriter(w)
	if p.Name != "" {
		fmt.Fprintf(b, "name: %s\n", p.Name)
	}
	for _, v := range p.Variables {
		writeVar(b, "", v)
	}
	for _, st := range p.Stages {
		fmt.Fprintf(b, "stage %s%s%s%s\n", st.Name, display(st.DisplayName, st.Name), deps(st.DependsOn), cond(st.Condition))
		for _, v := range st.Variables {
			writeVar(b, "  ", v)
		}
		for _, j := range st.Jobs {
			kind := "job"
			if j.Kind == plan.KindDeployment {
				kind = "deployment"
			}
			extra := ""
			if j.Environment != nil {
				extra = " environment=" + j.Environment.Name
				if j.Environment.ResourceName != "" {
					extra += "." + j.Environment.ResourceName
				}
				extra += " strategy=" + j.Strategy
			}
			if j.Pool != nil && j.Pool.Server {
				extra += " (agentless)"
			}
			if m := j.RuntimeMatrix; m != nil {
				extra += " matrix=$[ " + m.Expr + " ]"
				if m.MaxParallel > 0 {
					extra += fmt.Sprintf(" maxParallel=%d", m.MaxParallel)
				}
			}
			fmt.Fprintf(b, "  %s %s%s%s%s%s\n", kind, j.Name, display(j.DisplayName, j.Name), deps(j.DependsOn), cond(j.Condition), extra)
			for _, v := range j.Variables {
				writeVar(b, "    ", v)
			}
			writeSteps(b, "    ", j.Steps)
			for _, h := range j.Hooks {
				inc := ""
				if h.Increment > 0 {
					inc = fmt.Sprintf(" %d%%", h.Increment)
				}
				fmt.Fprintf(b, "    %s%s\n", h.Name, inc)
				writeSteps(b, "      ", h.Steps)
			}
		}
	}
	for _, wn := range p.Warnings {
		fmt.Fprintf(b, "warning: %s:%d:%d: %s\n", wn.Pos.File, wn.Pos.Line, wn.Pos.Col, wn.Msg)
	}
	return b.Flush()
}

func writeVar(b *bufio.Writer, indent string, v plan.Variable) {
	if v.Group != "" {
		fmt.Fprintf(b, "%svariable group %s\n", indent, v.Group)
		return
	}
	ro := ""
	if v.Readonly {
		ro = " (readonly)"
	}
	fmt.Fprintf(b, "%svariable %s=%s%s\n", indent, v.Name, v.Value, ro)
}

func writeSteps(b *bufio.Writer, indent string, steps []plan.Step) {
	for _, s := range steps {
		what := s.Task
		if s.Kind == plan.StepCheckout {
			what = "checkout " + s.Checkout.Repository
		}
		dis := ""
		if !s.Enabled {
			dis = " (disabled)"
		}
		fmt.Fprintf(b, "%s- %s: %s%s%s\n", indent, s.DisplayName, what, cond(s.Condition), dis)
		if sc, ok := s.Inputs["script"]; ok {
			for _, l := range strings.Split(strings.TrimRight(sc, "\n"), "\n") {
				fmt.Fprintf(b, "%s    | %s\n", indent, l)
			}
		}
	}
}

func display(d, name string) string {
	if d == "" || d == name {
		return ""
	}
	return fmt.Sprintf(" %q", d)
}

func deps(d []string) string {
	if len(d) == 0 {
		return ""
	}
	return " dependsOn=[" + strings.Join(d, ",") + "]"
}

func cond(c string) string {
	if c == "" {
		return ""
	}
	return " if " + c
}

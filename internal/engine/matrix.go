package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// runMatrix runs a job whose matrix is a runtime expression ("Jobs",
// strategy.matrix: $[ dependencies.generator.outputs['mtrx.legs'] ]): the
// expression gives a JSON object of leg names to variables; each leg runs
// as <job>_<leg> like a leg of a matrix written in YAML, and the job's
// result and outputs (<leg>.step.var) are its legs' together. An empty
// object runs the job once, as an empty matrix does.
func (rs *runState) runMatrix(st plan.Stage, j plan.Job, results map[string]store.Result, infos map[string]jobInfo, anc []string, scope *Scope) jobInfo {
	id := st.Name + "." + j.Name
	legs, err := rs.matrixLegs(j, scope)
	if err != nil {
		now := rs.e.clock.Now()
		rec := rs.record(id)
		rec.State, rec.Result, rec.StartedAt, rec.FinishedAt = store.StateCompleted, store.ResultFailed, now, now
		rec.Issues = append(rec.Issues, store.Issue{Type: store.IssueError, Message: rs.mask(err.Error())})
		rec.ErrorCount++
		rs.putRecord(rec)
		return jobInfo{Result: store.ResultFailed}
	}
	if len(legs) == 0 {
		one := j
		one.RuntimeMatrix = nil
		return rs.runJob(st, one, results, infos, anc)
	}
	// The job's record stands for the legs together; each leg gets a job
	// record of its own next to it, as the legs of a YAML matrix have.
	parent := rs.record(id)
	parent.State = store.StateRunning
	parent.StartedAt = rs.e.clock.Now()
	rs.putRecord(parent)
	for _, l := range legs {
		lid := st.Name + "." + l.Name
		if _, ok := rs.prior[lid]; !ok {
			rs.putRecord(store.Record{ID: lid, ParentID: st.Name, Type: store.RecordJob, Name: l.Name, DisplayName: l.DisplayName, Order: parent.Order, State: store.StateQueued})
		}
	}
	out := make([]jobInfo, len(legs))
	var wg sync.WaitGroup
	for i, l := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = rs.runJob(st, l, results, infos, anc)
		}()
	}
	wg.Wait()
	agg := jobInfo{Outputs: map[string]string{}}
	var rr []store.Result
	for i, info := range out {
		rr = append(rr, info.Result)
		for k, v := range info.Outputs {
			agg.Outputs[legs[i].Expansion.Leg+"."+k] = v
		}
	}
	agg.Result = combine(rr)
	parent = rs.record(id)
	parent.State, parent.Result, parent.FinishedAt = store.StateCompleted, agg.Result, rs.e.clock.Now()
	// Kept like a job's outputs, so that a resumed run still has them.
	parent.Outputs, parent.SecretOutputs = map[string]string{}, nil
	for _, l := range legs {
		lrec := rs.record(st.Name + "." + l.Name)
		for k, v := range lrec.Outputs {
			parent.Outputs[l.Expansion.Leg+"."+k] = v
		}
		for _, k := range lrec.SecretOutputs {
			parent.SecretOutputs = append(parent.SecretOutputs, l.Expansion.Leg+"."+k)
		}
	}
	rs.putRecord(parent)
	return agg
}

var legNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// matrixLegs evaluates a runtime matrix and returns its legs as jobs.
func (rs *runState) matrixLegs(j plan.Job, scope *Scope) ([]plan.Job, error) {
	m := j.RuntimeMatrix
	if rs.e.eval == nil {
		return nil, fmt.Errorf("strategy.matrix $[ %s ]: this engine evaluates no runtime expressions", m.Expr)
	}
	sc := *scope
	sc.Counter = rs.counter
	text, err := rs.e.eval.Value(m.Expr, &sc)
	if err != nil {
		return nil, fmt.Errorf("strategy.matrix: %w", err)
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("strategy.matrix $[ %s ] is empty: it must give a JSON object of leg names to variables, like {'a': {'myvar': 'A'}}", m.Expr)
	}
	obj, err := parseMatrixJSON(text)
	if err != nil {
		return nil, fmt.Errorf("strategy.matrix $[ %s ]: %w", m.Expr, err)
	}
	base := orName(j.DisplayName, j.Name)
	legs := make([]plan.Job, 0, obj.Len())
	for i, leg := range obj.Keys() {
		if !legNameRE.MatchString(leg) {
			return nil, fmt.Errorf("strategy.matrix $[ %s ]: leg name %q is not valid: use only letters, digits and '_', starting with a letter or '_'", m.Expr, leg)
		}
		vars, ok := obj.Values()[i].(*expr.Object)
		if !ok && obj.Values()[i] != nil {
			return nil, fmt.Errorf("strategy.matrix $[ %s ]: leg %s must be an object of variables", m.Expr, leg)
		}
		l := j
		l.RuntimeMatrix = nil
		l.Name = j.Name + "_" + leg
		l.DisplayName = base + " " + leg
		l.Variables = append([]plan.Variable(nil), j.Variables...)
		for k, name := range vars.Keys() {
			v := vars.Values()[k]
			switch v.(type) {
			case []any, *expr.Object:
				return nil, fmt.Errorf("strategy.matrix $[ %s ]: leg %s: variable %s must be a string, not an array or object", m.Expr, leg, name)
			}
			l.Variables = append(l.Variables, plan.Variable{Name: name, Value: expr.ToString(v)})
		}
		l.Expansion = &plan.Expansion{Job: j.Name, Leg: leg, Position: i + 1, Total: obj.Len(), MaxParallel: m.MaxParallel}
		legs = append(legs, l)
	}
	return legs, nil
}

// parseMatrixJSON reads a matrix object. As Azure's JSON reader does, it
// also accepts strings in single quotes; keys keep their order.
func parseMatrixJSON(text string) (*expr.Object, error) {
	dec := json.NewDecoder(bytes.NewReader(singleToDoubleQuotes(text)))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, fmt.Errorf("not a JSON object of leg names to variables: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a JSON object of leg names to variables: text after the object")
	}
	o, ok := v.(*expr.Object)
	if !ok {
		return nil, fmt.Errorf("not a JSON object of leg names to variables")
	}
	return o, nil
}

// readJSON reads one JSON value, objects as *expr.Object in their order.
func readJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := expr.NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			_, err := dec.Token() // }
			return o, err
		case '[':
			var a []any
			for dec.More() {
				v, err := readJSON(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token() // ]
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return t.String(), nil
	}
	return tok, nil
}

// singleToDoubleQuotes rewrites 'single-quoted' JSON strings as
// "double-quoted" ones, leaving double-quoted strings as they are.
func singleToDoubleQuotes(s string) []byte {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(s[i:min(j+1, len(s))])
			i = j
		case '\'':
			var lit strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '\''; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				lit.WriteByte(s[j])
			}
			q, _ := json.Marshal(lit.String())
			b.Write(q)
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/plan"
)

// ServicesCapability is offered by the server's built-in agents, which run
// tasks with the server's conveyor.yaml services: the embedded or named
// registries, vaults and clusters. Remote agents (conveyor agent) do not
// have them yet, so the server never lets them claim it.
const ServicesCapability = "conveyor.services"

// servicesTasks are the tasks that need those services (lower case).
var servicesTasks = map[string]bool{
	"docker@2": true, "azurekeyvault@2": true, "kubernetesmanifest@1": true, "kubernetes@1": true,
	"helmdeploy@0": true, "helmdeploy@1": true, "promoteimage@1": true, "containerscan@1": true,
}

// servicesNeeded returns the tasks of a job that need the server's
// services, in order, once each.
func servicesNeeded(j plan.Job) []string {
	var out []string
	add := func(steps []plan.Step) {
		for _, s := range steps {
			if servicesTasks[strings.ToLower(s.Task)] && !slices.Contains(out, s.Task) {
				out = append(out, s.Task)
			}
		}
	}
	add(j.Steps)
	for _, h := range j.Hooks {
		add(h.Steps)
	}
	return out
}

// routeToServices makes every job of p whose tasks need the server's
// services demand ServicesCapability when one of the built-in agents
// (their capabilities in builtin) meets its pool demands: such a job then
// runs there, never on a remote agent that could not run it. A job whose
// demands only remote agents meet is left as it is: leaseFor refuses it
// with a clear error.
func routeToServices(p *plan.Plan, builtin []map[string]string) {
	for si := range p.Stages {
		st := &p.Stages[si]
		for ji := range st.Jobs {
			j := &st.Jobs[ji]
			if (j.Pool != nil && j.Pool.Server) || len(servicesNeeded(*j)) == 0 {
				continue
			}
			pool := j.Pool
			if pool == nil {
				pool = st.Pool
			}
			var demands []string
			if pool != nil {
				demands = pool.Demands
			}
			met := false
			for _, caps := range builtin {
				if agent.Satisfies(caps, demands) {
					met = true
				}
			}
			if !met {
				continue
			}
			np := plan.Pool{}
			if pool != nil {
				np = *pool
			}
			np.Demands = append(slices.Clone(demands), ServicesCapability)
			j.Pool = &np
		}
	}
}

// withoutServicesCapability drops ServicesCapability from a remote
// agent's capabilities: it cannot have the server's services.
func withoutServicesCapability(caps map[string]string) map[string]string {
	out := make(map[string]string, len(caps))
	for k, v := range caps {
		if !strings.EqualFold(k, ServicesCapability) {
			out[k] = v
		}
	}
	return out
}

// remoteRefusal returns why a remote agent cannot run the job jobID of
// run runID ("" when it can): the tasks it uses that need the server's
// services.
func (s *Server) remoteRefusal(ctx context.Context, runID, jobID string) (string, error) {
	r, err := s.st.GetRun(ctx, runID)
	if err != nil || len(r.Plan) == 0 {
		return "", err
	}
	var p plan.Plan
	if err := json.Unmarshal(r.Plan, &p); err != nil {
		return "", fmt.Errorf("plan of run %s: %w", runID, err)
	}
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			if st.Name+"."+j.Name != jobID {
				continue
			}
			if tasks := servicesNeeded(j); len(tasks) > 0 {
				return fmt.Sprintf("job %s uses %s, which needs the server's conveyor.yaml services (registries, vaults, clusters); "+
					"remote agents (conveyor agent) do not have them yet: let the job run on the server's built-in agent "+
					"(pool demands that the built-in agents meet; they offer %s)", jobID, strings.Join(tasks, ", "), ServicesCapability), nil
			}
		}
	}
	return "", nil
}

package task

import (
	"context"
	"fmt"
	"strings"
)

// ManualValidationTask is the canonical name of the ManualValidation task
// of the current major version; ManualValidation@0 is accepted too.
const ManualValidationTask = "ManualValidation@1"

// ManualValidation is the parsed inputs of ManualValidation@0/1: pause an
// agentless job until people approve or reject it.
type ManualValidation struct {
	// NotifyUsers are told that the job waits (users or groups).
	NotifyUsers []string
	// Approvers may decide; empty means any user.
	Approvers []string
	// AllowApproversToApproveTheirOwnRuns is true by default.
	AllowApproversToApproveTheirOwnRuns bool
	Instructions                        string
	// OnTimeout is reject (default) or resume.
	OnTimeout string
}

// IsManualValidation reports whether name (Name@Major, any case) is
// ManualValidation@0 or @1.
func IsManualValidation(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	return n == "manualvalidation@0" || n == "manualvalidation@1"
}

// Agentless reports whether the task runs on the server without an agent
// or a workspace (pool: server).
func Agentless(name string) bool { return IsManualValidation(name) }

// ParseManualValidation reads the task's inputs (macros already expanded);
// lists are separated by commas, semicolons or new lines. notifyUsers is
// required, as in Azure, but may be empty, to notify no one.
func ParseManualValidation(inputs map[string]string) (ManualValidation, error) {
	env := &Env{Task: ManualValidationTask, Inputs: inputs}
	present := false
	for k := range inputs {
		present = present || strings.EqualFold(k, "notifyUsers")
	}
	if !present {
		return ManualValidation{}, fmt.Errorf("%s: input notifyUsers is required: list the users or groups to tell, or write notifyUsers: '' to tell no one", ManualValidationTask)
	}
	mv := ManualValidation{
		NotifyUsers:  splitList(env.Input("notifyUsers", "")),
		Approvers:    splitList(env.Input("approvers", "")),
		Instructions: env.Input("instructions", ""),
		OnTimeout:    strings.ToLower(strings.TrimSpace(env.Input("onTimeout", "reject"))),
	}
	allow, err := env.BoolInput("allowApproversToApproveTheirOwnRuns", true)
	if err != nil {
		return ManualValidation{}, fmt.Errorf("%s: %w", ManualValidationTask, err)
	}
	mv.AllowApproversToApproveTheirOwnRuns = allow
	if mv.OnTimeout != "reject" && mv.OnTimeout != "resume" {
		return ManualValidation{}, fmt.Errorf("%s: input onTimeout %q: use reject or resume", ManualValidationTask, env.Input("onTimeout", ""))
	}
	return mv, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runManualValidation is what an executor runs when ManualValidation is
// put in a job with an agent: it cannot wait there.
func runManualValidation(_ context.Context, env *Env) (Result, error) {
	return Result{Status: Failed, Message: env.Task + " runs only in an agentless job: put it in a job with pool: server"}, nil
}

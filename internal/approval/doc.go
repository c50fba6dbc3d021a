// Package approval holds the checks of environments and the approval
// policy: who may approve (users, or groups of conveyor.yaml users), how
// many must, whether the requester may, what happens on timeout; branch
// control; exclusive locks; what an approval releases (image digests and
// the rendered manifests' hash); and the append-only audit of every
// decision.
//
// The policy is pure functions (policy.go, branch.go, release.go); Service
// (service.go) applies it to approvals kept in the store and tells waiting
// runs of every change. A check never sleeps: it answers passed, failed or
// pending with when to ask again.
//
// It must not import the engine, the executors, the tasks, the server or
// the CLI.
package approval

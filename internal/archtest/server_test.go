package archtest

// The server half of the flow, kept apart from the forbidden table so that
// branches adding packages do not realign the same lines.
func init() {
	forbidden["internal/agent"] = []string{"internal/engine", "internal/server", "internal/store", "internal/trigger"}
	forbidden["internal/server/client"] = []string{"internal/"}
	forbidden["internal/server/dispatch"] = []string{"internal/engine", "internal/trigger"}
}

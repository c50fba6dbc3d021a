package archtest

// internal/observe reads the store and the Kubernetes API; the engine
// reaches it only as an observer, through the server.
func init() {
	forbidden["internal/observe"] = []string{"internal/engine", "internal/executor", "internal/task", "internal/server", "internal/agent", "internal/trigger"}
}

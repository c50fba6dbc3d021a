// Package executor defines the contract between the engine and the backends
// that run one job's steps (local processes, a Kubernetes pod): the Job a
// backend returns and the values passed across. It holds no global state and
// no backend; those live in sub-packages (executor/local).
//
// It must not import the engine, the store or the server.
package executor

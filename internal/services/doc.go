// Package services assembles what a runner (`conveyor run`, the server, an
// agent) hands to tasks from a conveyor.yaml: it serves the embedded
// registries on loopback, fills in their live URLs and the local cluster's
// kubeconfig, and opens vaults by name.
//
// It sits at the top of the flow next to the CLI and the server: it must not
// import the engine, the server or the agent.
package services

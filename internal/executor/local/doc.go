// Package local is the executor backend that runs a job's steps as
// processes on this machine, in a workspace per job under the data folder
// (<data>/work/<n>/{s,a,b,TestResults}, like Azure's agent).
//
// It must not import the engine, the store or the server.
package local

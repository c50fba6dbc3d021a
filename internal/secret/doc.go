// Package secret holds vault providers and the log masker that keeps
// secret values out of every log line.
//
// It must not import the engine or anything above it in the flow.
package secret

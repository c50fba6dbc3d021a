// Package archtest holds architecture tests over the whole module: every
// package under internal/ has a doc comment, internal/plan imports only the
// standard library, and packages do not reach "up" the flow.
//
// It has no code of its own and must not be imported.
package archtest

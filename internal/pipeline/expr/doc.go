// Package expr implements the Azure Pipelines expression language: the
// compile-time ${{ }} and runtime $[ ] expressions, conditions, macros
// $(var), their functions and type-casting rules.
//
// It imports only the standard library.
package expr

// Package expr implements the Azure Pipelines expression language: the
// compile-time ${{ }} and runtime $[ ] expressions, conditions, macros
// $(var), their functions and type-casting rules, following Azure
// Pipelines' "Expressions", "Conditions" and "Define variables" pages.
//
// It imports only the standard library.
//
// # Using it
//
// Parse an expression's text once, then evaluate it against a Context:
//
//	e, err := expr.Parse("and(succeeded(), eq(variables['Build.Reason'], 'PullRequest'))")
//	ok, err := e.EvalBool(&expr.Context{Named: names, Funcs: expr.StatusFuncs(st), Mode: expr.Condition})
//
// Context.Named holds the top-level names (variables, parameters,
// dependencies, stageDependencies, pipeline, loop variables...), looked up
// ignoring case; a name not there is an error naming it, while a missing key
// inside an object (variables['noSuch']) is null. Context.Mode says where the
// expression appears and so which functions it may call: the status
// functions (always, canceled, failed, succeeded, succeededOrFailed) only
// in conditions, counter only in runtime expressions. Those need run state,
// so the caller supplies them in Context.Funcs (StatusFuncs builds the
// status functions from a Status); (*Expr).Validate checks function names,
// modes and argument counts without evaluating, for linting.
//
// Strings that embed expressions go through ExpandTemplate (${{ }}),
// RuntimeExpression (a whole $[ ]) and ExpandMacros ($(name)).
//
// # Values
//
// Values are nil (null), bool, float64, string, Version, time.Time
// (pipeline.startTime), []any and *Object, an ordered map whose keys are
// looked up ignoring case and whose JSON keeps insertion order. Other Go
// values given to the package are read through Normalize.
//
// # Type casting
//
// Conversions follow the documented table: ToBool, ToString and ToNumber
// convert as Azure does; eq, ne, in, notIn and containsValue convert the
// right operand to the left's type and are false (ne: true) when that
// fails; gt, ge, lt and le do the same but fail with an error; strings
// compare ordinally ignoring case; a version on the left compares versions.
// Numbers print like .NET's G15 format (1.5, 1E+15); booleans print as True
// and False.
//
// # Where this differs from Azure Pipelines
//
// Number literals may have an exponent (1e3), which Azure rejects. null is a
// literal. Syntax errors for unknown functions and names are reported when
// the expression is evaluated or validated rather than parsed, since the
// caller may supply functions. Date-times print as RFC 3339 when converted to
// strings. Arrays and objects cannot be embedded in a longer string by
// ExpandTemplate (an error suggesting convertToJson).
package expr

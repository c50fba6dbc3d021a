//go:build tools

// Package tools pins the cosign CLI that build.sh builds for interoperability tests.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"

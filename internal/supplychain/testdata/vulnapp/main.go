// Command vulnapp is a fixture: it links golang.org/x/text/language at
// v0.3.7, which GHSA-69ch-w2m2-3vjp (CVE-2022-32149) affects.
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	tags, _, _ := language.ParseAcceptLanguage("en-GB,en;q=0.8")
	fmt.Println(tags)
}

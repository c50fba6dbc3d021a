package agent

import (
	"fmt"
	"strings"
)

// Satisfies reports whether capabilities meet every demand of a pool, as
// Azure Pipelines reads them: "name" asks that the capability exists,
// "name -equals value" that it has that value. Names compare
// case-insensitively, values exactly.
func Satisfies(capabilities map[string]string, demands []string) bool {
	return Unmet(capabilities, demands) == ""
}

// Unmet returns the first demand capabilities do not meet, or "".
func Unmet(capabilities map[string]string, demands []string) string {
	lower := make(map[string]string, len(capabilities))
	for k, v := range capabilities {
		lower[strings.ToLower(k)] = v
	}
	for _, d := range demands {
		name, value, equals := parseDemand(d)
		got, ok := lower[strings.ToLower(name)]
		if !ok || (equals && got != value) {
			return d
		}
	}
	return ""
}

// parseDemand splits "name -equals value" (the operator in any case).
func parseDemand(d string) (name, value string, equals bool) {
	d = strings.TrimSpace(d)
	fields := strings.Fields(d)
	for i, f := range fields {
		if strings.EqualFold(f, "-equals") && i > 0 {
			return strings.Join(fields[:i], " "), strings.Join(fields[i+1:], " "), true
		}
	}
	return d, "", false
}

// ValidateDemand returns an error for a demand Satisfies cannot read.
func ValidateDemand(d string) error {
	name, _, _ := parseDemand(d)
	if name == "" {
		return fmt.Errorf("demand %q: want \"name\" or \"name -equals value\"", d)
	}
	return nil
}

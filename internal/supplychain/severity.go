package supplychain

import (
	"fmt"
	"math"
	"strings"
)

// Severity is a vulnerability's rating.
type Severity int

// Severities, ordered.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"unknown", "low", "medium", "high", "critical"}

// String is the lower-case name.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads low, medium (or moderate), high or critical, any case.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low", "negligible", "unimportant":
		return SeverityLow, nil
	case "medium", "moderate":
		return SeverityMedium, nil
	case "high", "important":
		return SeverityHigh, nil
	case "critical":
		return SeverityCritical, nil
	}
	return SeverityUnknown, fmt.Errorf("severity %q: use low, medium, high or critical", s)
}

// ratingOf maps a CVSS base score to a rating (CVSS v3 bands).
func ratingOf(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityUnknown
}

// cvssScore computes the base score of a CVSS v3.x or v2 vector; ok is
// false for vectors it cannot score (CVSS v4 among them).
func cvssScore(vector string) (score float64, ok bool) {
	m := map[string]string{}
	parts := strings.Split(vector, "/")
	v3 := strings.HasPrefix(vector, "CVSS:3.")
	if v3 {
		parts = parts[1:]
	} else if strings.HasPrefix(vector, "CVSS:") {
		return 0, false
	}
	for _, p := range parts {
		k, v, found := strings.Cut(p, ":")
		if !found {
			return 0, false
		}
		m[k] = v
	}
	if v3 {
		return cvss3(m)
	}
	return cvss2(m)
}

func cvss3(m map[string]string) (float64, bool) {
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[m["AV"]]
	ac := map[string]float64{"L": 0.77, "H": 0.44}[m["AC"]]
	ui := map[string]float64{"N": 0.85, "R": 0.62}[m["UI"]]
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	c, cok := cia[m["C"]]
	i, iok := cia[m["I"]]
	a, aok := cia[m["A"]]
	changed := m["S"] == "C"
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}[m["PR"]]
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}[m["PR"]]
	}
	if av == 0 || ac == 0 || ui == 0 || pr == 0 || !cok || !iok || !aok || (m["S"] != "U" && m["S"] != "C") {
		return 0, false
	}
	iss := 1 - (1-c)*(1-i)*(1-a)
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	if impact <= 0 {
		return 0, true
	}
	expl := 8.22 * av * ac * pr * ui
	if changed {
		return roundUp(math.Min(1.08*(impact+expl), 10)), true
	}
	return roundUp(math.Min(impact+expl, 10)), true
}

// roundUp is CVSS v3.1's Roundup: the smallest one-decimal number >= x.
func roundUp(x float64) float64 {
	n := int64(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return float64(n/10000+1) / 10
}

func cvss2(m map[string]string) (float64, bool) {
	av := map[string]float64{"L": 0.395, "A": 0.646, "N": 1}[m["AV"]]
	ac := map[string]float64{"H": 0.35, "M": 0.61, "L": 0.71}[m["AC"]]
	au := map[string]float64{"M": 0.45, "S": 0.56, "N": 0.704}[m["Au"]]
	cia := map[string]float64{"N": 0, "P": 0.275, "C": 0.660}
	c, cok := cia[m["C"]]
	i, iok := cia[m["I"]]
	a, aok := cia[m["A"]]
	if av == 0 || ac == 0 || au == 0 || !cok || !iok || !aok {
		return 0, false
	}
	impact := 10.41 * (1 - (1-c)*(1-i)*(1-a))
	expl := 20 * av * ac * au
	f := 1.176
	if impact == 0 {
		f = 0
	}
	return math.Round(((0.6*impact)+(0.4*expl)-1.5)*f*10) / 10, true
}

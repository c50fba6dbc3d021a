package supplychain

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Allowance accepts a vulnerability (by OSV ID or alias, such as a CVE)
// until a date: from then on it counts again.
type Allowance struct {
	ID     string
	Until  time.Time
	Reason string
}

// Policy is the gate a scan is judged by.
type Policy struct {
	// Threshold: findings at or above it fail the scan (default high).
	// Findings of unknown severity count as medium.
	Threshold Severity
	// Allow lists accepted vulnerabilities.
	Allow []Allowance
	// Now is the clock deciding whether an allowance has expired.
	Now func() time.Time
}

// Finding is one vulnerability in one package.
type Finding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Summary  string   `json:"summary,omitempty"`
	Severity string   `json:"severity"`
	Score    float64  `json:"cvssScore,omitempty"`
	Package  Package  `json:"package"`
	FixedIn  string   `json:"fixedIn,omitempty"`
	// Blocking is true when the finding fails the gate.
	Blocking bool `json:"blocking"`
	// Allowed names the allowance that accepted it ("until 2027-01-31: reason").
	Allowed string `json:"allowed,omitempty"`
	// Expired names an allowance that no longer applies.
	Expired string `json:"expiredAllowance,omitempty"`

	severity Severity
}

// ScanResult is the outcome of Scan.
type ScanResult struct {
	Passed    bool           `json:"passed"`
	Threshold string         `json:"threshold"`
	Packages  int            `json:"packages"`
	Counts    map[string]int `json:"counts"`
	Findings  []Finding      `json:"findings"`
	DB        string         `json:"db"`
	DBCount   int            `json:"dbAdvisories"`
	ScannedAt time.Time      `json:"scannedAt"`
}

// Blocking returns the findings that fail the gate.
func (r *ScanResult) Blocking() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Blocking {
			out = append(out, f)
		}
	}
	return out
}

// Scan matches pkgs against db and judges the findings by policy. It is
// pure: the same inputs and clock give the same result.
func Scan(pkgs []Package, db *DB, policy Policy) *ScanResult {
	if policy.Threshold == SeverityUnknown {
		policy.Threshold = SeverityHigh
	}
	now := time.Now()
	if policy.Now != nil {
		now = policy.Now()
	}
	res := &ScanResult{
		Passed: true, Threshold: policy.Threshold.String(), Packages: len(pkgs),
		Counts: map[string]int{}, Findings: []Finding{}, DB: db.Source, DBCount: db.Count, ScannedAt: now.UTC(),
	}
	for _, m := range db.Match(pkgs) {
		sev, score := severityOf(m.Advisory)
		f := Finding{
			ID: m.Advisory.ID, Aliases: m.Advisory.Aliases, Summary: m.Advisory.Summary,
			Severity: sev.String(), Score: score, Package: m.Package, FixedIn: m.Fixed, severity: sev,
		}
		gateSev := sev
		if gateSev == SeverityUnknown {
			gateSev = SeverityMedium
		}
		f.Blocking = gateSev >= policy.Threshold
		if a, ok := allowanceFor(policy.Allow, m.Advisory); ok {
			until := a.Until.UTC().Format("2006-01-02")
			if now.Before(a.Until) {
				f.Allowed = "until " + until + ": " + a.Reason
				f.Blocking = false
			} else {
				f.Expired = fmt.Sprintf("allowance for %s expired on %s", a.ID, until)
			}
		}
		if f.Blocking {
			res.Passed = false
		}
		res.Counts[f.Severity]++
		res.Findings = append(res.Findings, f)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		if res.Findings[i].severity != res.Findings[j].severity {
			return res.Findings[i].severity > res.Findings[j].severity
		}
		return false
	})
	return res
}

func allowanceFor(allow []Allowance, a *Advisory) (Allowance, bool) {
	for _, al := range allow {
		if strings.EqualFold(al.ID, a.ID) {
			return al, true
		}
		for _, alias := range a.Aliases {
			if strings.EqualFold(al.ID, alias) {
				return al, true
			}
		}
	}
	return Allowance{}, false
}

// WriteSummary writes the findings as a table and a verdict line, for a
// step's log.
func (r *ScanResult) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "scanned %d packages against %d advisories (%s)\n", r.Packages, r.DBCount, r.DB)
	if len(r.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tID\tPACKAGE\tVERSION\tFIXED IN\tSTATUS")
		for _, f := range r.Findings {
			status := "ok (below threshold)"
			switch {
			case f.Allowed != "":
				status = "allowed " + f.Allowed
			case f.Blocking && f.Expired != "":
				status = "BLOCKING (" + f.Expired + ")"
			case f.Blocking:
				status = "BLOCKING"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Package.Name, f.Package.Version, dash(f.FixedIn), status)
		}
		tw.Flush()
	}
	if r.Passed {
		fmt.Fprintf(w, "scan passed: no unallowed finding at or above %s\n", r.Threshold)
		return
	}
	fmt.Fprintf(w, "scan failed: %d finding(s) at or above %s: upgrade the packages, or allow the IDs with an expiry date in conveyor.yaml supplyChain.allow\n",
		len(r.Blocking()), r.Threshold)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package supplychain

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		eco, a, b string
		want      int
	}{
		{"Go", "0.3.7", "0.3.8", -1},
		{"Go", "v1.10.0", "v1.9.9", 1},
		{"Go", "1.0.0-rc.1", "1.0.0", -1},
		{"Go", "1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"Go", "1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"Go", "0.0.0-20220101000000-abcdef", "0.3.8", -1},
		{"npm", "4.17.20", "4.17.21", -1},
		{"Debian:12", "3.0.11-1~deb12u2", "3.0.11-1", -1},
		{"Debian:12", "1:1.0-1", "2.0-1", 1},
		{"Debian:12", "1.0~rc1-1", "1.0-1", -1},
		{"Debian:12", "2.36-9+deb12u4", "2.36-9+deb12u10", -1},
		{"Debian", "1.2.3a-1", "1.2.3-1", 1},
		{"Debian", "1.0-1", "1.0-1", 0},
		{"Alpine:v3.19", "1.2.4-r2", "1.2.4-r10", -1},
		{"Alpine:v3.19", "1.2.4_rc1-r0", "1.2.4-r0", -1},
		{"Alpine:v3.19", "1.2.4_p1-r0", "1.2.4-r0", 1},
		{"Alpine:v3.19", "3.1.4a-r0", "3.1.4-r0", 1},
		{"Alpine", "1.10-r0", "1.9-r5", 1},
		{"PyPI", "2.10", "2.10.1", -1},
		{"PyPI", "2.11.3", "2.10", 1},
		{"PyPI", "1.0rc1", "1.0", -1},
	} {
		t.Run(tc.eco+" "+tc.a+" vs "+tc.b, func(t *testing.T) {
			if got := compareVersions(tc.eco, tc.a, tc.b); got != tc.want {
				t.Errorf("compare = %d, want %d", got, tc.want)
			}
			if got := compareVersions(tc.eco, tc.b, tc.a); got != -tc.want {
				t.Errorf("reverse compare = %d, want %d", got, -tc.want)
			}
		})
	}
}

func TestCVSS(t *testing.T) {
	for _, tc := range []struct {
		vector string
		want   float64
		sev    Severity
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, SeverityHigh},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, SeverityMedium},
		{"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, SeverityLow},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, SeverityCritical},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, SeverityHigh},
		{"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3, SeverityMedium},
	} {
		t.Run(tc.vector, func(t *testing.T) {
			got, ok := cvssScore(tc.vector)
			if !ok || got != tc.want || ratingOf(got) != tc.sev {
				t.Errorf("score = %v (%v), %s; want %v, %s", got, ok, ratingOf(got), tc.want, tc.sev)
			}
		})
	}
	if _, ok := cvssScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"); ok {
		t.Error("a CVSS v4 vector was scored")
	}
}

func TestRangeEvents(t *testing.T) {
	events := []osvEvent{{Introduced: "1.0.0"}, {Fixed: "1.5.0"}, {Introduced: "2.0.0"}, {LastAffected: "2.3.0"}}
	for _, tc := range []struct {
		v     string
		want  bool
		fixed string
	}{
		{"0.9.0", false, ""}, {"1.0.0", true, "1.5.0"}, {"1.4.9", true, "1.5.0"}, {"1.5.0", false, ""},
		{"1.9.0", false, ""}, {"2.0.0", true, ""}, {"2.3.0", true, ""}, {"2.3.1", false, ""},
	} {
		fixed, got := inRange("Go", tc.v, events)
		if got != tc.want || fixed != tc.fixed {
			t.Errorf("inRange(%s) = %q, %v; want %q, %v", tc.v, fixed, got, tc.fixed, tc.want)
		}
	}
}

// TestScanGate is the gate on the fixture image: a Go binary linking
// golang.org/x/text v0.3.7 (GHSA-69ch-w2m2-3vjp, high) fails at high,
// passes with the ID (here its CVE alias) allowed until a future date, and
// fails again once that date has passed.
func TestScanGate(t *testing.T) {
	img := fixtureImage(t)
	pkgs, err := Catalog(img)
	if err != nil {
		t.Fatal(err)
	}
	db, err := LoadDB("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	allow := []Allowance{{ID: "CVE-2022-32149", Until: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), Reason: "not reachable: no Accept-Language parsing"}}
	for _, tc := range []struct {
		name      string
		threshold Severity
		allow     []Allowance
		now       string
		passed    bool
		status    string
	}{
		{"fails at high", SeverityHigh, nil, "2026-11-28T12:00:00Z", false, "BLOCKING"},
		{"passes at critical", SeverityCritical, nil, "2026-11-28T12:00:00Z", true, "ok (below threshold)"},
		{"passes while allowed", SeverityHigh, allow, "2026-11-28T12:00:00Z", true, "allowed until 2027-01-31: not reachable"},
		{"fails once the allowance expired", SeverityHigh, allow, "2027-02-01T00:00:00Z", false, "BLOCKING (allowance for CVE-2022-32149 expired on 2027-01-31)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Scan(pkgs, db, Policy{Threshold: tc.threshold, Allow: tc.allow, Now: fixedClock(t, tc.now)})
			if res.Passed != tc.passed {
				t.Errorf("Passed = %v, want %v", res.Passed, tc.passed)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings = %+v, want one", res.Findings)
			}
			f := res.Findings[0]
			if f.ID != "GHSA-69ch-w2m2-3vjp" || f.Severity != "high" || f.Score != 7.5 || f.FixedIn != "0.3.8" || f.Package.Name != "golang.org/x/text" {
				t.Errorf("finding = %+v", f)
			}
			var log bytes.Buffer
			res.WriteSummary(&log)
			if !strings.Contains(log.String(), tc.status) {
				t.Errorf("summary does not say %q:\n%s", tc.status, log.String())
			}
			if !tc.passed && !strings.Contains(log.String(), "scan failed: 1 finding(s) at or above high") {
				t.Errorf("summary has no verdict:\n%s", log.String())
			}
		})
	}

	t.Run("SARIF", func(t *testing.T) {
		res := Scan(pkgs, db, Policy{Threshold: SeverityHigh, Now: fixedClock(t, "2026-11-28T12:00:00Z")})
		b, err := json.Marshal(res.SARIF("test"))
		if err != nil {
			t.Fatal(err)
		}
		validate(t, compileSchema(t, sarifSchemaID), b)
		s, err := ReadSARIF(b)
		if err != nil {
			t.Fatal(err)
		}
		counts, failing := s.Summarize("error")
		if diff := cmp.Diff([]SARIFCount{{Tool: "conveyor-scan", Level: "error", Count: 1}}, counts); diff != "" || failing != 1 {
			t.Errorf("summary (-want +got):\n%s failing=%d", diff, failing)
		}
		r := s.Runs[0].Results[0]
		if r.RuleID != "GHSA-69ch-w2m2-3vjp" || r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "app/vulnapp" {
			t.Errorf("result = %+v", r)
		}
	})
}

func TestEcosystemRelease(t *testing.T) {
	adv := &Advisory{ID: "DSA-1", Affected: []osvAffected{{}}}
	adv.Affected[0].Package.Ecosystem = "Debian:11"
	adv.Affected[0].Package.Name = "openssl"
	adv.Affected[0].Ranges = []osvRange{{Type: "ECOSYSTEM", Events: []osvEvent{{Introduced: "0"}, {Fixed: "3.0.11-1~deb12u3"}}}}
	db := NewDB("mem", []*Advisory{adv})
	pkg := Package{Name: "libssl3", SourceName: "openssl", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12"}
	if m := db.Match([]Package{pkg}); len(m) != 0 {
		t.Errorf("a Debian 11 advisory matched a Debian 12 package: %+v", m)
	}
	adv.Affected[0].Package.Ecosystem = "Debian:12"
	db = NewDB("mem", []*Advisory{adv})
	if m := db.Match([]Package{pkg}); len(m) != 1 || m[0].Fixed != "3.0.11-1~deb12u3" {
		t.Errorf("Match by source package = %+v, want one fixed in 3.0.11-1~deb12u3", m)
	}
}

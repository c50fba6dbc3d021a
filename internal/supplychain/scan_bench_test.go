package supplychain

import (
	"fmt"
	"testing"
)

// BenchmarkScan matches 2,000 packages (Go modules and Debian packages)
// against 20,000 advisories, each package having ten advisories of its own.
func BenchmarkScan(b *testing.B) {
	var advs []*Advisory
	var pkgs []Package
	for i := range 2000 {
		eco, name, ver := "Go", fmt.Sprintf("example.com/mod%d", i), "v1.2.3"
		if i%2 == 1 {
			eco, name, ver = "Debian:12", fmt.Sprintf("pkg%d", i), "1.2.3-1~deb12u1"
		}
		pkgs = append(pkgs, Package{Name: name, Version: ver, Ecosystem: eco})
		for j := range 10 {
			a := &Advisory{ID: fmt.Sprintf("ADV-%d-%d", i, j), Affected: []osvAffected{{}}}
			a.Affected[0].Package.Ecosystem = eco
			a.Affected[0].Package.Name = name
			typ := "SEMVER"
			if eco != "Go" {
				typ = "ECOSYSTEM"
			}
			a.Affected[0].Ranges = []osvRange{{Type: typ, Events: []osvEvent{{Introduced: "0"}, {Fixed: fmt.Sprintf("1.%d.0", j)}}}}
			a.Severity = []osvSeverity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}}
			advs = append(advs, a)
		}
	}
	db := NewDB("bench", advs)
	b.ResetTimer()
	for range b.N {
		res := Scan(pkgs, db, Policy{Threshold: SeverityHigh})
		if len(res.Findings) == 0 {
			b.Fatal("no findings")
		}
	}
}

// BenchmarkCatalog lists the packages of the fixture image (a Go binary
// and dpkg, npm and Python databases), in memory.
func BenchmarkCatalog(b *testing.B) {
	img := fixtureImage(b)
	b.ResetTimer()
	for range b.N {
		if _, err := Catalog(img); err != nil {
			b.Fatal(err)
		}
	}
}

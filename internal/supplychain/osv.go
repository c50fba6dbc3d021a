package supplychain

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Advisory is the part of an OSV record (https://ossf.github.io/osv-schema/)
// the scanner uses.
type Advisory struct {
	ID               string          `json:"id"`
	Aliases          []string        `json:"aliases"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Withdrawn        string          `json:"withdrawn"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
	References       []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"references"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity          []osvSeverity   `json:"severity"`
	Ranges            []osvRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// DB is an OSV database held in memory, indexed by ecosystem and package.
type DB struct {
	// Source is where it was read from.
	Source string
	// Count is the number of advisories.
	Count int
	byPkg map[string][]*Advisory // ecosystemBase + "\x00" + name
}

func dbKey(eco, name string) string { return ecosystemBase(eco) + "\x00" + name }

// NewDB indexes advisories.
func NewDB(source string, advisories []*Advisory) *DB {
	db := &DB{Source: source, byPkg: map[string][]*Advisory{}}
	for _, a := range advisories {
		if a.Withdrawn != "" {
			continue
		}
		db.Count++
		seen := map[string]bool{}
		for _, af := range a.Affected {
			k := dbKey(af.Package.Ecosystem, af.Package.Name)
			if !seen[k] {
				seen[k] = true
				db.byPkg[k] = append(db.byPkg[k], a)
			}
		}
	}
	return db
}

// LoadDB reads an OSV database from a folder (every *.json and *.zip in it,
// recursively, as osv.dev's per-ecosystem all.zip files unpack or download)
// or from one zip file.
func LoadDB(path string) (*DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w: run `conveyor vulndb update` or set supplyChain.vulnDB in conveyor.yaml", path, err)
	}
	var advs []*Advisory
	if !st.IsDir() {
		if advs, err = readZip(path); err != nil {
			return nil, err
		}
		return NewDB(path, advs), nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			a, err := parseAdvisory(b, p)
			if err != nil {
				return err
			}
			advs = append(advs, a)
		case ".zip":
			as, err := readZip(p)
			if err != nil {
				return err
			}
			advs = append(advs, as...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	return NewDB(path, advs), nil
}

func readZip(path string) ([]*Advisory, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	defer zr.Close()
	var out []*Advisory
	for _, f := range zr.File {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %s: %w", path, f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %s: %w", path, f.Name, err)
		}
		a, err := parseAdvisory(b, path+"!"+f.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func parseAdvisory(b []byte, where string) (*Advisory, error) {
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("advisory %s: %w", where, err)
	}
	if a.ID == "" {
		return nil, fmt.Errorf("advisory %s: no id: not an OSV record", where)
	}
	return &a, nil
}

// Match is one advisory affecting one package.
type Match struct {
	Advisory *Advisory
	Package  Package
	Fixed    string // the first fixed version after the package's, if known
}

// Match returns the advisories affecting the packages, sorted by package
// and advisory ID. GIT ranges are ignored.
func (db *DB) Match(pkgs []Package) []Match {
	var out []Match
	for _, p := range pkgs {
		if p.Version == "" || p.Ecosystem == "" {
			continue
		}
		names := []string{p.Name}
		if p.SourceName != "" && p.SourceName != p.Name {
			names = append(names, p.SourceName)
		}
		seen := map[string]bool{}
		for _, n := range names {
			for _, a := range db.byPkg[dbKey(p.Ecosystem, n)] {
				if seen[a.ID] {
					continue
				}
				if fixed, ok := affects(a, p, n); ok {
					seen[a.ID] = true
					out = append(out, Match{Advisory: a, Package: p, Fixed: fixed})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Package.Name != out[j].Package.Name {
			return out[i].Package.Name < out[j].Package.Name
		}
		return out[i].Advisory.ID < out[j].Advisory.ID
	})
	return out
}

// ecosystemMatches reports whether an advisory's ecosystem ("Debian:12")
// applies to a package's ("Debian:12", or "Debian" when the release is
// unknown).
func ecosystemMatches(adv, pkg string) bool {
	if ecosystemBase(adv) != ecosystemBase(pkg) {
		return false
	}
	return adv == pkg || !strings.Contains(adv, ":") || !strings.Contains(pkg, ":")
}

// affects reports whether a affects p (under name n), and the fixed version.
func affects(a *Advisory, p Package, n string) (string, bool) {
	for _, af := range a.Affected {
		if af.Package.Name != n || !ecosystemMatches(af.Package.Ecosystem, p.Ecosystem) {
			continue
		}
		eco := af.Package.Ecosystem
		version := p.Version
		if ecosystemBase(eco) == "Go" {
			version = strings.TrimPrefix(version, "v")
		}
		for _, v := range af.Versions {
			if v == version {
				return "", true
			}
		}
		for _, r := range af.Ranges {
			if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
				continue
			}
			cmpEco := eco
			if r.Type == "SEMVER" {
				cmpEco = "Go" // SemVer rules
			}
			if fixed, ok := inRange(cmpEco, version, r.Events); ok {
				return fixed, true
			}
		}
	}
	return "", false
}

// inRange evaluates OSV range events for version v in version order.
func inRange(eco, v string, events []osvEvent) (string, bool) {
	type ev struct {
		kind, ver string
	}
	var evs []ev
	for _, e := range events {
		switch {
		case e.Introduced != "":
			evs = append(evs, ev{"introduced", e.Introduced})
		case e.Fixed != "":
			evs = append(evs, ev{"fixed", e.Fixed})
		case e.LastAffected != "":
			evs = append(evs, ev{"last_affected", e.LastAffected})
		case e.Limit != "":
			evs = append(evs, ev{"limit", e.Limit})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].ver == "0" || evs[j].ver == "0" {
			return evs[i].ver == "0" && evs[j].ver != "0"
		}
		return compareVersions(eco, evs[i].ver, evs[j].ver) < 0
	})
	affected, fixed := false, ""
	for _, e := range evs {
		c := 0
		if e.ver != "0" && e.ver != "*" {
			c = compareVersions(eco, v, e.ver)
		} else {
			c = 1
		}
		switch e.kind {
		case "introduced":
			if c >= 0 {
				affected = true
			}
		case "fixed", "limit":
			if c >= 0 {
				affected = false
			} else if affected && fixed == "" && e.kind == "fixed" {
				fixed = e.ver
			}
		case "last_affected":
			if c > 0 {
				affected = false
			}
		}
	}
	if !affected {
		return "", false
	}
	return fixed, true
}

// severityOf rates an advisory for an affected ecosystem: the database's
// own rating first (database_specific.severity, GHSA's and others'), then
// the highest CVSS v3/v2 score among its vectors. The score is 0 when no
// vector was scored.
func severityOf(a *Advisory) (Severity, float64) {
	best, score := SeverityUnknown, 0.0
	vecs := append([]osvSeverity{}, a.Severity...)
	dbs := []json.RawMessage{a.DatabaseSpecific}
	for _, af := range a.Affected {
		vecs = append(vecs, af.Severity...)
		dbs = append(dbs, af.DatabaseSpecific, af.EcosystemSpecific)
	}
	for _, v := range vecs {
		if s, ok := cvssScore(v.Score); ok && s > score {
			score = s
		}
	}
	for _, raw := range dbs {
		var ds struct {
			Severity any `json:"severity"`
		}
		if len(raw) == 0 || json.Unmarshal(raw, &ds) != nil {
			continue
		}
		if s, ok := ds.Severity.(string); ok {
			if sev, err := ParseSeverity(s); err == nil && sev > best {
				best = sev
			}
		}
	}
	if best == SeverityUnknown {
		best = ratingOf(score)
	}
	return best, score
}

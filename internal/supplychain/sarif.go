package supplychain

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// SARIF 2.1.0, the parts Conveyor writes and reads.

// SARIFSchema is the schema URI written in $schema.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// SARIF is a SARIF 2.1.0 log.
type SARIF struct {
	Schema  string     `json:"$schema,omitempty"`
	Version string     `json:"version"`
	Runs    []SARIFRun `json:"runs"`
}

// SARIFRun is one tool's run.
type SARIFRun struct {
	Tool    SARIFTool     `json:"tool"`
	Results []SARIFResult `json:"results"`
}

// SARIFTool names the tool and its rules.
type SARIFTool struct {
	Driver SARIFDriver `json:"driver"`
}

// SARIFDriver is the tool's main component.
type SARIFDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []SARIFRule `json:"rules,omitempty"`
}

// SARIFRule describes a rule (here: a vulnerability or a secret kind).
type SARIFRule struct {
	ID               string         `json:"id"`
	ShortDescription *SARIFMessage  `json:"shortDescription,omitempty"`
	FullDescription  *SARIFMessage  `json:"fullDescription,omitempty"`
	HelpURI          string         `json:"helpUri,omitempty"`
	DefaultConfig    *SARIFRuleConf `json:"defaultConfiguration,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

// SARIFRuleConf is a rule's default level.
type SARIFRuleConf struct {
	Level string `json:"level,omitempty"`
}

// SARIFMessage is a text.
type SARIFMessage struct {
	Text string `json:"text"`
}

// SARIFResult is one finding.
type SARIFResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  *int            `json:"ruleIndex,omitempty"`
	Level      string          `json:"level,omitempty"`
	Message    SARIFMessage    `json:"message"`
	Locations  []SARIFLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

// SARIFLocation is where a finding is.
type SARIFLocation struct {
	PhysicalLocation SARIFPhysical `json:"physicalLocation"`
}

// SARIFPhysical is a file and a region of it.
type SARIFPhysical struct {
	ArtifactLocation SARIFArtifact `json:"artifactLocation"`
	Region           *SARIFRegion  `json:"region,omitempty"`
}

// SARIFArtifact is a file by URI.
type SARIFArtifact struct {
	URI string `json:"uri"`
}

// SARIFRegion is a line range.
type SARIFRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

// levelOf is the SARIF level of a severity.
func levelOf(s Severity) string {
	switch s {
	case SeverityCritical, SeverityHigh:
		return "error"
	case SeverityMedium, SeverityUnknown:
		return "warning"
	}
	return "note"
}

// SARIF returns the scan as a SARIF 2.1.0 log: one rule per advisory, one
// result per finding located at the file the package was found in.
func (r *ScanResult) SARIF(toolVersion string) *SARIF {
	run := SARIFRun{Tool: SARIFTool{Driver: SARIFDriver{Name: "conveyor-scan", Version: toolVersion, InformationURI: "https://osv.dev"}}, Results: []SARIFResult{}}
	index := map[string]int{}
	for _, f := range r.Findings {
		if _, ok := index[f.ID]; !ok {
			index[f.ID] = len(run.Tool.Driver.Rules)
			props := map[string]any{"tags": []string{"security", "vulnerability"}}
			if f.Score > 0 {
				props["security-severity"] = strconv.FormatFloat(f.Score, 'f', 1, 64)
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, SARIFRule{
				ID: f.ID, ShortDescription: &SARIFMessage{Text: firstNonEmpty(f.Summary, f.ID)},
				HelpURI:       "https://osv.dev/vulnerability/" + f.ID,
				DefaultConfig: &SARIFRuleConf{Level: levelOf(f.severity)},
				Properties:    props,
			})
		}
		i := index[f.ID]
		msg := fmt.Sprintf("%s %s is affected by %s (%s)", f.Package.Name, f.Package.Version, f.ID, f.Severity)
		if f.FixedIn != "" {
			msg += "; fixed in " + f.FixedIn
		}
		if f.Allowed != "" {
			msg += "; allowed " + f.Allowed
		}
		level := levelOf(f.severity)
		if !f.Blocking {
			level = "note"
		}
		run.Results = append(run.Results, SARIFResult{
			RuleID: f.ID, RuleIndex: &i, Level: level, Message: SARIFMessage{Text: msg},
			Locations:  []SARIFLocation{{PhysicalLocation: SARIFPhysical{ArtifactLocation: SARIFArtifact{URI: f.Package.Location}}}},
			Properties: map[string]any{"purl": f.Package.PURL, "severity": f.Severity, "blocking": f.Blocking},
		})
	}
	return &SARIF{Schema: SARIFSchema, Version: "2.1.0", Runs: []SARIFRun{run}}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ReadSARIF parses a SARIF 2.1.0 log.
func ReadSARIF(data []byte) (*SARIF, error) {
	var s SARIF
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sarif: %w", err)
	}
	if s.Version != "2.1.0" {
		return nil, fmt.Errorf("sarif: version %q: only 2.1.0 is supported", s.Version)
	}
	return &s, nil
}

// SARIFLevels orders SARIF levels for gating: none < note < warning < error.
var SARIFLevels = map[string]int{"none": 0, "note": 1, "warning": 2, "error": 3}

// SARIFCount is the number of results of one tool at one level.
type SARIFCount struct {
	Tool  string
	Level string
	Count int
}

// effectiveLevel is a result's level: its own, else its rule's default,
// else "warning" (SARIF's default).
func effectiveLevel(run SARIFRun, res SARIFResult) string {
	if res.Level != "" {
		return res.Level
	}
	rules := run.Tool.Driver.Rules
	if res.RuleIndex != nil && *res.RuleIndex >= 0 && *res.RuleIndex < len(rules) {
		if c := rules[*res.RuleIndex].DefaultConfig; c != nil && c.Level != "" {
			return c.Level
		}
	}
	for _, r := range rules {
		if r.ID == res.RuleID && r.DefaultConfig != nil && r.DefaultConfig.Level != "" {
			return r.DefaultConfig.Level
		}
	}
	return "warning"
}

// Summarize counts the log's results by tool and level, and those at or
// above failLevel ("" or "none": never).
func (s *SARIF) Summarize(failLevel string) (counts []SARIFCount, failing int) {
	m := map[[2]string]int{}
	min := SARIFLevels[strings.ToLower(failLevel)]
	for _, run := range s.Runs {
		for _, res := range run.Results {
			lvl := effectiveLevel(run, res)
			m[[2]string{run.Tool.Driver.Name, lvl}]++
			if min > 0 && SARIFLevels[lvl] >= min {
				failing++
			}
		}
	}
	for k, n := range m {
		counts = append(counts, SARIFCount{Tool: k[0], Level: k[1], Count: n})
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].Tool != counts[j].Tool {
			return counts[i].Tool < counts[j].Tool
		}
		return SARIFLevels[counts[i].Level] > SARIFLevels[counts[j].Level]
	})
	return counts, failing
}

// WriteFindings writes the results as a table (level, rule, location,
// message), at most limit rows (0: all).
func (s *SARIF) WriteFindings(w io.Writer, limit int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tTOOL\tRULE\tLOCATION\tMESSAGE")
	n := 0
	for _, run := range s.Runs {
		for _, res := range run.Results {
			if limit > 0 && n == limit {
				fmt.Fprintln(tw, "…\t\t\t\t")
				tw.Flush()
				return
			}
			n++
			loc := "-"
			if len(res.Locations) > 0 {
				pl := res.Locations[0].PhysicalLocation
				loc = pl.ArtifactLocation.URI
				if pl.Region != nil && pl.Region.StartLine > 0 {
					loc += ":" + strconv.Itoa(pl.Region.StartLine)
				}
			}
			msg := strings.ReplaceAll(res.Message.Text, "\n", " ")
			if len(msg) > 120 {
				msg = msg[:117] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", effectiveLevel(run, res), run.Tool.Driver.Name, res.RuleID, loc, msg)
		}
	}
	tw.Flush()
}

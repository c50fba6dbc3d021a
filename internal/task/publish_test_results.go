package task

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TestCounts are the totals of published test results.
type TestCounts struct {
	Total, Passed, Failed, Skipped int
}

// junitSuite is the part of a JUnit testsuite the task reads. Suites nest.
type junitSuite struct {
	Name   string       `xml:"name,attr"`
	Suites []junitSuite `xml:"testsuite"`
	Cases  []junitCase  `xml:"testcase"`
}

type junitCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Failure   *struct{} `xml:"failure"`
	Error     *struct{} `xml:"error"`
	Skipped   *struct{} `xml:"skipped"`
}

// ParseJUnit counts the test cases of a JUnit XML document (a testsuites or
// a testsuite root) and returns the names of the failed ones.
func ParseJUnit(data []byte) (TestCounts, []string, error) {
	var root junitSuite
	if err := xml.Unmarshal(data, &root); err != nil {
		return TestCounts{}, nil, fmt.Errorf("junit: %w", err)
	}
	var c TestCounts
	var failed []string
	var walk func(s junitSuite)
	walk = func(s junitSuite) {
		for _, tc := range s.Cases {
			c.Total++
			switch {
			case tc.Failure != nil || tc.Error != nil:
				c.Failed++
				name := tc.Name
				if tc.Classname != "" {
					name = tc.Classname + "." + tc.Name
				}
				failed = append(failed, name)
			case tc.Skipped != nil:
				c.Skipped++
			default:
				c.Passed++
			}
		}
		for _, sub := range s.Suites {
			walk(sub)
		}
	}
	walk(root)
	return c, failed, nil
}

// runPublishTestResults is PublishTestResults@2 for JUnit results: inputs
// testResultsFormat (JUnit), testResultsFiles (default **/TEST-*.xml),
// searchFolder (default $(System.DefaultWorkingDirectory)),
// failTaskOnFailedTests, failTaskOnMissingResultsFile, testRunTitle.
func runPublishTestResults(_ context.Context, env *Env) (Result, error) {
	format := env.Input("testResultsFormat", env.Input("testRunner", "JUnit"))
	if !strings.EqualFold(format, "JUnit") {
		return Result{Status: Failed, Message: fmt.Sprintf("testResultsFormat %s is not supported: use JUnit", format)}, nil
	}
	failOnFailed, err := env.BoolInput("failTaskOnFailedTests", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	failOnMissing, err := env.BoolInput("failTaskOnMissingResultsFile", false)
	if err != nil {
		return Result{Status: Failed, Message: err.Error()}, nil
	}
	folder := env.Input("searchFolder", env.Dirs.Sources)
	files, err := matchFiles(folder, env.Input("testResultsFiles", "**/TEST-*.xml"))
	if err != nil && !os.IsNotExist(err) {
		return Result{}, fmt.Errorf("publish test results: %w", err)
	}
	if len(files) == 0 {
		if failOnMissing {
			return Result{Status: Failed, Message: "no test result files matched"}, nil
		}
		env.Logf("##[warning]No test result files matching %s were found in %s", env.Input("testResultsFiles", "**/TEST-*.xml"), folder)
		return Result{Status: Succeeded}, nil
	}
	var sum TestCounts
	var failedNames []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(folder, filepath.FromSlash(f)))
		if err != nil {
			return Result{}, fmt.Errorf("publish test results: %w", err)
		}
		c, failed, err := ParseJUnit(data)
		if err != nil {
			return Result{Status: Failed, Message: fmt.Sprintf("%s: %v", f, err)}, nil
		}
		sum.Total += c.Total
		sum.Passed += c.Passed
		sum.Failed += c.Failed
		sum.Skipped += c.Skipped
		failedNames = append(failedNames, failed...)
	}
	title := env.Input("testRunTitle", "Test results")
	line := fmt.Sprintf("%s: %d total, %d passed, %d failed, %d skipped", title, sum.Total, sum.Passed, sum.Failed, sum.Skipped)
	env.Logf("%s", line)
	for _, n := range failedNames {
		env.Logf("  failed: %s", n)
	}
	if env.AddSummary != nil {
		env.AddSummary(line)
	}
	if sum.Failed > 0 && failOnFailed {
		return Result{Status: Failed, Message: fmt.Sprintf("%d test(s) failed", sum.Failed)}, nil
	}
	return Result{Status: Succeeded}, nil
}

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
// failTaskOnFailedTests, failTaskOnMissingResultsFile,
// failTaskOnFailureToPublishResults (a result file that cannot be read is a
// warning unless it is true), testRunTitle.
func runPublishTestResults(_ context.Context, env *Env) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{Status: Failed, Message: "PublishTestResults@2: " + fmt.Sprintf(format, a...)}, nil
	}
	switch format := env.Input("testResultsFormat", env.Input("testRunner", "JUnit")); strings.ToLower(format) {
	case "junit":
	case "nunit", "vstest", "xunit", "ctest":
		return fail("testResultsFormat %s is not supported by Conveyor: publish JUnit XML (most test runners can write it)", format)
	default:
		return fail("input testResultsFormat: %q is not allowed: use JUnit, NUnit, VSTest, XUnit or CTest", format)
	}
	var failOnFailed, failOnMissing, failOnPublish bool
	for _, b := range []struct {
		name string
		v    *bool
	}{{"failTaskOnFailedTests", &failOnFailed}, {"failTaskOnMissingResultsFile", &failOnMissing},
		{"failTaskOnFailureToPublishResults", &failOnPublish}} {
		v, err := env.BoolInput(b.name, false)
		if err != nil {
			return fail("%v", err)
		}
		*b.v = v
	}
	folder := env.Input("searchFolder", env.Dirs.Sources)
	if !filepath.IsAbs(folder) {
		folder = filepath.Join(env.Dirs.Sources, folder)
	}
	files, err := matchFiles(folder, env.Input("testResultsFiles", "**/TEST-*.xml"))
	if err != nil && !os.IsNotExist(err) {
		return Result{}, fmt.Errorf("publish test results: %w", err)
	}
	if len(files) == 0 {
		if failOnMissing {
			return fail("no test result files matching %s were found in %s (failTaskOnMissingResultsFile is true)", env.Input("testResultsFiles", "**/TEST-*.xml"), folder)
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
			if failOnPublish {
				return fail("%s: %v", f, err)
			}
			env.Logf("##[warning]%s: %v: not published", f, err)
			continue
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

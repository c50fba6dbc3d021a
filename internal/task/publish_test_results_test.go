package task

import (
	"strings"
	"testing"
)

// TestPublishTestResultsInputs follows PublishTestResults@2's reference:
// searchFolder relative to the sources, failTaskOnFailedTests,
// failTaskOnMissingResultsFile, failTaskOnFailureToPublishResults and the
// testResultsFormat values.
func TestPublishTestResultsInputs(t *testing.T) {
	results := map[string]string{
		"out/TEST-a.xml":   `<testsuite><testcase name="ok"/><testcase name="bad"><failure/></testcase></testsuite>`,
		"out/TEST-b.xml":   `<testsuite><testcase name="skip"><skipped/></testcase></testsuite>`,
		"out/TEST-c.xml":   `not xml`,
		"other/TEST-d.xml": `<testsuite><testcase name="elsewhere"/></testsuite>`,
	}
	tests := []struct {
		name    string
		inputs  map[string]string
		want    Status
		message string
		summary string
	}{
		{"relative searchFolder, broken file warned", map[string]string{"searchFolder": "out"}, Succeeded, "",
			"Test results: 3 total, 1 passed, 1 failed, 1 skipped"},
		{"failed tests fail the task", map[string]string{"searchFolder": "out", "failTaskOnFailedTests": "true", "testRunTitle": "unit"}, Failed,
			"1 test(s) failed", "unit: 3 total"},
		{"broken file fails the task", map[string]string{"searchFolder": "out", "failTaskOnFailureToPublishResults": "true"}, Failed,
			"TEST-c.xml", ""},
		{"missing files", map[string]string{"searchFolder": "out", "testResultsFiles": "**/junit-*.xml"}, Succeeded, "", ""},
		{"missing files fail", map[string]string{"searchFolder": "out", "testResultsFiles": "**/junit-*.xml", "failTaskOnMissingResultsFile": "true"}, Failed,
			"no test result files matching **/junit-*.xml", ""},
		{"testRunner alias", map[string]string{"testRunner": "NUnit"}, Failed, "testResultsFormat NUnit is not supported", ""},
		{"unknown format", map[string]string{"testResultsFormat": "TAP"}, Failed, `input testResultsFormat: "TAP" is not allowed`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, log := testEnv(t, tt.inputs)
			writeFiles(t, env.Dirs.Sources, results)
			var summary []string
			env.AddSummary = func(s string) { summary = append(summary, s) }
			res, err := runPublishTestResults(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want || !strings.Contains(res.Message, tt.message) {
				t.Errorf("result %+v, want %s with %q (log:\n%s)", res, tt.want, tt.message, log)
			}
			if tt.summary != "" && (len(summary) != 1 || !strings.HasPrefix(summary[0], tt.summary)) {
				t.Errorf("summary %q, want %q", summary, tt.summary)
			}
		})
	}
}

package image

import (
	"os/exec"
	"strings"
	"testing"
)

func TestBuildKitVersionMatchesBuildScript(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "bash", "../../tools/buildkit/build.sh", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != BuildKitVersion {
		t.Errorf("tools/buildkit/build.sh builds %s, BuildKitVersion is %s: change both together", got, BuildKitVersion)
	}
}

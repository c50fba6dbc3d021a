package toolscript

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	s, err := Find("kube")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(s, filepath.Join("tools", "kube", "build.sh")) {
		t.Errorf("Find(kube) = %s", s)
	}
	if _, err := os.Stat(s); err != nil {
		t.Error(err)
	}
	if _, err := Find("no-such-tool"); err == nil || !strings.Contains(err.Error(), "tools/no-such-tool/build.sh was not found") {
		t.Errorf("Find(no-such-tool) error = %v", err)
	}
}

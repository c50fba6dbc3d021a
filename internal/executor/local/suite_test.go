package local

import (
	"testing"

	"conveyor.dev/conveyor/internal/executor/executortest"
)

func TestSuite(t *testing.T) {
	executortest.Run(t, func(t *testing.T) executortest.Executor {
		e, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

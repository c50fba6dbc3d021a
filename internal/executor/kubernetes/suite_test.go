package kubernetes_test

import (
	"testing"

	"conveyor.dev/conveyor/internal/executor/executortest"
)

func TestSuite(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	executortest.RunWith(t, func(t *testing.T) executortest.Executor { return newExecutor(t, ns) },
		executortest.Options{Gone: podGone(t, ns)})
}

package helmkube_test

import (
	"os"
	"testing"

	"conveyor.dev/conveyor/internal/kubeenv"
)

var env *kubeenv.Env

func TestMain(m *testing.M) { os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 2}, &env)) }

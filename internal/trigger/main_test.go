package trigger

import (
	"os"
	"testing"

	"conveyor.dev/conveyor/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

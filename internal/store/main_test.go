package store_test

import (
	"os"
	"testing"

	"conveyor.dev/conveyor/internal/store/pgtest"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// eachDB runs fn on SQLite and on PostgreSQL, each as a subtest that opens
// fresh stores with open.
func eachDB(t *testing.T, fn func(t *testing.T, open storetest.Opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.NewTestStore) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.NewPostgresStore) })
}

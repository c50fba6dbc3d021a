package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
)

// PostgreSQL runs the store's SQL unchanged: its connections rewrite the ?
// placeholders to $1, $2, … (rebindConnector), write transactions run
// SERIALIZABLE and are retried when PostgreSQL aborts the loser of a race,
// and the schema comes from migrations/postgres (the same versions as the
// SQLite ones, in PostgreSQL's types). Step logs stay files under the log
// folder, indexed by the logs table, as with SQLite.

// Advisory lock keys (any int64 unique to Conveyor).
const (
	migrationLockKey = 0x636f6e76_6d696772 // "convmigr"
	auditLockKey     = 0x636f6e76_61756474 // "convaudt"
)

var postgresDialect = dialect{
	name:       "postgres",
	migrations: "migrations/postgres",
	txOptions:  &sql.TxOptions{Isolation: sql.LevelSerializable},
	retryable:  pgRetryable,
	// Identity values are handed out before commit: without the lock a
	// reader paging by Seq could pass an entry that commits later.
	lockAudit: `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(auditLockKey, 10) + `)`,
}

// pgRetryable reports the errors of a transaction that lost a race:
// serialization failure, deadlock, and a unique key taken meanwhile (which
// PostgreSQL reports instead of a serialization failure when the key was
// not read first).
func pgRetryable(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505":
		return true
	}
	return false
}

// openPostgres connects to the PostgreSQL database at the URL dsn and
// migrates it, holding an advisory lock so that servers starting together
// migrate one after the other.
func (s *DB) openPostgres(ctx context.Context, dsn string) error {
	s.dialect = postgresDialect
	shown := redactURL(dsn)
	if s.logDir == "" {
		return fmt.Errorf("open store %s: a PostgreSQL store keeps step logs in files: give it a log folder (WithLogDir)", shown)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text without the URL, which may hold a password
		}
		return fmt.Errorf("open store %s: bad URL: %v: want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable", shown, err)
	}
	password, _ := u.User.Password()
	if p := u.Query().Get("password"); p != "" {
		password = p
	}
	wrap := func(format string, err error) error {
		return &redactedError{err: err, msg: redact(fmt.Sprintf("open store %s: "+format, shown, err), password)}
	}
	// One round trip per statement instead of two (parse, then bind):
	// lib/pq then sends []byte arguments as binary, which bytea takes.
	if q := u.Query(); !q.Has("binary_parameters") {
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
	}
	conn, err := pq.NewConnector(u.String())
	if err != nil {
		return wrap("%v", err)
	}
	s.db = sql.OpenDB(rebindConnector{conn})
	s.db.SetMaxOpenConns(32)
	s.db.SetMaxIdleConns(32)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.db.PingContext(pingCtx); err != nil {
		return wrap("cannot reach PostgreSQL: %v: check the URL and that the server runs and accepts this user (sslmode=disable for a server without TLS)", err)
	}
	if err := s.migratePostgres(ctx); err != nil {
		return wrap("%v", err)
	}
	return nil
}

func (s *DB) migratePostgres(ctx context.Context) error {
	ms, err := loadMigrations(migrationFS, s.dialect.migrations)
	if err != nil {
		return err
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, int64(migrationLockKey)); err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, int64(migrationLockKey))
	return migrate(ctx, c, ms)
}

// redactedError is an error whose text hides a password; it unwraps to
// the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "xxxxx")
}

// redactURL returns dsn fit for messages: a URL's password (in the user
// part or as ?password=) replaced by xxxxx. Text that is not a URL is
// returned as is; a URL it cannot parse is reduced to its scheme.
func redactURL(dsn string) string {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return scheme + "://…"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// pqConn is what database/sql uses of a lib/pq connection.
type pqConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// rebindConnector makes connections that rewrite ? placeholders to
// PostgreSQL's $N.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("postgres connection %T lacks methods the store needs", conn)
	}
	return rebindConn{pc}, nil
}

type rebindConn struct{ pqConn }

func (c rebindConn) Prepare(q string) (driver.Stmt, error) { return c.pqConn.Prepare(rebind(q)) }

func (c rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.pqConn.PrepareContext(ctx, rebind(q))
}

func (c rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pqConn.QueryContext(ctx, rebind(q), validText(args))
}

func (c rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.pqConn.ExecContext(ctx, rebind(q), validText(args))
}

// validText makes string arguments valid PostgreSQL text, which must be
// UTF-8 without NUL: SQLite keeps any bytes, so a commit message in
// Latin-1 or a stray NUL in a step name must not fail a run here. Invalid
// bytes become U+FFFD; NULs are dropped.
func validText(args []driver.NamedValue) []driver.NamedValue {
	var out []driver.NamedValue
	for i, a := range args {
		v, ok := a.Value.(string)
		if !ok || (utf8.ValidString(v) && !strings.Contains(v, "\x00")) {
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i].Value = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
	}
	if out == nil {
		return args
	}
	return out
}

// rebind rewrites the ? placeholders of q to $1, $2, …, leaving string
// literals, quoted identifiers and -- comments alone.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+1])
			i += end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

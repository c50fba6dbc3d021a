package registry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Option configures a Registry built by New.
type Option func(*options) error

// Clock tells the time; the garbage collector's grace period uses it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

type options struct {
	name          string
	logger        *slog.Logger
	immutableTags bool
	deletes       bool
	users         map[string]string // basic auth: user → password
	tokens        map[string]bool   // bearer tokens
	clock         Clock
	gcGrace       time.Duration
	gcUntagged    bool
	maxManifest   int64
}

func defaultOptions() options {
	return options{
		name:        "registry",
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		deletes:     true,
		clock:       systemClock{},
		gcGrace:     time.Hour,
		maxManifest: 4 << 20,
	}
}

// WithName names the registry in error messages ("nonprod", "prod").
func WithName(name string) Option {
	return func(o *options) error {
		if name == "" {
			return errors.New("registry name: must not be empty")
		}
		o.name = name
		return nil
	}
}

// WithLogger logs one line per failed request and GC results; without it the
// registry logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("registry logger: must not be nil")
		}
		o.logger = l
		return nil
	}
}

// WithImmutableTags refuses to re-point an existing tag at another digest, and
// to delete a tag, as the prod registry does. Pushing the same digest to the
// same tag again succeeds. Cosign's tag-scheme tags (sha256-<hex>[.sig|.att|.sbom])
// stay mutable: signing tools rewrite them when they add a signature.
func WithImmutableTags(on bool) Option {
	return func(o *options) error {
		o.immutableTags = on
		return nil
	}
}

// WithDeletes allows (the default) or refuses DELETE of manifests, tags and blobs.
func WithDeletes(on bool) Option {
	return func(o *options) error {
		o.deletes = on
		return nil
	}
}

// WithBasicAuth requires every request to authenticate; this user and password
// are accepted with HTTP basic auth. It may be given more than once.
func WithBasicAuth(user, password string) Option {
	return func(o *options) error {
		if user == "" || password == "" {
			return errors.New("registry basic auth: user and password must not be empty")
		}
		if o.users == nil {
			o.users = map[string]string{}
		}
		o.users[user] = password
		return nil
	}
}

// WithToken requires every request to authenticate; this token is accepted as
// "Authorization: Bearer <token>" and as the password of basic auth with any
// user name (so `docker login` with a token works). It may be given more than once.
func WithToken(token string) Option {
	return func(o *options) error {
		if len(token) < 16 {
			return errors.New("registry token: must be at least 16 characters")
		}
		if o.tokens == nil {
			o.tokens = map[string]bool{}
		}
		o.tokens[token] = true
		return nil
	}
}

// WithClock replaces the system clock (for tests of the GC grace period).
func WithClock(c Clock) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("registry clock: must not be nil")
		}
		o.clock = c
		return nil
	}
}

// WithGCGracePeriod keeps blobs, manifests and uploads younger than d out of
// garbage collection, so that a push in progress is not swept (default 1h).
func WithGCGracePeriod(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("registry gc grace period %s: must not be negative", d)
		}
		o.gcGrace = d
		return nil
	}
}

// WithGCUntagged makes GC also delete manifests that no tag reaches (directly,
// as an index child, or as a referrer of a reached manifest). Off by default:
// images promoted by digest alone are untagged and must survive.
func WithGCUntagged(on bool) Option {
	return func(o *options) error {
		o.gcUntagged = on
		return nil
	}
}

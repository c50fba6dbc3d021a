package deploy

import (
	"context"
	"time"
)

// Target is where a deploy goes and whose it is: revisions are kept per
// target.
type Target struct {
	Environment string // the environment or service connection name
	Namespace   string
	Pipeline    string
}

// String is environment/namespace (pipeline).
func (t Target) String() string {
	return t.Environment + "/" + t.Namespace + " (" + t.Pipeline + ")"
}

// Revision is one successful deploy to a target: the objects exactly as
// applied, so that a rollback re-applies the same bytes.
type Revision struct {
	Target    Target
	Number    int64       // set by the store: 1, 2, 3… per target
	Manifests []byte      // the applied objects, one YAML stream
	Objects   []ObjectRef // the applied objects' references
	Images    []string    // the images by digest
	Run       string
	Commit    string
	CreatedAt time.Time
}

// RevisionStore keeps the successful revisions of each target.
type RevisionStore interface {
	// LastRevision returns the latest revision recorded for t; found is
	// false when there is none.
	LastRevision(ctx context.Context, t Target) (r Revision, found bool, err error)
	// RecordRevision stores r as t's latest revision.
	RecordRevision(ctx context.Context, r Revision) error
}

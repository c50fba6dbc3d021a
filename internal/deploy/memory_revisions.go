package deploy

import (
	"context"
	"sync"
)

// MemoryRevisions is a RevisionStore in memory, for runs without a
// database (and tests). Safe for concurrent use. The zero value is ready.
type MemoryRevisions struct {
	mu   sync.Mutex
	revs map[Target][]Revision
}

var _ RevisionStore = (*MemoryRevisions)(nil)

// LastRevision returns t's latest revision.
func (m *MemoryRevisions) LastRevision(_ context.Context, t Target) (Revision, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.revs[t]
	if len(rs) == 0 {
		return Revision{}, false, nil
	}
	return rs[len(rs)-1], true, nil
}

// RecordRevision appends r, numbering it after t's latest.
func (m *MemoryRevisions) RecordRevision(_ context.Context, r Revision) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs == nil {
		m.revs = map[Target][]Revision{}
	}
	r.Number = int64(len(m.revs[r.Target]) + 1)
	m.revs[r.Target] = append(m.revs[r.Target], r)
	return nil
}

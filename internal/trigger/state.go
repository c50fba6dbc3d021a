package trigger

import (
	"context"
	"sync"
)

// Deliveries remembers webhook delivery ids so a replayed delivery starts
// no second run. The store implements it; MemoryState is the in-process one.
type Deliveries interface {
	// ClaimDelivery records (provider, id) and reports true, or reports
	// false when it was recorded before.
	ClaimDelivery(ctx context.Context, provider, id string) (bool, error)
	// ReleaseDelivery forgets (provider, id), so a redelivery after a
	// failure is processed again.
	ReleaseDelivery(ctx context.Context, provider, id string) error
}

// State keeps small trigger state by key (the refs a poller saw, batched
// pushes waiting for a run to finish). The store implements it.
type State interface {
	// GetTriggerState returns the value under key; ok is false when none.
	GetTriggerState(ctx context.Context, key string) (value string, ok bool, err error)
	// PutTriggerState sets the value under key.
	PutTriggerState(ctx context.Context, key, value string) error
	// DeleteTriggerState removes key (a no-op when missing).
	DeleteTriggerState(ctx context.Context, key string) error
}

// MemoryState keeps deliveries and trigger state in memory, for one
// process (conveyor run, tests). Safe for concurrent use.
type MemoryState struct {
	mu         sync.Mutex
	deliveries map[[2]string]bool
	state      map[string]string
}

var (
	_ Deliveries = (*MemoryState)(nil)
	_ State      = (*MemoryState)(nil)
)

// NewMemoryState returns an empty MemoryState.
func NewMemoryState() *MemoryState {
	return &MemoryState{deliveries: map[[2]string]bool{}, state: map[string]string{}}
}

// ClaimDelivery implements Deliveries.
func (m *MemoryState) ClaimDelivery(_ context.Context, provider, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{provider, id}
	if m.deliveries[k] {
		return false, nil
	}
	m.deliveries[k] = true
	return true, nil
}

// ReleaseDelivery implements Deliveries.
func (m *MemoryState) ReleaseDelivery(_ context.Context, provider, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.deliveries, [2]string{provider, id})
	return nil
}

// GetTriggerState implements State.
func (m *MemoryState) GetTriggerState(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.state[key]
	return v, ok, nil
}

// PutTriggerState implements State.
func (m *MemoryState) PutTriggerState(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[key] = value
	return nil
}

// DeleteTriggerState implements State.
func (m *MemoryState) DeleteTriggerState(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.state, key)
	return nil
}

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Counters keep the values of counter(prefix, seed) across runs of a
// pipeline: the seed the first time a prefix is seen, then one more on each
// run.
type Counters interface {
	Next(ctx context.Context, pipeline, prefix string, seed int64) (int64, error)
}

// FileCounters keeps counters in a JSON file, locked while it is updated so
// that concurrent processes share it.
type FileCounters struct {
	path string
	mu   sync.Mutex
}

// NewFileCounters returns counters kept in the file at path.
func NewFileCounters(path string) *FileCounters { return &FileCounters{path: path} }

// Next returns the next value of the pipeline's counter named prefix.
func (c *FileCounters) Next(_ context.Context, pipeline, prefix string, seed int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return 0, fmt.Errorf("counter %s: %w", prefix, err)
	}
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("counter %s: %w", prefix, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("counter %s: lock %s: %w", prefix, c.path, err)
	}
	all := map[string]map[string]int64{}
	if st, _ := f.Stat(); st != nil && st.Size() > 0 {
		if err := json.NewDecoder(f).Decode(&all); err != nil {
			return 0, fmt.Errorf("counter %s: read %s: %w", prefix, c.path, err)
		}
	}
	if all[pipeline] == nil {
		all[pipeline] = map[string]int64{}
	}
	v, ok := all[pipeline][prefix]
	if ok {
		v++
	} else {
		v = seed
	}
	all[pipeline][prefix] = v
	data, err := json.Marshal(all)
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("counter %s: %w", prefix, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return 0, fmt.Errorf("counter %s: %w", prefix, err)
	}
	return v, nil
}

// memCounters are the default counters: kept in memory by the engine.
type memCounters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *memCounters) Next(_ context.Context, pipeline, prefix string, seed int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := pipeline + "\x00" + prefix
	v, ok := c.m[k]
	if ok {
		v++
	} else {
		v = seed
	}
	c.m[k] = v
	return v, nil
}

// counter returns this run's value of counter(prefix, seed): the same for
// every evaluation in the run.
func (rs *runState) counter(prefix string, seed int64) (int64, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if v, ok := rs.counterValues[prefix]; ok {
		return v, nil
	}
	v, err := rs.e.counters.Next(context.WithoutCancel(rs.ctx), rs.in.Pipeline, prefix, seed)
	if err != nil {
		return 0, err
	}
	rs.counterValues[prefix] = v
	return v, nil
}

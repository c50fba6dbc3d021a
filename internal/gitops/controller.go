package gitops

import (
	"context"
	"fmt"
	"sync"

	"conveyor.dev/conveyor/internal/config"
)

// Controller runs reconcilers in loops: each reconciles at once, then
// again every Interval of its spec (as the Clock says) or when Trigger
// names it, until the context ends. Results go to the callback given to
// NewController.
type Controller struct {
	recs     []*Reconciler
	clock    Clock
	onResult func(Result)
	triggers map[string]chan struct{}
}

// NewController returns a controller of recs; onResult (nil: none) is
// called after every reconcile, from the reconciler's goroutine.
func NewController(recs []*Reconciler, onResult func(Result), opts ...Option) (*Controller, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	c := &Controller{recs: recs, clock: o.clock, onResult: onResult, triggers: map[string]chan struct{}{}}
	for _, r := range recs {
		if _, dup := c.triggers[r.Name()]; dup {
			return nil, fmt.Errorf("gitops: two reconcilers named %s", r.Name())
		}
		c.triggers[r.Name()] = make(chan struct{}, 1)
	}
	return c, nil
}

// Reconcilers returns the controller's reconcilers.
func (c *Controller) Reconcilers() []*Reconciler { return c.recs }

// Trigger asks the loop of the reconciler name to reconcile now (once,
// however often it is asked before it starts).
func (c *Controller) Trigger(name string) error {
	ch, ok := c.triggers[name]
	if !ok {
		return fmt.Errorf("gitops: no reconciler named %s", name)
	}
	select {
	case ch <- struct{}{}:
	default:
	}
	return nil
}

// ReconcileAll reconciles every reconciler once, in order, and returns the
// results (Run is not needed for it).
func (c *Controller) ReconcileAll(ctx context.Context) []Result {
	out := make([]Result, 0, len(c.recs))
	for _, r := range c.recs {
		res, _ := r.Reconcile(ctx)
		if c.onResult != nil {
			c.onResult(res)
		}
		out = append(out, res)
	}
	return out
}

// Run runs the loops until ctx ends, and returns when they have stopped.
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range c.recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(ctx, r)
		}()
	}
	wg.Wait()
}

func (c *Controller) loop(ctx context.Context, r *Reconciler) {
	interval := r.spec.Interval
	if interval <= 0 {
		interval = config.DefaultGitOpsInterval
	}
	trig := c.triggers[r.Name()]
	for {
		res, _ := r.Reconcile(ctx)
		if ctx.Err() != nil {
			return
		}
		if c.onResult != nil {
			c.onResult(res)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(interval):
		case <-trig:
		}
	}
}

package observe

import (
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// Observer has the methods of an engine observer (engine.Observer).
type Observer interface {
	RunChanged(r store.Run)
	RecordChanged(rec store.Record)
	Line(rec store.Record, ts time.Time, text string)
}

// Fanout tells each of several observers, in order.
type Fanout []Observer

// RunChanged tells each observer.
func (f Fanout) RunChanged(r store.Run) {
	for _, o := range f {
		o.RunChanged(r)
	}
}

// RecordChanged tells each observer.
func (f Fanout) RecordChanged(rec store.Record) {
	for _, o := range f {
		o.RecordChanged(rec)
	}
}

// Line tells each observer.
func (f Fanout) Line(rec store.Record, ts time.Time, text string) {
	for _, o := range f {
		o.Line(rec, ts, text)
	}
}

var (
	_ Observer = (*Metrics)(nil)
	_ Observer = (*Recorder)(nil)
	_ Observer = (*Tracer)(nil)
	_ Observer = Fanout(nil)
)

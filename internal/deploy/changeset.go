package deploy

import "strings"

// Action is what happened to one object.
type Action string

// The actions of a ChangeSet entry.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	Skipped    Action = "skipped"
)

// ChangeSetEntry is one object and what happened to it.
type ChangeSetEntry struct {
	Ref    ObjectRef
	Action Action
}

// String is "Kind/name action".
func (e ChangeSetEntry) String() string { return e.Ref.String() + " " + string(e.Action) }

// ChangeSet is what a verb of ResourceManager did, in object order.
type ChangeSet struct {
	Entries []ChangeSetEntry
}

// Append adds the entries of other.
func (c *ChangeSet) Append(other ChangeSet) { c.Entries = append(c.Entries, other.Entries...) }

// Count returns how many entries have action a.
func (c ChangeSet) Count(a Action) int {
	n := 0
	for _, e := range c.Entries {
		if e.Action == a {
			n++
		}
	}
	return n
}

// String lists the entries, one a line.
func (c ChangeSet) String() string {
	var b strings.Builder
	for _, e := range c.Entries {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

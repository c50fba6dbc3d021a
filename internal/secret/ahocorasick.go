package secret

import "slices"

// matcher finds every occurrence of a fixed set of byte patterns in one pass
// (an Aho–Corasick automaton). It is immutable once built.
type matcher struct {
	root    [256]int32 // next state from the root for each byte (0: stay at the root)
	start   []int32    // start[s]: first edge of state s in edgeByte/edgeNext
	edgeB   []byte     // edge bytes, sorted within a state
	edgeTo  []int32    // edge targets
	fail    []int32    // failure links
	longest []int32    // longest pattern ending at state s (0: none)
	maxLen  int        // longest pattern
}

// span is a half-open byte range [start, end) to mask.
type span struct{ start, end int }

// buildMatcher builds the automaton of patterns (empty ones ignored).
func buildMatcher(patterns []string) *matcher {
	// The trie, built with per-node child lists.
	type node struct {
		kids   []int32 // targets, parallel to bytes
		bytes  []byte
		depth  int32
		termin bool
	}
	nodes := []node{{}}
	child := func(s int32, b byte) int32 {
		n := &nodes[s]
		for i, c := range n.bytes {
			if c == b {
				return n.kids[i]
			}
		}
		return -1
	}
	m := &matcher{}
	for _, p := range patterns {
		if p == "" {
			continue
		}
		m.maxLen = max(m.maxLen, len(p))
		s := int32(0)
		for i := 0; i < len(p); i++ {
			t := child(s, p[i])
			if t < 0 {
				t = int32(len(nodes))
				nodes = append(nodes, node{depth: nodes[s].depth + 1})
				nodes[s].bytes = append(nodes[s].bytes, p[i])
				nodes[s].kids = append(nodes[s].kids, t)
			}
			s = t
		}
		nodes[s].termin = true
	}
	n := len(nodes)
	m.fail = make([]int32, n)
	m.longest = make([]int32, n)
	m.start = make([]int32, n+1)
	// Breadth-first: failure links and longest output.
	queue := make([]int32, 0, n)
	for i, b := range nodes[0].bytes {
		t := nodes[0].kids[i]
		m.root[b] = t
		queue = append(queue, t)
		if nodes[t].termin {
			m.longest[t] = nodes[t].depth
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		u := queue[qi]
		for i, b := range nodes[u].bytes {
			v := nodes[u].kids[i]
			f := m.fail[u]
			for {
				if f == 0 {
					m.fail[v] = m.root[b]
					break
				}
				if t := child(f, b); t >= 0 {
					m.fail[v] = t
					break
				}
				f = m.fail[f]
			}
			if m.fail[v] == v {
				m.fail[v] = 0
			}
			m.longest[v] = m.longest[m.fail[v]]
			if nodes[v].termin {
				m.longest[v] = nodes[v].depth
			}
			queue = append(queue, v)
		}
	}
	// Flatten the edges, sorted per state.
	for s := range nodes {
		m.start[s] = int32(len(m.edgeB))
		idx := make([]int, len(nodes[s].bytes))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return int(nodes[s].bytes[a]) - int(nodes[s].bytes[b]) })
		for _, i := range idx {
			m.edgeB = append(m.edgeB, nodes[s].bytes[i])
			m.edgeTo = append(m.edgeTo, nodes[s].kids[i])
		}
	}
	m.start[n] = int32(len(m.edgeB))
	return m
}

// next is the goto/failure transition from state s on byte b.
func (m *matcher) next(s int32, b byte) int32 {
	for {
		if s == 0 {
			return m.root[b]
		}
		for i, end := m.start[s], m.start[s+1]; i < end; i++ {
			if m.edgeB[i] == b {
				return m.edgeTo[i]
			}
		}
		s = m.fail[s]
	}
}

// find appends to spans the merged, ordered ranges of s covered by matches.
func (m *matcher) find(s string, spans []span) []span {
	first := len(spans)
	state := int32(0)
	sorted := true
	for i := 0; i < len(s); i++ {
		if state == 0 {
			// Fast path: skip bytes that start no pattern.
			for i < len(s) && m.root[s[i]] == 0 {
				i++
			}
			if i == len(s) {
				break
			}
		}
		state = m.next(state, s[i])
		if l := m.longest[state]; l > 0 {
			sp := span{i + 1 - int(l), i + 1}
			if n := len(spans); n > first {
				last := &spans[n-1]
				if sp.start >= last.start && sp.start < last.end {
					last.end = sp.end // overlaps the previous one
					continue
				}
				if sp.start < last.start {
					sorted = false
				}
			}
			spans = append(spans, sp)
		}
	}
	if !sorted {
		spans = mergeSpans(spans, first)
	}
	return spans
}

// mergeSpans sorts spans[first:] and merges the overlapping ones.
func mergeSpans(spans []span, first int) []span {
	tail := spans[first:]
	slices.SortFunc(tail, func(a, b span) int { return a.start - b.start })
	out := spans[:first]
	for _, sp := range tail {
		if n := len(out); n > first && sp.start < out[n-1].end {
			out[n-1].end = max(out[n-1].end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

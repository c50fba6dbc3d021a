package secret

import "slices"

// matcher finds every occurrence of a fixed set of byte patterns in one pass
// (an Aho–Corasick automaton). States are numbered breadth-first; the
// shallow ones, where matching spends most of its time, have a full
// transition row (a DFA), the deep ones keep their trie edges and failure
// link, which bounds memory. It is immutable once built.
type matcher struct {
	class   [256]uint16 // byte → column of the dense table; 0: in no pattern
	columns int
	denseN  int32   // states below denseN have a row in dense
	dense   []int32 // dense[s*columns+class] = next state, with hasOutput set when it ends a pattern
	kid0    []int32 // first child of s (children are numbered consecutively)
	kids    []int32 // number of children of s
	label   []byte  // byte on the edge into s
	fail    []int32 // failure link
	longest []int32 // longest pattern ending at s (0: none)
	maxLen  int     // longest pattern
}

// hasOutput marks, in dense, a next state that ends a pattern.
const hasOutput = -1 << 31

// denseBudget caps the dense table (in entries of 4 bytes).
const denseBudget = 1 << 16

// span is a half-open byte range [start, end) to mask.
type span struct{ start, end int }

// buildMatcher builds the automaton of patterns (empty ones ignored).
func buildMatcher(patterns []string) *matcher {
	return buildMatcherBudget(patterns, denseBudget)
}

// buildMatcherBudget builds the automaton with at most budget dense entries.
func buildMatcherBudget(patterns []string, budget int) *matcher {
	m := &matcher{}
	// Byte classes.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
		m.maxLen = max(m.maxLen, len(p))
	}
	m.columns = 1
	for b := range used {
		if used[b] {
			m.class[b] = uint16(m.columns)
			m.columns++
		}
	}
	// The trie, in insertion order: first-child / next-sibling lists.
	first := []int32{-1}
	next := []int32{-1}
	lab := []byte{0}
	depth := []int32{0}
	term := []bool{false}
	var rootKid [256]int32
	for i := range rootKid {
		rootKid[i] = -1
	}
	for _, p := range patterns {
		if p == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			b := p[i]
			t := int32(-1)
			if s == 0 {
				t = rootKid[b]
			} else {
				for c := first[s]; c >= 0; c = next[c] {
					if lab[c] == b {
						t = c
						break
					}
				}
			}
			if t < 0 {
				t = int32(len(first))
				first = append(first, -1)
				next = append(next, first[s])
				lab = append(lab, b)
				depth = append(depth, depth[s]+1)
				term = append(term, false)
				first[s] = t
				if s == 0 {
					rootKid[b] = t
				}
			}
			s = t
		}
		term[s] = true
	}
	n := len(first)
	// Number the states breadth-first; children of a state get consecutive numbers.
	order := make([]int32, 0, n) // new → old
	order = append(order, 0)
	m.kid0 = make([]int32, n)
	m.kids = make([]int32, n)
	for qi := 0; qi < len(order); qi++ {
		old := order[qi]
		m.kid0[qi] = int32(len(order))
		start := len(order)
		for c := first[old]; c >= 0; c = next[c] {
			order = append(order, c)
		}
		slices.SortFunc(order[start:], func(a, b int32) int { return int(lab[a]) - int(lab[b]) })
		m.kids[qi] = int32(len(order) - start)
	}
	m.label = make([]byte, n)
	m.fail = make([]int32, n)
	m.longest = make([]int32, n)
	for s, old := range order {
		m.label[s] = lab[old]
	}
	m.denseN = int32(min(n, max(1, budget/m.columns)))
	m.dense = make([]int32, int(m.denseN)*m.columns)
	for s := int32(0); s < int32(n); s++ {
		old := order[s]
		if term[old] {
			m.longest[s] = depth[old]
		} else if s != 0 {
			m.longest[s] = m.longest[m.fail[s]]
		}
		if s < m.denseN {
			row := m.dense[int(s)*m.columns : int(s+1)*m.columns]
			if s != 0 {
				copy(row, m.dense[int(m.fail[s])*m.columns:int(m.fail[s]+1)*m.columns]) // rows hold plain states until the end
			}
			for k := m.kid0[s]; k < m.kid0[s]+m.kids[s]; k++ {
				row[m.class[m.label[k]]] = k
			}
		}
		// Failure links of the children: fail[s] is shallower, so already complete.
		for k := m.kid0[s]; k < m.kid0[s]+m.kids[s]; k++ {
			if s == 0 {
				m.fail[k] = 0
			} else {
				m.fail[k] = m.next(m.fail[s], m.label[k])
			}
		}
	}
	for i, t := range m.dense {
		if m.longest[t] > 0 {
			m.dense[i] = t | hasOutput
		}
	}
	return m
}

// next is the transition from state s on byte b.
func (m *matcher) next(s int32, b byte) int32 {
	for s >= m.denseN {
		for k := m.kid0[s]; k < m.kid0[s]+m.kids[s]; k++ {
			if m.label[k] == b {
				return k
			}
		}
		s = m.fail[s]
	}
	return m.dense[int(s)*m.columns+int(m.class[b])] &^ hasOutput
}

// find appends to spans the merged, ordered ranges of s covered by matches.
func (m *matcher) find(s string, spans []span) []span {
	first := len(spans)
	state := int32(0)
	sorted := true
	dense, class, cols, denseN := m.dense, &m.class, m.columns, m.denseN
	for i := 0; i < len(s); i++ {
		if state < denseN {
			e := dense[int(state)*cols+int(class[s[i]])]
			state = e &^ hasOutput
			if e >= 0 {
				continue
			}
		} else {
			state = m.next(state, s[i])
		}
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

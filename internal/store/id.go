package store

import (
	"crypto/rand"
	"sync"
	"time"
)

// crockford is the alphabet of run IDs (Crockford's base32, sorts like the bytes).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idGen makes 26-character IDs that sort by creation time (ULID layout:
// 48 bits of milliseconds, 80 bits random), strictly increasing within a process.
type idGen struct {
	mu     sync.Mutex
	lastMs uint64
	last   [10]byte
}

func newIDGen() *idGen { return &idGen{} }

func (g *idGen) next(t time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := uint64(t.UnixMilli())
	if ms <= g.lastMs {
		ms = g.lastMs
		// Same (or earlier) millisecond: increment the random part.
		for i := len(g.last) - 1; i >= 0; i-- {
			g.last[i]++
			if g.last[i] != 0 {
				break
			}
		}
	} else {
		rand.Read(g.last[:])
		g.last[0] &= 0x7f // leave room to increment
	}
	g.lastMs = ms
	var b [16]byte
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	copy(b[6:], g.last[:])
	return encodeCrockford(b)
}

// encodeCrockford encodes 128 bits as 26 base32 characters, big-endian.
func encodeCrockford(b [16]byte) string {
	var out [26]byte
	// 130 bits of output: two leading zero bits, then the 128 bits.
	var acc uint64
	bits := 2
	j := 0
	for _, c := range b {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = crockford[(acc>>bits)&31]
			j++
		}
	}
	return string(out[:j])
}

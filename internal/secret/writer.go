package secret

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"unsafe"
)

// chunkSize is how much of a line without a newline the writer gathers
// before it flushes part of it.
const chunkSize = 64 << 10

// Writer returns a writer that masks what it is given and writes it to w,
// line by line: a secret split across writes is still masked. It holds back
// an incomplete line until its newline, Close, or (for a very long line)
// until enough follows to be sure no secret crosses the flushed part. The
// caller must call Close, which writes the rest but does not close w.
func (k *Masker) Writer(w io.Writer) io.WriteCloser {
	return &maskWriter{k: k, w: w}
}

// maskWriter is the io.WriteCloser of Masker.Writer; safe for concurrent use.
type maskWriter struct {
	k      *Masker
	w      io.Writer
	mu     sync.Mutex
	buf    []byte // incomplete line
	out    []byte
	spans  []span
	closed bool
}

func (mw *maskWriter) Write(p []byte) (int, error) {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if mw.closed {
		return 0, fmt.Errorf("masking writer: write after close")
	}
	m := mw.k.matcher()
	mw.out = mw.out[:0]
	mw.buf = append(mw.buf, p...)
	if i := bytes.LastIndexByte(mw.buf, '\n'); i >= 0 {
		lines := mw.buf[:i+1]
		for len(lines) > 0 {
			j := bytes.IndexByte(lines, '\n')
			mw.out, mw.spans = appendMasked(mw.out, m, lines[:j], mw.spans)
			mw.out = append(mw.out, '\n')
			lines = lines[j+1:]
		}
		mw.buf = append(mw.buf[:0], mw.buf[i+1:]...)
	}
	if m != nil && len(mw.buf) >= max(chunkSize, 4*m.maxLen) {
		mw.flushChunk(m)
	}
	if len(mw.out) > 0 {
		if _, err := mw.w.Write(mw.out); err != nil {
			return len(p), fmt.Errorf("masking writer: %w", err)
		}
	}
	return len(p), nil
}

// flushChunk masks and moves to out the start of a long incomplete line,
// keeping the last maxLen-1 bytes (where a secret may begin) and any match
// that crosses the cut.
func (mw *maskWriter) flushChunk(m *matcher) {
	cut := len(mw.buf) - (m.maxLen - 1)
	mw.spans = m.find(bytesString(mw.buf), mw.spans[:0])
	for i := len(mw.spans) - 1; i >= 0; i-- {
		if sp := mw.spans[i]; sp.start < cut && sp.end > cut {
			cut = sp.start
		}
	}
	if cut <= 0 {
		return
	}
	mw.out, mw.spans = appendMasked(mw.out, m, mw.buf[:cut], mw.spans)
	mw.buf = append(mw.buf[:0], mw.buf[cut:]...)
}

// Close masks and writes what is held back. It does not close the underlying writer.
func (mw *maskWriter) Close() error {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if mw.closed {
		return nil
	}
	mw.closed = true
	if len(mw.buf) == 0 {
		return nil
	}
	mw.out, mw.spans = appendMasked(mw.out[:0], mw.k.matcher(), mw.buf, mw.spans)
	mw.buf = nil
	if _, err := mw.w.Write(mw.out); err != nil {
		return fmt.Errorf("masking writer: %w", err)
	}
	return nil
}

// bytesString views b as a string without copying; the string must not outlive b's contents.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

package secret

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used. The
// benchmarks report throughput per CPU second too, because wall time on a
// shared machine mostly measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerCPU reports MB per CPU second since start.
func reportPerCPU(b *testing.B, start time.Duration, bytes int) {
	if cpu := (cpuTime() - start).Seconds(); cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu, "MB/cpu-s")
	}
}

// benchSecrets returns n random secrets of 16 to 48 characters.
func benchSecrets(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!@#%+/="
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 16+r.IntN(33))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		out[i] = string(b)
	}
	return out
}

// benchLog returns about size bytes of build-log-like lines, one in 50
// carrying a secret or its base64.
func benchLog(size int, secrets []string) string {
	r := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("compiling linking downloading github.com/google/go-cmp v0.7.0 ok PASS FAIL --- RUN " +
		"TestSomething (0.01s) internal/store/sqlite.go:42 error: warning: Step 3/12 : RUN go build -o /bin/app ./cmd/app " +
		"sha256:4f2a9c0e1d7b {\"level\":\"info\",\"msg\":\"started\"} https://example.com/api/v1/items?page=2 200 OK")
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "2026-03-01T12:00:%02d.%03dZ ", i%60, i%1000)
		for range 6 + r.IntN(10) {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		if i%50 == 0 {
			s := secrets[r.IntN(len(secrets))]
			if i%100 == 0 {
				s = base64.StdEncoding.EncodeToString([]byte(s))
			}
			b.WriteString("token=" + s)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// BenchmarkMask100Secrets measures log throughput (MB/s) through Mask with
// 100 secrets loaded, line by line as the executor hands lines over.
func BenchmarkMask100Secrets(b *testing.B) {
	secrets := benchSecrets(100)
	k := newMasker(b, secrets...)
	log := benchLog(4<<20, secrets)
	lines := strings.SplitAfter(log, "\n")
	k.Mask("") // build the automaton outside the measurement
	b.SetBytes(int64(len(log)))
	start := cpuTime()
	for b.Loop() {
		for _, l := range lines {
			_ = k.Mask(l)
		}
	}
	reportPerCPU(b, start, len(log))
}

// BenchmarkMaskWriter100Secrets measures the streaming writer with 100
// secrets loaded, fed 32 KiB writes as from a pipe.
func BenchmarkMaskWriter100Secrets(b *testing.B) {
	secrets := benchSecrets(100)
	k := newMasker(b, secrets...)
	log := []byte(benchLog(4<<20, secrets))
	k.Mask("")
	b.SetBytes(int64(len(log)))
	start := cpuTime()
	for b.Loop() {
		w := k.Writer(io.Discard)
		for i := 0; i < len(log); i += 32 << 10 {
			w.Write(log[i:min(i+32<<10, len(log))])
		}
		w.Close()
	}
	reportPerCPU(b, start, len(log))
	b.ReportMetric(float64(k.patterns()), "patterns")
}

// BenchmarkAdd100Secrets measures loading 100 secrets one at a time, each
// Add followed by a Mask (so the automaton is rebuilt 100 times).
func BenchmarkAdd100Secrets(b *testing.B) {
	secrets := benchSecrets(100)
	for b.Loop() {
		k := NewMasker()
		for _, s := range secrets {
			k.Add(s)
			k.Mask("x")
		}
	}
}

// BenchmarkMask100SecretsCleanLog measures the common case: 100 secrets
// loaded (about 1,200 patterns with their encodings) and a log that holds
// none of them.
func BenchmarkMask100SecretsCleanLog(b *testing.B) {
	secrets := benchSecrets(100)
	k := newMasker(b, secrets...)
	lines := strings.SplitAfter(benchLog(4<<20, benchSecrets(101)[100:]), "\n")
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	k.Mask("")
	b.SetBytes(int64(size))
	start := cpuTime()
	for b.Loop() {
		for _, l := range lines {
			_ = k.Mask(l)
		}
	}
	reportPerCPU(b, start, size)
	b.ReportMetric(float64(k.patterns()), "patterns")
}

// BenchmarkMask100SecretsWithKeys loads 90 short secrets and 10 PEM-like
// multi-line keys (each line masked on its own too).
func BenchmarkMask100SecretsWithKeys(b *testing.B) {
	secrets := benchSecrets(100)
	for i := 90; i < 100; i++ {
		var pem strings.Builder
		pem.WriteString("-----BEGIN PRIVATE KEY-----\n")
		for j := range 12 {
			pem.WriteString(base64.StdEncoding.EncodeToString([]byte(strings.Repeat(secrets[i], 4)[:48-j])) + "\n")
		}
		pem.WriteString("-----END PRIVATE KEY-----\n")
		secrets[i] = pem.String()
	}
	k := newMasker(b, secrets...)
	log := benchLog(4<<20, secrets[:90])
	lines := strings.SplitAfter(log, "\n")
	k.Mask("")
	b.SetBytes(int64(len(log)))
	start := cpuTime()
	for b.Loop() {
		for _, l := range lines {
			_ = k.Mask(l)
		}
	}
	reportPerCPU(b, start, len(log))
	b.ReportMetric(float64(k.patterns()), "patterns")
}

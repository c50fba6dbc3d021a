// Package secret holds the log masker that keeps secret values out of every
// log line, and the resolution of conveyor.yaml's variable groups (Groups),
// whose secrets come from the vault providers of package vault.
//
// A Masker replaces each registered value, each line of a multi-line value,
// and their encoded forms by "***" in one pass over the text (an
// Aho–Corasick automaton rebuilt lazily after Add): base64 (both alphabets,
// padded or not, and the stable characters of the value inside a longer
// base64 stream at each of the 3 byte alignments), percent escapes as Go,
// Python, JavaScript and curl write them (upper- and lower-case hex), JSON
// string escapes (with or without HTML, non-ASCII and '/' escaped) and hex.
// Values shorter than MinLength are not masked (Add warns). Masker.Writer
// masks a stream line by line so a secret split across writes is still
// caught. Not caught: an encoding wrapped over several lines (base64 -w76,
// PEM bodies of a non-PEM secret), since masking is per line.
//
// It must not import the engine, the store or anything above it in the flow.
package secret

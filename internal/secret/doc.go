// Package secret holds vault providers and the log masker that keeps
// secret values out of every log line.
//
// A Masker replaces each registered value, and its base64, URL, JSON and hex
// forms, by "***" in one pass over the text (an Aho–Corasick automaton
// rebuilt lazily after Add); Masker.Writer masks a stream line by line so a
// secret split across writes is still caught.
//
// It must not import the engine, the store or anything above it in the flow.
package secret

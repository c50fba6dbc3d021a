// Command minish is a tiny static stand-in for /bin/sh in test images: it
// runs `sh -c SCRIPT` where SCRIPT is commands joined by && or ;, each
// echo, cat, mkdir [-p], true or false, with an optional > or >> redirection.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 3 || os.Args[1] != "-c" {
		fmt.Fprintln(os.Stderr, "minish: usage: sh -c SCRIPT")
		os.Exit(2)
	}
	code := 0
	for _, part := range strings.Split(os.Args[2], ";") {
		for _, cmd := range strings.Split(part, "&&") {
			if code = run(strings.Fields(cmd)); code != 0 {
				break
			}
		}
	}
	os.Exit(code)
}

func run(words []string) int {
	if len(words) == 0 {
		return 0
	}
	var out io.Writer = os.Stdout
	for i, w := range words {
		if w == ">" || w == ">>" {
			if i+1 >= len(words) {
				fmt.Fprintln(os.Stderr, "minish: redirection without a file")
				return 2
			}
			flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
			if w == ">>" {
				flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
			}
			f, err := os.OpenFile(words[i+1], flags, 0o644)
			if err != nil {
				fmt.Fprintln(os.Stderr, "minish:", err)
				return 1
			}
			defer f.Close()
			out = f
			words = words[:i]
			break
		}
	}
	switch words[0] {
	case "echo":
		fmt.Fprintln(out, strings.Join(words[1:], " "))
	case "cat":
		for _, p := range words[1:] {
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintln(os.Stderr, "minish:", err)
				return 1
			}
			out.Write(data)
		}
	case "mkdir":
		for _, p := range words[1:] {
			if p == "-p" {
				continue
			}
			if err := os.MkdirAll(p, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "minish:", err)
				return 1
			}
		}
	case "true":
	case "false":
		return 1
	default:
		fmt.Fprintf(os.Stderr, "minish: %s: command not found\n", words[0])
		return 127
	}
	return 0
}

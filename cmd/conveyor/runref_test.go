package main

import (
	"strings"
	"testing"
)

func TestPickRun(t *testing.T) {
	runs := []runRef{
		{ID: "01M8HQF79V7XGNWSCHR9J8YVXV", Pipeline: "cd", Number: 1},
		{ID: "01M8HQF30F333ZNSQCBH9E67NN", Pipeline: "ci", Number: 2},
		{ID: "01M8HQF15G10TAWDJAWF5GV4G0", Pipeline: "ci", Number: 1},
	}
	for _, tt := range []struct {
		ref  string
		want int    // index, or -1
		err  string // part of the error
	}{
		{"ci#1", 2, ""},
		{"CD#1", 0, ""},
		{"#2", 1, ""},
		{"2", 1, ""},
		{"#1", -1, "ambiguous: it names cd#1 (01M8HQF79V7XGNWSCHR9J8YVXV), ci#1 (01M8HQF15G10TAWDJAWF5GV4G0)"},
		{"01m8hqf3", 1, ""},
		{"01M8HQF", -1, "ambiguous"},
		{"pr#1", -1, "not found"},
		{"#9", -1, "not found"},
		{"zz", -1, "not found"},
	} {
		got, err := pickRun(tt.ref, runs)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("pickRun(%q) = %d, %v; want %d, error containing %q", tt.ref, got, err, tt.want, tt.err)
		}
	}
}

package agent

import "testing"

func TestSatisfies(t *testing.T) {
	caps := map[string]string{"Agent.OS": "Linux", "docker": "", "java": "17"}
	tests := []struct {
		demands []string
		want    string // the unmet demand, "" when all are met
	}{
		{nil, ""},
		{[]string{"docker"}, ""},
		{[]string{"DOCKER"}, ""},
		{[]string{"agent.os -equals Linux"}, ""},
		{[]string{"Agent.OS -EQUALS Linux", "java -equals 17"}, ""},
		{[]string{"agent.os -equals linux"}, "agent.os -equals linux"},
		{[]string{"docker", "gpu"}, "gpu"},
		{[]string{"java -equals 21"}, "java -equals 21"},
	}
	for _, tt := range tests {
		if got := Unmet(caps, tt.demands); got != tt.want {
			t.Errorf("Unmet(%q) = %q, want %q", tt.demands, got, tt.want)
		}
		if got := Satisfies(caps, tt.demands); got != (tt.want == "") {
			t.Errorf("Satisfies(%q) = %v", tt.demands, got)
		}
	}
}

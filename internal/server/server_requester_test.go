package server

import "testing"

func TestRequesterMapsForgeUsersToConveyorUsers(t *testing.T) {
	users := []string{"ann", "Bob"}
	tests := []struct{ forge, want string }{
		{"ann", "ann"},
		{"ANN", "ann"},
		{"bob", "Bob"},
		{"ann@example.com", "ann"}, // Azure Repos' uniqueName
		{"Bob@contoso.onmicrosoft.com", "Bob"},
		{"carol", "carol"}, // not a conveyor user: kept
		{"carol@example.com", "carol@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.forge, func(t *testing.T) {
			if got := Requester(tt.forge, users); got != tt.want {
				t.Errorf("Requester(%q) = %q, want %q", tt.forge, got, tt.want)
			}
		})
	}
}

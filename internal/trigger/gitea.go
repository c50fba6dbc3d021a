package trigger

import (
	"fmt"
	"net/http"
)

// gitea reads Gitea and Forgejo webhooks: X-Gitea-Event, X-Gitea-Delivery
// and X-Gitea-Signature (hex HMAC-SHA256 of the body, no prefix). Forgejo
// sends the same headers (and X-Forgejo-*).
type gitea struct{}

func (gitea) name() string { return "gitea" }

func (gitea) verify(h http.Header, body []byte, secret string) error {
	header := "X-Gitea-Signature"
	sig := h.Get(header)
	if sig == "" && h.Get("X-Forgejo-Signature") != "" {
		header = "X-Forgejo-Signature"
		sig = h.Get(header)
	}
	return checkHMAC(header, sig, body, secret)
}

func (g gitea) parse(h http.Header, body []byte) (Event, error) {
	delivery := h.Get("X-Gitea-Delivery")
	if delivery == "" {
		delivery = h.Get("X-Forgejo-Delivery")
	}
	kind := h.Get("X-Gitea-Event")
	if kind == "" {
		kind = h.Get("X-Forgejo-Event")
	}
	switch kind {
	case "push":
		return parseHubPush(g.name(), delivery, body)
	case "pull_request":
		return parseHubPull(g.name(), delivery, body)
	case "":
		return Event{}, fmt.Errorf("gitea delivery: X-Gitea-Event header missing")
	default:
		return parseRepoOnly(g.name(), delivery, body)
	}
}

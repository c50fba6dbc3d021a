package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
)

// Providers are the webhook providers, by the last element of their
// endpoint path (/webhooks/<provider>).
var Providers = []string{"github", "gitea", "azure-repos"}

// provider reads and verifies one forge's deliveries.
type provider interface {
	name() string
	// parse reads the event from the delivery; it trusts nothing yet.
	parse(h http.Header, body []byte) (Event, error)
	// verify checks the delivery against the repository's secret; its
	// errors wrap errUnauthorized.
	verify(h http.Header, body []byte, secret string) error
}

func providerByName(name string) (provider, bool) {
	switch name {
	case "github":
		return github{}, true
	case "gitea", "forgejo":
		return gitea{}, true
	case "azure-repos", "azure":
		return azureRepos{}, true
	}
	return nil, false
}

// MaxPayload is the largest webhook body accepted (GitHub caps its
// payloads at 25 MB).
const MaxPayload = 25 << 20

// Webhooks receives webhook deliveries: it verifies each with the matched
// repository's webhookSecret (401 and nothing started when the signature or
// secret is bad or missing), drops replayed delivery ids (200, status
// "duplicate"), and dispatches the event synchronously (202 with the
// Outcome). Safe for concurrent use.
type Webhooks struct {
	d          *Dispatcher
	deliveries Deliveries
}

// NewWebhooks returns the webhook receiver; deliveries remembers delivery
// ids (the store in the server).
func NewWebhooks(d *Dispatcher, deliveries Deliveries) *Webhooks {
	return &Webhooks{d: d, deliveries: deliveries}
}

// Response is the JSON body of every webhook answer.
type Response struct {
	Status string `json:"status"` // accepted, duplicate, ignored or error
	Error  string `json:"error,omitempty"`
	Outcome
}

// ServeHTTP serves POST /webhooks/{github,gitea,azure-repos}: the provider
// is the last element of the path.
func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.Handler(path.Base(r.URL.Path)).ServeHTTP(rw, r)
}

// Handler serves one provider's deliveries (github, gitea or azure-repos).
func (w *Webhooks) Handler(name string) http.Handler {
	p, ok := providerByName(name)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !ok {
			reply(rw, http.StatusNotFound, Response{Status: "error", Error: fmt.Sprintf("webhook provider %q: want one of %s", name, strings.Join(Providers, ", "))})
			return
		}
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			reply(rw, http.StatusMethodNotAllowed, Response{Status: "error", Error: "webhooks are delivered with POST"})
			return
		}
		status, resp := w.serve(r, p)
		reply(rw, status, resp)
	})
}

func (w *Webhooks) serve(r *http.Request, p provider) (int, Response) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, Response{Status: "error", Error: fmt.Sprintf("%s delivery larger than %d bytes", p.name(), MaxPayload)}
		}
		return http.StatusBadRequest, Response{Status: "error", Error: fmt.Sprintf("read %s delivery: %v", p.name(), err)}
	}
	ev, err := p.parse(r.Header, body)
	if err != nil {
		return http.StatusBadRequest, Response{Status: "error", Error: err.Error()}
	}
	repo, ok := MatchRepository(w.d.Repositories(), ev.Repo)
	if !ok {
		return http.StatusNotFound, Response{Status: "error", Error: fmt.Sprintf("%s delivery for repository %q (%s): no repository in conveyor.yaml has this URL or name: add it under repositories",
			p.name(), ev.Repo.FullName, strings.Join(ev.Repo.URLs, ", "))}
	}
	if repo.WebhookSecret == "" {
		return http.StatusUnauthorized, Response{Status: "error", Error: fmt.Sprintf("repository %s has no webhookSecret in conveyor.yaml: set one and give the same secret to the %s webhook", repo.Name, p.name())}
	}
	if err := p.verify(r.Header, body, repo.WebhookSecret); err != nil {
		return http.StatusUnauthorized, Response{Status: "error", Error: fmt.Sprintf("%s delivery for repository %s: %v", p.name(), repo.Name, err)}
	}
	if ev.Kind == "" {
		return http.StatusOK, Response{Status: "ignored", Outcome: Outcome{Ignored: "event does not trigger pipelines"}}
	}
	ctx := r.Context()
	if ev.DeliveryID != "" && w.deliveries != nil {
		fresh, err := w.deliveries.ClaimDelivery(ctx, p.name(), ev.DeliveryID)
		if err != nil {
			return http.StatusInternalServerError, Response{Status: "error", Error: fmt.Sprintf("record delivery %s: %v", ev.DeliveryID, err)}
		}
		if !fresh {
			return http.StatusOK, Response{Status: "duplicate", Outcome: Outcome{Duplicate: true}}
		}
	}
	out, err := w.d.Dispatch(ctx, repo, ev)
	if err != nil {
		if ev.DeliveryID != "" && w.deliveries != nil && len(out.Started) == 0 {
			// Nothing started: let the forge's redelivery try again.
			_ = w.deliveries.ReleaseDelivery(ctx, p.name(), ev.DeliveryID)
		}
		return http.StatusInternalServerError, Response{Status: "error", Error: err.Error(), Outcome: out}
	}
	if out.Ignored != "" && len(out.Started) == 0 {
		return http.StatusOK, Response{Status: "ignored", Outcome: out}
	}
	return http.StatusAccepted, Response{Status: "accepted", Outcome: out}
}

func reply(rw http.ResponseWriter, status int, resp Response) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(resp)
}

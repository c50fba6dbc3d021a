package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// HashiCorp reads secrets from a HashiCorp Vault or OpenBao KV version 2
// mount over its HTTP API. A secret name is a path under the mount (and the
// configured prefix); its value is the field "value" of the secret's data,
// or its only field, or the field named after '#' ("db/creds#password").
// Safe for concurrent use.
type HashiCorp struct {
	addr   *url.URL
	mount  string
	prefix string
	client *http.Client

	// AppRole credentials; empty roleID means token authentication.
	roleID, secretID string

	mu    sync.Mutex
	token string
}

var _ Provider = (*HashiCorp)(nil)

// HashiCorpOptions configure a HashiCorp provider.
type HashiCorpOptions struct {
	// Address is the server's URL, e.g. http://127.0.0.1:8200.
	Address string
	// Mount is the KV v2 mount (default "secret").
	Mount string
	// Path is a prefix under the mount prepended to every secret name.
	Path string
	// Token authenticates with a Vault token.
	Token string
	// RoleID and SecretID authenticate with AppRole (used when RoleID is set).
	RoleID, SecretID string
	// Client is the HTTP client (default: one with a 30 s timeout).
	Client *http.Client
}

// NewHashiCorp returns a provider for the KV v2 mount described by o. It
// does not contact the server: the first Get or List does (and logs in with
// AppRole when configured).
func NewHashiCorp(o HashiCorpOptions) (*HashiCorp, error) {
	if o.Address == "" {
		return nil, errors.New("vault provider: no address: set address, e.g. http://127.0.0.1:8200")
	}
	u, err := url.Parse(strings.TrimRight(o.Address, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vault provider: address %q is not an http(s) URL", o.Address)
	}
	if o.Token == "" && o.RoleID == "" {
		return nil, fmt.Errorf("vault provider %s: no credentials: set token, or roleID and secretID for AppRole", u.Redacted())
	}
	if o.RoleID != "" && o.SecretID == "" {
		return nil, fmt.Errorf("vault provider %s: roleID without secretID: AppRole needs both", u.Redacted())
	}
	mount := strings.Trim(o.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	h := &HashiCorp{addr: u, mount: mount, prefix: strings.Trim(o.Path, "/"), client: c, roleID: o.RoleID, secretID: o.SecretID}
	if o.RoleID == "" {
		h.token = o.Token
	}
	return h, nil
}

// String names the provider without credentials.
func (h *HashiCorp) String() string { return "vault " + h.addr.Redacted() + "/" + h.mount }

// splitField splits "path#field" into its parts.
func splitField(name string) (string, string) {
	p, f, _ := strings.Cut(name, "#")
	return p, f
}

func (h *HashiCorp) secretPath(p string) string {
	p = strings.Trim(p, "/")
	if h.prefix != "" {
		p = h.prefix + "/" + p
	}
	return p
}

// Get returns the secret's value: its "value" field, its only field, or
// the field named after '#'.
func (h *HashiCorp) Get(ctx context.Context, name string) ([]byte, error) {
	p, field := splitField(name)
	if err := ValidateName(p); err != nil {
		return nil, fmt.Errorf("%s: %w", h, err)
	}
	var resp struct {
		Data struct {
			Data     map[string]any `json:"data"`
			Metadata struct {
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := h.call(ctx, http.MethodGet, "/v1/"+h.mount+"/data/"+escapePath(h.secretPath(p)), nil, &resp); err != nil {
		return nil, fmt.Errorf("%s: secret %s: %w", h, p, err)
	}
	data := resp.Data.Data
	if data == nil {
		// A deleted or destroyed latest version answers 404 with metadata.
		return nil, fmt.Errorf("%s: secret %s: %w", h, p, ErrNotFound)
	}
	v, err := pickField(data, field)
	if err != nil {
		return nil, fmt.Errorf("%s: secret %s: %w", h, p, err)
	}
	return v, nil
}

// pickField chooses the value of a KV secret's data.
func pickField(data map[string]any, field string) ([]byte, error) {
	if field == "" {
		if _, ok := data["value"]; ok {
			field = "value"
		} else if len(data) == 1 {
			for k := range data {
				field = k
			}
		} else {
			keys := make([]string, 0, len(data))
			for k := range data {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return nil, fmt.Errorf("%d fields (%s) and none is named value: name one as secret#field", len(data), strings.Join(keys, ", "))
		}
	}
	v, ok := data[field]
	if !ok {
		return nil, fmt.Errorf("field %s: %w", field, ErrNotFound)
	}
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case nil:
		return []byte{}, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", field, err)
		}
		return b, nil
	}
}

// List returns the secrets under the mount (and prefix), recursively, with
// their version counts and times.
func (h *HashiCorp) List(ctx context.Context) ([]Info, error) {
	var out []Info
	var walk func(dir string) error
	walk = func(dir string) error {
		var resp struct {
			Data struct {
				Keys []string `json:"keys"`
			} `json:"data"`
		}
		p := h.secretPath(dir)
		err := h.call(ctx, "LIST", "/v1/"+h.mount+"/metadata/"+escapePath(p), nil, &resp)
		if errors.Is(err, ErrNotFound) {
			return nil // an empty mount or folder
		}
		if err != nil {
			return err
		}
		for _, k := range resp.Data.Keys {
			name := strings.TrimPrefix(dir+"/"+k, "/")
			if strings.HasSuffix(k, "/") {
				if err := walk(strings.TrimSuffix(name, "/")); err != nil {
					return err
				}
				continue
			}
			info, err := h.info(ctx, name)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, fmt.Errorf("%s: list: %w", h, err)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// info reads one secret's metadata; a secret whose current version is
// deleted or destroyed is ErrNotFound.
func (h *HashiCorp) info(ctx context.Context, name string) (Info, error) {
	var resp struct {
		Data struct {
			CreatedTime    time.Time `json:"created_time"`
			UpdatedTime    time.Time `json:"updated_time"`
			CurrentVersion int       `json:"current_version"`
			Versions       map[string]struct {
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"versions"`
		} `json:"data"`
	}
	if err := h.call(ctx, http.MethodGet, "/v1/"+h.mount+"/metadata/"+escapePath(h.secretPath(name)), nil, &resp); err != nil {
		return Info{}, fmt.Errorf("secret %s: %w", name, err)
	}
	cur := resp.Data.Versions[fmt.Sprint(resp.Data.CurrentVersion)]
	if cur.Destroyed || cur.DeletionTime != "" {
		return Info{}, ErrNotFound
	}
	return Info{Name: name, Versions: len(resp.Data.Versions), Created: resp.Data.CreatedTime, Updated: resp.Data.UpdatedTime}, nil
}

// Set writes a new version of the secret with value as its "value" field
// (or the field after '#'). It returns the new version number.
func (h *HashiCorp) Set(ctx context.Context, name string, value []byte) (int, error) {
	p, field := splitField(name)
	if err := ValidateName(p); err != nil {
		return 0, fmt.Errorf("%s: %w", h, err)
	}
	if field == "" {
		field = "value"
	}
	body := map[string]any{"data": map[string]string{field: string(value)}}
	var resp struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	if err := h.call(ctx, http.MethodPost, "/v1/"+h.mount+"/data/"+escapePath(h.secretPath(p)), body, &resp); err != nil {
		return 0, fmt.Errorf("%s: set secret %s: %w", h, p, err)
	}
	return resp.Data.Version, nil
}

// escapePath escapes each element of a slash-separated path.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// call sends one request with the token (logging in first with AppRole when
// needed, and once more when the token was refused) and decodes the JSON
// answer into out. A 404 is ErrNotFound.
func (h *HashiCorp) call(ctx context.Context, method, path string, body, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := h.currentToken(ctx)
		if err != nil {
			return err
		}
		status, err := h.do(ctx, method, path, tok, body, out)
		if status == http.StatusForbidden && h.roleID != "" && attempt == 0 {
			h.mu.Lock()
			if h.token == tok {
				h.token = "" // expired: log in again
			}
			h.mu.Unlock()
			continue
		}
		return err
	}
}

func (h *HashiCorp) currentToken(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.token != "" {
		return h.token, nil
	}
	var resp struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	login := map[string]string{"role_id": h.roleID, "secret_id": h.secretID}
	if _, err := h.do(ctx, http.MethodPost, "/v1/auth/approle/login", "", login, &resp); err != nil {
		return "", fmt.Errorf("approle login: %w", err)
	}
	if resp.Auth.ClientToken == "" {
		return "", errors.New("approle login: the answer holds no token")
	}
	h.token = resp.Auth.ClientToken
	return h.token, nil
}

// do sends one HTTP request and returns the status. Errors carry the
// server's error messages, never the request body or the token.
func (h *HashiCorp) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.addr.String()+path, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, redactURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		// KV v2 answers 404 with the metadata of a deleted version; keep
		// decoding so the caller can tell, but report not found.
		return resp.StatusCode, ErrNotFound
	case resp.StatusCode == http.StatusNoContent:
		return resp.StatusCode, nil
	case resp.StatusCode >= 300:
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(data, &e)
		msg := strings.Join(e.Errors, "; ")
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		hint := ""
		if resp.StatusCode == http.StatusForbidden {
			hint = ": check the token or AppRole and its policy"
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s%s", method, path, resp.StatusCode, msg, hint)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// redactURLError drops credentials a URL error may carry.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = u.Redacted()
		}
	}
	return err
}

package trigger

import (
	"net/url"
	"path/filepath"
	"strings"

	"conveyor.dev/conveyor/internal/config"
)

// MatchRepository finds the repository of conveyor.yaml an event names: the
// first whose URL equals one of the event's clone URLs (compared without
// scheme, credentials, port-less default, ".git" suffix and case of the
// host), else the first whose name equals the event's full name or whose
// URL path ends with it. ok is false when none matches.
func MatchRepository(repos []config.Repository, ref RepoRef) (config.Repository, bool) {
	for _, u := range ref.URLs {
		want := normalizeURL(u)
		for _, r := range repos {
			if want != "" && normalizeURL(r.URL) == want {
				return r, true
			}
		}
	}
	if ref.FullName == "" {
		return config.Repository{}, false
	}
	full := strings.ToLower(strings.Trim(ref.FullName, "/"))
	for _, r := range repos {
		if strings.EqualFold(r.Name, ref.FullName) {
			return r, true
		}
	}
	for _, r := range repos {
		n := normalizeURL(r.URL)
		if n == full || strings.HasSuffix(n, "/"+full) {
			return r, true
		}
	}
	return config.Repository{}, false
}

// normalizeURL reduces a git URL to host/path (or a clean local path) for
// comparison: https://User@Host:443/a/b.git, ssh://git@host/a/b and
// git@host:a/b all become host/a/b.
func normalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "file://") {
		return filepath.Clean(strings.TrimPrefix(s, "file://"))
	}
	var host, p string
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		host, p = u.Hostname(), u.Path
		port := u.Port()
		if port != "" && !(port == "443" && u.Scheme == "https") && !(port == "80" && u.Scheme == "http") && !(port == "22" && u.Scheme == "ssh") {
			host += ":" + port
		}
	} else if at, rest, ok := strings.Cut(s, "@"); ok && !strings.Contains(at, "/") {
		// scp-like: git@host:owner/repo
		h, pp, _ := strings.Cut(rest, ":")
		host, p = h, pp
	} else {
		return strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	return strings.ToLower(host) + "/" + strings.ToLower(p)
}

package supplychain

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"runtime/debug"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Package is one software package found in an image.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem: Go, npm, PyPI, "Debian:12",
	// "Alpine:v3.20" (without the release when the image does not say).
	Ecosystem string `json:"ecosystem"`
	// PURL is the package URL.
	PURL string `json:"purl"`
	// Location is the file it was read from, in the image.
	Location string `json:"location"`
	// SourceName is the source package of a Debian binary package or the
	// origin of an Alpine one, when it differs (OSV's Debian and Alpine
	// records name those).
	SourceName string `json:"sourceName,omitempty"`
}

// maxBinaryBytes bounds the executables read for Go build information.
const maxBinaryBytes = 512 << 20

// Catalog lists the packages of an image's file system (layers flattened,
// whiteouts applied): Go modules and the Go standard library of every Go
// executable (debug/buildinfo), Debian packages (var/lib/dpkg/status and
// status.d), Alpine packages (lib/apk/db/installed), npm packages
// (node_modules/**/package.json) and Python distributions (*.dist-info/METADATA,
// *.egg-info/PKG-INFO). The result is sorted by ecosystem, name, version and
// location.
func Catalog(img v1.Image) ([]Package, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	return catalogTar(rc)
}

// catalogTar catalogs a flattened file system as a tar stream.
func catalogTar(r io.Reader) ([]Package, error) {
	var (
		pkgs      []Package
		osRelease map[string]string
		debs      []Package
		apks      []Package
	)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read layers: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		base := path.Base(p)
		switch {
		case p == "etc/os-release" || (p == "usr/lib/os-release" && osRelease == nil):
			b, err := io.ReadAll(io.LimitReader(tr, 64<<10))
			if err != nil {
				return nil, fmt.Errorf("catalog: %s: %w", p, err)
			}
			osRelease = parseOSRelease(b)
		case p == "var/lib/dpkg/status" || strings.HasPrefix(p, "var/lib/dpkg/status.d/") && !strings.Contains(base, "."):
			debs = append(debs, parseDpkgStatus(tr, p)...)
		case p == "lib/apk/db/installed":
			apks = append(apks, parseApkInstalled(tr, p)...)
		case base == "package.json" && strings.Contains(p, "node_modules/"):
			if pk, ok := parseNpmPackage(tr, p); ok {
				pkgs = append(pkgs, pk)
			}
		case (base == "METADATA" && strings.HasSuffix(path.Dir(p), ".dist-info")) ||
			(base == "PKG-INFO" && strings.HasSuffix(path.Dir(p), ".egg-info")):
			if pk, ok := parsePythonMetadata(tr, p); ok {
				pkgs = append(pkgs, pk)
			}
		case h.Mode&0o111 != 0 && h.Size > 4 && h.Size < maxBinaryBytes:
			gp, err := goPackages(tr, h.Size, p)
			if err != nil {
				return nil, err
			}
			pkgs = append(pkgs, gp...)
		}
	}
	debEco, apkEco := distroEcosystems(osRelease)
	for _, d := range debs {
		d.Ecosystem = debEco
		d.PURL = debPURL(d, osRelease)
		pkgs = append(pkgs, d)
	}
	for _, a := range apks {
		a.Ecosystem = apkEco
		a.PURL = apkPURL(a, osRelease)
		pkgs = append(pkgs, a)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Location < b.Location
	})
	return pkgs, nil
}

// goPackages reads the Go build information of an executable, if it is one.
func goPackages(r io.Reader, size int64, loc string) ([]Package, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	if !bytes.Equal(magic, []byte("\x7fELF")) && !bytes.Equal(magic, []byte("MZ\x90\x00")) &&
		!bytes.Equal(magic[:min(len(magic), 4)], []byte{0xcf, 0xfa, 0xed, 0xfe}) {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(br, size))
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", loc, err)
	}
	bi, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		return nil, nil // not a Go binary, or one without build information
	}
	var out []Package
	if v := strings.TrimPrefix(bi.GoVersion, "go"); v != "" {
		if i := strings.IndexAny(v, " "); i >= 0 {
			v = v[:i]
		}
		out = append(out, Package{Name: "stdlib", Version: v, Ecosystem: "Go", PURL: "pkg:golang/stdlib@" + v, Location: loc})
	}
	add := func(m *debug.Module) {
		if m == nil || m.Path == "" || m.Version == "" || m.Version == "(devel)" {
			return
		}
		if m.Replace != nil && m.Replace.Version != "" {
			m = m.Replace
		}
		out = append(out, Package{Name: m.Path, Version: m.Version, Ecosystem: "Go", PURL: "pkg:golang/" + m.Path + "@" + m.Version, Location: loc})
	}
	add(&bi.Main)
	for _, d := range bi.Deps {
		add(d)
	}
	return out, nil
}

func parseOSRelease(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m
}

// distroEcosystems are the OSV ecosystems of Debian and Alpine packages of
// the image: "Debian:12" and "Alpine:v3.20" when os-release says.
func distroEcosystems(osr map[string]string) (deb, apk string) {
	deb, apk = "Debian", "Alpine"
	switch osr["ID"] {
	case "debian":
		if v := osr["VERSION_ID"]; v != "" {
			deb = "Debian:" + v
		}
	case "ubuntu":
		deb = "Ubuntu"
		if v := osr["VERSION_ID"]; v != "" {
			deb = "Ubuntu:" + v
		}
	case "alpine":
		if parts := strings.Split(osr["VERSION_ID"], "."); len(parts) >= 2 {
			apk = "Alpine:v" + parts[0] + "." + parts[1]
		}
	}
	return deb, apk
}

// parseDpkgStatus reads the installed packages of a dpkg status file.
func parseDpkgStatus(r io.Reader, loc string) []Package {
	var out []Package
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	cur := map[string]string{}
	flush := func() {
		if cur["Package"] != "" && cur["Version"] != "" && (cur["Status"] == "" || strings.HasSuffix(cur["Status"], " installed")) {
			src := cur["Source"]
			if i := strings.IndexByte(src, ' '); i >= 0 {
				src = src[:i] // "openssl (3.0.1-1)"
			}
			out = append(out, Package{Name: cur["Package"], Version: cur["Version"], Location: loc, SourceName: src, PURL: cur["Architecture"]})
		}
		cur = map[string]string{}
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			cur[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// parseApkInstalled reads apk's installed database.
func parseApkInstalled(r io.Reader, loc string) []Package {
	var out []Package
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	cur := map[string]string{}
	flush := func() {
		if cur["P"] != "" && cur["V"] != "" {
			out = append(out, Package{Name: cur["P"], Version: cur["V"], Location: loc, SourceName: cur["o"], PURL: cur["A"]})
		}
		cur = map[string]string{}
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if len(line) > 2 && line[1] == ':' {
			cur[line[:1]] = line[2:]
		}
	}
	flush()
	return out
}

// debPURL builds pkg:deb/<distro>/<name>@<version>?arch=…&distro=…; on
// entry d.PURL holds the architecture.
func debPURL(d Package, osr map[string]string) string {
	ns := "debian"
	if osr["ID"] == "ubuntu" {
		ns = "ubuntu"
	}
	q := url.Values{}
	if d.PURL != "" {
		q.Set("arch", d.PURL)
	}
	if v := osr["VERSION_ID"]; v != "" {
		q.Set("distro", ns+"-"+v)
	}
	return purl("deb", ns, d.Name, d.Version, q)
}

func apkPURL(a Package, osr map[string]string) string {
	q := url.Values{}
	if a.PURL != "" {
		q.Set("arch", a.PURL)
	}
	if v := osr["VERSION_ID"]; v != "" {
		q.Set("distro", "alpine-"+v)
	}
	return purl("apk", "alpine", a.Name, a.Version, q)
}

func purl(typ, ns, name, version string, q url.Values) string {
	s := "pkg:" + typ + "/"
	if ns != "" {
		s += purlEscape(ns) + "/"
	}
	s += purlEscape(name) + "@" + purlEscape(version)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// purlEscape percent-encodes a purl segment ("@" too).
func purlEscape(s string) string { return strings.ReplaceAll(url.PathEscape(s), "@", "%40") }

func parseNpmPackage(r io.Reader, loc string) (Package, bool) {
	var pj struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	b, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil || json.Unmarshal(b, &pj) != nil || pj.Name == "" || pj.Version == "" {
		return Package{}, false
	}
	// Only a package's own package.json: node_modules/<name>/package.json.
	if !strings.HasSuffix(path.Dir(loc), "node_modules/"+pj.Name) {
		return Package{}, false
	}
	ns, n := "", pj.Name
	if strings.HasPrefix(n, "@") {
		if i := strings.IndexByte(n, '/'); i > 0 {
			ns, n = n[:i], n[i+1:]
		}
	}
	return Package{Name: pj.Name, Version: pj.Version, Ecosystem: "npm", PURL: purl("npm", ns, n, pj.Version, nil), Location: loc}, true
}

func parsePythonMetadata(r io.Reader, loc string) (Package, bool) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	var n, v string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // headers end
		}
		if k, val, ok := strings.Cut(line, ": "); ok {
			switch k {
			case "Name":
				n = val
			case "Version":
				v = val
			}
		}
	}
	if n == "" || v == "" {
		return Package{}, false
	}
	return Package{Name: n, Version: v, Ecosystem: "PyPI", PURL: purl("pypi", "", strings.ToLower(n), v, nil), Location: loc}, true
}

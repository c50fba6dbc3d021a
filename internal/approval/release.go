package approval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"conveyor.dev/conveyor/internal/store"
)

// IsDigestName reports whether a variable or output name carries an image
// digest: its last dot-separated element ends with "digest", case
// insensitive (digest, imageDigest, image.digest).
func IsDigestName(name string) bool {
	return strings.HasSuffix(strings.ToLower(lastElem(name)), "digest")
}

// IsManifestsHashName reports whether a name carries the hash of rendered
// manifests: its last element is manifestsHash or manifestHash (any case).
func IsManifestsHashName(name string) bool {
	l := strings.ToLower(lastElem(name))
	return l == "manifestshash" || l == "manifesthash"
}

// IsPinnedImage reports whether value is one image reference pinned by
// digest (registry/repo@sha256:<64 hex>), as the image outputs of Docker@2
// and PromoteImage@1 are: such an output releases that digest whatever
// its name.
func IsPinnedImage(value string) bool {
	_, d, ok := strings.Cut(value, "@sha256:")
	if !ok || len(d) != 64 || strings.ContainsAny(value, " \t\n,") {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func lastElem(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i+1:]
	}
	return name
}

// ReleaseOf returns what a run has produced for an approval to release:
// every output of its latest job records and every run variable whose name
// says it is a digest or a manifests hash, or whose value is an image
// pinned by digest. Outputs are named
// "<job record>.<output>" ("Build.Push.push.imageDigest"); several
// manifests hashes are folded into one sha256 over their sorted names and
// values.
func ReleaseOf(vars map[string]string, recs []store.Record) store.Release {
	latest := map[string]store.Record{}
	for _, r := range recs {
		if r.Type != store.RecordJob {
			continue
		}
		if old, ok := latest[r.ID]; !ok || r.Attempt > old.Attempt {
			latest[r.ID] = r
		}
	}
	digests := map[string]string{}
	hashes := map[string]string{}
	add := func(name, value string) {
		switch {
		case IsDigestName(name), IsPinnedImage(value):
			digests[name] = value
		case IsManifestsHashName(name):
			hashes[name] = value
		}
	}
	for k, v := range vars {
		add(k, v)
	}
	for _, r := range latest {
		for k, v := range r.Outputs {
			add(r.ID+"."+k, v)
		}
	}
	rel := store.Release{}
	if len(digests) > 0 {
		rel.Digests = digests
	}
	switch len(hashes) {
	case 0:
	case 1:
		for _, v := range hashes {
			rel.ManifestsHash = v
		}
	default:
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(hashes)) {
			fmt.Fprintf(h, "%s=%s\n", k, hashes[k])
		}
		rel.ManifestsHash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	return rel
}

// ReleaseChanges lists what differs in cur from the release an approval
// was asked for: digests changed or gone, and a changed manifests hash.
// Digests that appeared since (a later build) are not changes of what was
// approved.
func ReleaseChanges(asked, cur store.Release) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(asked.Digests)) {
		v, ok := cur.Digests[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s was %s and is gone", k, asked.Digests[k]))
		case v != asked.Digests[k]:
			out = append(out, fmt.Sprintf("%s changed from %s to %s", k, asked.Digests[k], v))
		}
	}
	if asked.ManifestsHash != cur.ManifestsHash && asked.ManifestsHash != "" {
		out = append(out, fmt.Sprintf("the manifests hash changed from %s to %s", asked.ManifestsHash, cur.ManifestsHash))
	}
	return out
}

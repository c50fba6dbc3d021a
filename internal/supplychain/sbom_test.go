package supplychain

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const sarifSchemaID = "https://raw.githubusercontent.com/schemastore/schemastore/master/src/schemas/json/sarif-2.1.0-rtm.5.json"

// compileSchema compiles one of the committed schemas, with the others
// registered at their $id so references resolve offline.
func compileSchema(t *testing.T, url string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for file, id := range map[string]string{
		"spdx-schema-2.3.json":          "http://spdx.org/rdf/terms/2.3",
		"bom-1.5.SNAPSHOT.schema.json":  "http://cyclonedx.org/schema/bom-1.5.SNAPSHOT.schema.json",
		"spdx.SNAPSHOT.schema.json":     "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
		"jsf-0.82.SNAPSHOT.schema.json": "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
		"sarif-2.1.0-rtm.5.json":        sarifSchemaID,
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	c.AssertFormat()
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("document does not validate: %v", err)
	}
}

func TestSBOMOfFixtureImage(t *testing.T) {
	ctx := t.Context()
	reg := startRegistry(t)
	ref := reg.pushImage(t, "vulnapp:v1", fixtureImage(t))

	sb, err := SBOM(ctx, reg.host+"/vulnapp:v1", SBOMOptions{Options: testOpts, Now: fixedClock(t, "2026-11-28T12:00:00Z"), ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if sb.Image != ref {
		t.Errorf("Image = %s, want %s", sb.Image, ref)
	}
	type pk struct{ Name, Version, Ecosystem, PURL, Source string }
	var got []pk
	for _, p := range sb.Packages {
		if p.Name == "stdlib" {
			p.Version, p.PURL = "X", "X" // the toolchain's version
		}
		got = append(got, pk{p.Name, p.Version, p.Ecosystem, p.PURL, p.SourceName})
	}
	want := []pk{
		{"base-files", "12.4+deb12u5", "Debian:12", "pkg:deb/debian/base-files@12.4+deb12u5?arch=amd64&distro=debian-12", ""},
		{"libssl3", "3.0.11-1~deb12u2", "Debian:12", "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", "openssl"},
		{"golang.org/x/text", "v0.3.7", "Go", "pkg:golang/golang.org/x/text@v0.3.7", ""},
		{"stdlib", "X", "Go", "X", ""},
		{"Jinja2", "2.10", "PyPI", "pkg:pypi/jinja2@2.10", ""},
		{"@scope/pkg", "1.0.0", "npm", "pkg:npm/%40scope/pkg@1.0.0", ""},
		{"lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}

	t.Run("SPDX 2.3 schema", func(t *testing.T) {
		validate(t, compileSchema(t, "http://spdx.org/rdf/terms/2.3"), sb.SPDX)
	})
	t.Run("CycloneDX 1.5 schema", func(t *testing.T) {
		validate(t, compileSchema(t, "http://cyclonedx.org/schema/bom-1.5.SNAPSHOT.schema.json"), sb.CycloneDX)
	})
	t.Run("schemas reject a broken document", func(t *testing.T) {
		s := compileSchema(t, "http://cyclonedx.org/schema/bom-1.5.SNAPSHOT.schema.json")
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"x"}]}`)))
		if s.Validate(inst) == nil {
			t.Error("a component without type validated")
		}
	})
	t.Run("SARIF schema rejects a broken log", func(t *testing.T) {
		s := compileSchema(t, sarifSchemaID)
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"fatal","message":{"text":"m"}}]}]}`)))
		if s.Validate(inst) == nil {
			t.Error("a result with level fatal validated")
		}
	})
	t.Run("attached as referrers", func(t *testing.T) {
		signer, _, pubPEM := testKey(t, "pw")
		pub, _ := ParsePublicKey(pubPEM)
		if err := AttachSBOM(ctx, sb, signer, testOpts); err != nil {
			t.Fatal(err)
		}
		for _, pt := range []string{PredicateSPDX, PredicateCycloneDX} {
			as, err := Attestations(ctx, ref, pt, pub, testOpts)
			if err != nil || len(as) != 1 {
				t.Errorf("Attestations(%s) = %d, %v; want 1", pt, len(as), err)
			}
		}
	})
}

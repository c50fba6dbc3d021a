package leak

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/secret/vault/vaulttest"
)

var env *kubeenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The canary needs a control plane, a Vault server and a build of
		// conveyor: several minutes on a busy machine.
		os.Exit(m.Run())
	}
	os.Exit(kubeenv.Main(m, kubeenv.Options{}, &env))
}

// The rule the canary applies: Conveyor must never write a secret, in any
// encoding, into anything it produces itself (step logs in the store, run
// records, issues, summaries, its own files in the data folder, its answers
// on stdout/stderr, the workspace after the job). Files that the user's
// script writes itself are the user's: a pipeline artifact the script fills
// with the raw secret is copied byte for byte, and the test checks exactly
// that (and that Conveyor added nothing else with the secret).
const pipelineYAML = `trigger: none
variables:
- name: plain
  value: visible
- group: canary-group
jobs:
- job: canary
  steps:
  - task: AzureKeyVault@2
    displayName: embedded secrets
    inputs:
      azureSubscription: kv-embedded
      KeyVaultName: default
      SecretsFilter: canary-embedded, canary-pem
  - task: AzureKeyVault@2
    displayName: vault secrets
    inputs:
      azureSubscription: kv-hashi
      KeyVaultName: the-team-vault
      SecretsFilter: '*'
  - bash: |
      set -eu
      urlenc() {
        for b in $(printf '%s' "$1" | od -An -tx1 -v); do
          case $b in
            2d|2e|5f|7e|3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]) printf "\\x$b" ;;
            *) printf '%%%s' "$(printf '%s' "$b" | tr a-f A-F)" ;;
          esac
        done
      }
      emit() {
        s="$2"
        echo "$1 raw: $s"
        echo "$1 stderr: $s" >&2
        printf '%s' "$s" | base64 -w0; echo
        echo "$s" | base64
        printf 'x%s' "$s" | base64 -w0; echo
        printf 'xy%s' "$s" | base64 -w0; echo
        printf 'xyzw%s!' "$s" | base64 -w0 | tr '+/' '-_'; echo
        urlenc "$s"; echo
        j=${s//\\/\\\\}; j=${j//\"/\\\"}; echo "{\"$1\":\"$j\"}"
        printf '%s' "$s" | od -An -tx1 -v | tr -d ' \n'; echo
        printf '%s' "${s:0:9}"; sleep 0.2; printf '%s\n' "${s:9}"
        bash -c 'echo "child of $0: $1"' "$1" "$s"
        echo "##vso[task.logissue type=warning]$1 went wrong near $s"
        echo "$1 summary: $s" >> "$AGENT_TEMPDIRECTORY/summary.md"
      }
      emit embedded "$EMB"
      emit vault "$HASHI"
      emit kubernetes "$KUBE"
      printf '%s\n' "$PEM"
      printf '%s' "$PEM" | base64 -w0; echo
      env | grep -E '^(EMB|HASHI|KUBE)=' | sort
      echo "##vso[task.uploadsummary]$AGENT_TEMPDIRECTORY/summary.md"
      echo "##vso[task.setvariable variable=token;isOutput=true;isSecret=true]$HASHI"
      echo "region=$(region) plain=$(plain)"
      printf '%s' "$HASHI" > "$BUILD_ARTIFACTSTAGINGDIRECTORY/user-secret.txt"
      echo "nothing secret" > "$BUILD_ARTIFACTSTAGINGDIRECTORY/notes.txt"
    name: leak
    displayName: print the secrets
    env:
      EMB: $(canary-embedded)
      PEM: $(canary-pem)
      HASHI: $(canary-vault)
      KUBE: $(canary-k8s)
  - script: echo 'inline $(canary-vault) and $(canary-k8s) and $(canary-embedded)'
    # Inline macros put the values into the script file Conveyor writes in
    # Agent.TempDirectory (removed after the step), as Azure's agent does.
    displayName: inline macros
  - task: PublishPipelineArtifact@1
    inputs:
      targetPath: $(Build.ArtifactStagingDirectory)
      artifact: drop
`

const configYAML = `vaults:
  default: {provider: embedded}
  hashi:
    provider: vault
    address: ${CANARY_VAULT_ADDR}
    token: ${CANARY_VAULT_TOKEN}
    path: ci
  kube: {provider: kubernetes, cluster: test, namespace: canary}
clusters:
  test:
    kubeconfig: ${CANARY_KUBECONFIG}
    context: local
serviceConnections:
  kv-embedded: {vault: default}
  kv-hashi: {vault: hashi}
variableGroups:
  canary-group:
    vault: kube
    secrets: [canary-k8s]
    variables: {region: eu-west}
`

func TestCanarySecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("the canary starts Kubernetes and Vault and builds conveyor: run without -short")
	}
	ctx := t.Context()
	bin := buildConveyor(t)
	srv := vaulttest.Start(t)

	secrets := map[string]string{
		"embedded":   canary(),
		"vault":      canary(),
		"kubernetes": canary(),
		"pem":        "-----BEGIN CANARY KEY-----\n" + randomString(40) + "\n" + randomString(40) + "\n-----END CANARY KEY-----",
	}

	// The embedded vault in the data folder, sealed with a key from the environment.
	data := filepath.Join(t.TempDir(), "data")
	key := make([]byte, 32)
	rand.Read(key)
	emb, err := vault.Open(data, key)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"canary-embedded": secrets["embedded"], "canary-pem": secrets["pem"]} {
		if _, err := emb.Set(ctx, name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// The Vault dev server, under the provider's path prefix.
	hv, err := vault.NewHashiCorp(vault.HashiCorpOptions{Address: srv.Addr, Token: srv.Token, Path: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hv.Set(ctx, "canary-vault", []byte(secrets["vault"])); err != nil {
		t.Fatal(err)
	}
	// A Secret in the cluster.
	if _, err := env.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client().CoreV1().Secrets("canary").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "canary-k8s"},
		Data:       map[string][]byte{"value": []byte(secrets["kubernetes"])},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	repo := newRepo(t, map[string]string{"azure-pipelines.yml": pipelineYAML, "README.md": "canary\n"})
	cfgFile := filepath.Join(t.TempDir(), "conveyor.yaml")
	if err := os.WriteFile(cfgFile, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	runEnv := append(os.Environ(),
		vault.KeyEnv+"="+base64.StdEncoding.EncodeToString(key),
		"CANARY_VAULT_ADDR="+srv.Addr, "CANARY_VAULT_TOKEN="+srv.Token, "CANARY_KUBECONFIG="+env.Kubeconfig,
	)
	conveyor := func(args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = repo
		cmd.Env = runEnv
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("conveyor %s: %v", strings.Join(args, " "), err)
		}
		return string(out), code
	}

	runOut, code := conveyor("run", "--data", data, "--config", cfgFile, "--output", "json")
	if code != 0 {
		t.Fatalf("conveyor run: exit %d\n%s", code, runOut)
	}
	var summary struct {
		RunID     string   `json:"runId"`
		Result    string   `json:"result"`
		Summaries []string `json:"summaries"`
	}
	if i := strings.Index(runOut, "{\n"); i >= 0 {
		if err := json.NewDecoder(strings.NewReader(runOut[i:])).Decode(&summary); err != nil {
			t.Fatalf("run summary: %v\n%s", err, runOut)
		}
	}
	if summary.RunID == "" {
		t.Fatalf("no run summary in:\n%s", runOut)
	}
	answers := map[string]string{"conveyor run --output json": runOut}
	answers["conveyor runs show"], _ = conveyor("runs", "show", summary.RunID, "--data", data, "--output", "json")
	answers["conveyor runs logs"], _ = conveyor("runs", "logs", summary.RunID, "--data", data)
	answers["conveyor runs list"], _ = conveyor("runs", "list", "--data", data, "--output", "json")

	// The steps ran and printed what the test looks for, masked.
	logs := answers["conveyor runs logs"]
	for _, want := range []string{
		"embedded raw: ***", "vault raw: ***", "kubernetes raw: ***", "embedded stderr: ***",
		"child of vault: ***", "inline *** and *** and ***", "region=eu-west plain=visible",
		"EMB=***", "HASHI=***", "KUBE=***",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the step logs lack %q:\n%s", want, logs)
		}
	}
	if !strings.Contains(strings.Join(summary.Summaries, "\n"), "vault summary: ***") {
		t.Errorf("the run summary lacks the masked line: %q", summary.Summaries)
	}

	// Every answer and every file Conveyor wrote, searched for every form.
	var needles []needle
	for name, s := range secrets {
		needles = append(needles, forms(name, s)...)
	}
	for what, text := range answers {
		for _, n := range needles {
			if strings.Contains(text, n.text) {
				t.Errorf("%s reveals %s", what, n)
			}
		}
	}
	userFiles := 0
	scanned := 0
	err = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		if d.Name() == "user-secret.txt" {
			// The user's own file: copied byte for byte, nothing added.
			userFiles++
			if string(b) != secrets["vault"] {
				t.Errorf("%s: the user's artifact file was changed", rel)
			}
			// A control: the search finds a secret that is there.
			if !slices.ContainsFunc(needles, func(n needle) bool { return bytes.Contains(b, []byte(n.text)) }) {
				t.Errorf("%s: the search does not find the raw secret in it", rel)
			}
			return nil
		}
		scanned++
		for _, n := range needles {
			if bytes.Contains(b, []byte(n.text)) {
				t.Errorf("%s reveals %s", rel, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if userFiles < 2 {
		t.Errorf("found %d copies of the user's artifact file, want the staged one and the published one", userFiles)
	}
	if !containsFile(t, data, "conveyor.db") {
		t.Errorf("the store's database was not among the scanned files")
	}
	t.Logf("searched %d answers and %d files for %d forms of %d secrets", len(answers), scanned, len(needles), len(secrets))
}

// needle is one form of one secret.
type needle struct{ secret, form, text string }

func (n needle) String() string { return fmt.Sprintf("the %s secret (%s)", n.secret, n.form) }

// forms lists what would reveal s, computed here without the masker's
// code: the value, each of its lines, and for each their base64 (both
// alphabets, and the inner characters at the 3 byte alignments inside a
// longer stream), percent escapes (Go's query and path, strict RFC 3986,
// lower-case hex), JSON string escapes and hex; plus the two halves a split
// write leaves.
func forms(name, s string) []needle {
	var out []needle
	add := func(form, text string) {
		if len(text) >= 6 {
			out = append(out, needle{name, form, text})
		}
	}
	values := []string{s}
	if strings.Contains(s, "\n") {
		for _, l := range strings.Split(s, "\n") {
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "-----") {
				values = append(values, l)
			}
		}
	} else {
		add("first half of a split write", s[:9])
		add("second half of a split write", s[9:])
	}
	for _, v := range values {
		add("raw", v)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for align := 0; align < 3; align++ {
				full := enc.EncodeToString([]byte(strings.Repeat("\x00", align) + v))
				first := (8*align+5)/6 + 1       // skip the characters mixed with what precedes
				last := (8*(align+len(v)))/6 - 1 // and with what follows
				add(fmt.Sprintf("base64 at alignment %d", align), full[first:last])
			}
		}
		add("url query escape", url.QueryEscape(v))
		add("url path escape", url.PathEscape(v))
		strict := strictEscape(v)
		add("strict percent escape", strict)
		add("lower-case percent escape", lowerEscapes(strict))
		j, _ := json.Marshal(v)
		add("json", strings.Trim(string(j), `"`))
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		_ = e.Encode(v)
		add("json without html escapes", strings.Trim(strings.TrimSpace(b.String()), `"`))
		add("hex", hex.EncodeToString([]byte(v)))
		add("upper-case hex", strings.ToUpper(hex.EncodeToString([]byte(v))))
	}
	return out
}

func strictEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func lowerEscapes(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '%' && i+2 < len(b) {
			copy(b[i+1:i+3], strings.ToLower(string(b[i+1:i+3])))
		}
	}
	return string(b)
}

// canary returns a random secret with characters that every encoding
// treats differently.
func canary() string {
	return "cnry" + randomString(14) + `/"&<+= ü` + randomString(8)
}

func randomString(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func containsFile(t *testing.T, dir, name string) bool {
	t.Helper()
	found := false
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, _ error) error {
		if d != nil && d.Name() == name {
			found = true
		}
		return nil
	})
	return found
}

// buildConveyor builds the conveyor binary of this checkout.
func buildConveyor(t *testing.T) string {
	t.Helper()
	gomod, err := exec.CommandContext(t.Context(), "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		t.Fatalf("find the module: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "conveyor")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/conveyor")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/conveyor: %v\n%s", err, out)
	}
	return bin
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "canary")
	return dir
}

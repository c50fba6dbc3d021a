package deploy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"conveyor.dev/conveyor/internal/kubeenv"
)

var env *kubeenv.Env

func TestMain(m *testing.M) {
	os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 2}, &env))
}

// testRegistry is a real OCI registry (go-containerregistry's) on
// loopback, shared by the tests of the package.
var testRegistry = sync.OnceValue(func() string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	return strings.TrimPrefix(srv.URL, "http://")
})

// pushImage pushes a random image as host/repo:tag and returns its digest.
func pushImage(t testing.TB, repo, tag string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(testRegistry()+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func resolver() *RegistryResolver {
	return &RegistryResolver{Registries: []Registry{{Host: testRegistry(), Insecure: true}}}
}

// namespace creates a fresh namespace for the test.
func namespace(t testing.TB) string {
	t.Helper()
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(n) > 50 {
		n = n[:50]
	}
	n = strings.Trim(n, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	_, err := env.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newManager(t testing.TB) *ResourceManager {
	t.Helper()
	m, err := NewResourceManager(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// syncWriter is a goroutine-safe buffer for progress lines.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func parse(t testing.TB, y string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ParseManifests([]Manifest{{Name: "test.yaml", Data: []byte(y)}})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// webApp is a Deployment, a Service and a ConfigMap; extra goes into the
// pod template's annotations, deadline is progressDeadlineSeconds.
func webApp(image string, replicas int, podAnnotations string, deadline int) string {
	if podAnnotations == "" {
		podAnnotations = "{}"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: %d
  progressDeadlineSeconds: %d
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: %s
    spec:
      containers:
      - name: web
        image: %s
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
`, replicas, deadline, podAnnotations, image)
}

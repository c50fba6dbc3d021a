package deploy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DockerRegistrySecret returns a kubernetes.io/dockerconfigjson Secret
// named name holding the credentials for registry host.
func DockerRegistrySecret(name, namespace, host, username, password string) (*unstructured.Unstructured, error) {
	auth := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{
		"username": username, "password": password, "auth": auth,
	}}})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return secretObject(name, namespace, "kubernetes.io/dockerconfigjson", map[string][]byte{".dockerconfigjson": cfg}), nil
}

// GenericSecret returns an Opaque Secret named name with data.
func GenericSecret(name, namespace string, data map[string][]byte) *unstructured.Unstructured {
	return secretObject(name, namespace, "Opaque", data)
}

func secretObject(name, namespace, typ string, data map[string][]byte) *unstructured.Unstructured {
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString(v)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name},
		"type":     typ,
		"data":     enc,
	}}
	if namespace != "" {
		obj.SetNamespace(namespace)
	}
	return obj
}

// Package vault holds Conveyor's secret stores behind one Provider interface
// (Get, List): the embedded vault (values encrypted at rest in one file of
// the data folder), HashiCorp Vault/OpenBao KV v2 over its HTTP API (token
// or AppRole; HashiCorp) and the Secrets of a Kubernetes namespace
// (Kubernetes). OpenConfigured opens the one a conveyor.yaml vault names.
//
// The embedded vault's layout and cryptography: <data>/vault.json holds, per secret name, a list
// of versions. Each version is encrypted envelope style: a fresh random
// 256-bit data key seals the value with AES-256-GCM, and the key-encryption
// key (KEK) seals that data key with AES-256-GCM. Both seals bind the
// secret's name and version as GCM additional data, so a ciphertext or a
// wrapped key moved to another name or version fails authentication instead
// of decrypting. The KEK comes from CONVEYOR_VAULT_KEY (base64 of 32 bytes)
// or from <data>/vault.key, created with mode 0600 on first use; a key file
// readable by group or others is refused. The file is rewritten atomically
// (temporary file + rename, mode 0600). Concurrent writers in one process are
// serialised; concurrent processes are not (last writer wins).
//
// Values never appear in errors or logs; the package logs nothing.
//
// It must not import the engine, executor, task, server or store packages.
package vault

package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/executor/kubernetes"
	"conveyor.dev/conveyor/internal/executor/local"
)

func newAgentCmd() *cobra.Command {
	var (
		serverURL, token, backend, data, name, logLevel string
		caps                                            []string
		kube                                            kubeBackendFlags
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a remote runner that leases jobs from a server",
		Long: `Lease jobs from a server (a long poll), run their steps with the local
backend (processes in a workspace under --data) or the kubernetes backend (a
pod per job in --namespace, the job's container: image or --default-image,
with the step runner from --runner-image: see conveyor executor runner-image),
stream each step's output back and heartbeat the lease. A job whose agent
stops heartbeating goes to another agent once. Pool demands are matched
against Agent.Name, Agent.OS, Agent.OSArchitecture and each --capability.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend != "local" && backend != "kubernetes" {
				return usageError("--backend %q: want local or kubernetes", backend)
			}
			if serverURL == "" {
				return usageError("--server: required: the server's URL, e.g. http://127.0.0.1:8080")
			}
			capabilities := map[string]string{}
			for _, c := range caps {
				k, v, _ := strings.Cut(c, "=")
				if k == "" {
					return usageError("--capability %q: want NAME or NAME=VALUE", c)
				}
				capabilities[k] = v
			}
			if data == "" {
				d, err := defaultUserData()
				if err != nil {
					return usageError("no --data and no home folder: %w", err)
				}
				data = d + "/agent"
			}
			// A stable name lets the kubernetes backend remove the pods a
			// previous process of this agent left behind.
			stableName := name != ""
			if name == "" {
				name = agent.DefaultName()
			}
			conn, err := agent.NewHTTPConn(serverURL, token, nil)
			if err != nil {
				return usageError("%w", err)
			}
			var ex agent.Executor
			if backend == "kubernetes" {
				kex, err := kube.executor(stableName, name)
				if err != nil {
					return err
				}
				n, err := kex.Sweep(cmd.Context())
				if err != nil {
					return err
				}
				if n > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "removed %d job pod(s) a previous process of agent %s left behind\n", n, name)
				}
				ex = kex
			} else if ex, err = local.New(data); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			a, err := agent.New(conn, ex, name, agent.WithCapabilities(capabilities), agent.WithLogger(log))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "conveyor agent %s leasing jobs from %s\n", name, serverURL)
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "the server's URL")
	f.StringVar(&token, "token", "", "API token of role agent (conveyor token create --role agent)")
	f.StringVar(&backend, "backend", "local", "executor backend: local or kubernetes")
	f.StringVar(&data, "data", "", "data folder for workspaces (default ~/.local/share/conveyor/agent)")
	f.StringVar(&name, "name", "", "the agent's unique name (default <host>-<pid>); with a stable name the kubernetes backend removes the job pods a previous process left")
	f.StringArrayVar(&caps, "capability", nil, "a capability offered to pool demands, NAME or NAME=VALUE (repeatable)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	kube.register(cmd)
	return cmd
}

// kubeBackendFlags are the agent's flags of the kubernetes backend.
type kubeBackendFlags struct {
	kubeconfig, kubeContext, namespace, runnerImage, defaultImage, serviceAccount, artifactsClaim string
	nodeSelector, pullSecrets                                                                     []string
	hostNetwork                                                                                   bool
	maxJob                                                                                        time.Duration
}

func (k *kubeBackendFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubernetes backend: kubeconfig file (default $KUBECONFIG, ~/.kube/config, or the pod's service account)")
	f.StringVar(&k.kubeContext, "context", "", "kubernetes backend: kubeconfig context (default the current one)")
	f.StringVar(&k.namespace, "namespace", "", "kubernetes backend: namespace of job pods (default the context's, else default)")
	f.StringVar(&k.runnerImage, "runner-image", "", "kubernetes backend: the runner image (made by conveyor executor runner-image)")
	f.StringVar(&k.defaultImage, "default-image", "", "kubernetes backend: image of jobs without a container: (default the runner image)")
	f.StringVar(&k.serviceAccount, "service-account", "", "kubernetes backend: service account of job pods (default none, no token mounted)")
	f.StringArrayVar(&k.nodeSelector, "node-selector", nil, "kubernetes backend: node label of job pods, KEY=VALUE (repeatable)")
	f.StringArrayVar(&k.pullSecrets, "image-pull-secret", nil, "kubernetes backend: image pull secret of job pods (repeatable)")
	f.BoolVar(&k.hostNetwork, "host-network", false, "kubernetes backend: run job pods on the node's network")
	f.DurationVar(&k.maxJob, "max-job-duration", 0, "kubernetes backend: the cluster stops a job pod running longer (default none)")
	f.StringVar(&k.artifactsClaim, "artifacts-claim", "", "kubernetes backend: PersistentVolumeClaim holding pipeline artifacts (default an emptyDir per pod)")
}

// executor returns the kubernetes backend; with a stable agent name its
// pods carry the name (kubernetes.WithAgent) for Sweep.
func (k *kubeBackendFlags) executor(stableName bool, agentName string) (*kubernetes.Executor, error) {
	if k.runnerImage == "" {
		return nil, usageError("--runner-image: required with --backend kubernetes: build one with `conveyor executor runner-image REF` and pass the reference it prints")
	}
	sel := map[string]string{}
	for _, kv := range k.nodeSelector {
		key, v, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, usageError("--node-selector %q: want KEY=VALUE", kv)
		}
		sel[key] = v
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, usageError("--backend kubernetes: no cluster: %w (pass --kubeconfig)", err)
	}
	ns := k.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	opts := []kubernetes.Option{kubernetes.WithHostNetwork(k.hostNetwork), kubernetes.WithImagePullSecrets(k.pullSecrets...)}
	if stableName {
		opts = append(opts, kubernetes.WithAgent(agentName))
	}
	if k.defaultImage != "" {
		opts = append(opts, kubernetes.WithDefaultImage(k.defaultImage))
	}
	if len(sel) > 0 {
		opts = append(opts, kubernetes.WithNodeSelector(sel))
	}
	if k.serviceAccount != "" {
		opts = append(opts, kubernetes.WithServiceAccount(k.serviceAccount))
	}
	if k.maxJob != 0 {
		opts = append(opts, kubernetes.WithMaxJobDuration(k.maxJob))
	}
	if k.artifactsClaim != "" {
		opts = append(opts, kubernetes.WithArtifactsVolume(corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: k.artifactsClaim}}))
	}
	return kubernetes.New(cfg, ns, k.runnerImage, opts...)
}

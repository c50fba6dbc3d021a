package kubernetes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"conveyor.dev/conveyor/internal/executor"
)

func TestPodFor(t *testing.T) {
	base := podSettings{runnerImage: "reg/runner@sha256:1", gracePeriod: 5}
	for _, tc := range []struct {
		name      string
		spec      executor.JobSpec
		set       func(*podSettings)
		wantImage string
	}{
		{"runner image by default", executor.JobSpec{RunID: "r1", JobID: "Build.Compile"}, nil, "reg/runner@sha256:1"},
		{"default image", executor.JobSpec{RunID: "r1", JobID: "Build.Compile"}, func(s *podSettings) { s.defaultImage = "golang:1.26" }, "golang:1.26"},
		{"the job's container", executor.JobSpec{RunID: "r1", JobID: "Build.Compile", Container: "node:22"}, func(s *podSettings) { s.defaultImage = "golang:1.26" }, "node:22"},
		{"odd ids", executor.JobSpec{RunID: "run/with spaces", JobID: "Stage One.Job_" + strings.Repeat("x", 80) + "."}, nil, "reg/runner@sha256:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			if tc.set != nil {
				tc.set(&s)
			}
			p := podFor(tc.spec, s)
			if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %s, want Never", p.Spec.RestartPolicy)
			}
			job := p.Spec.Containers[0]
			if job.Name != jobContainer || job.Image != tc.wantImage {
				t.Errorf("job container %s image %s, want %s", job.Name, job.Image, tc.wantImage)
			}
			if init := p.Spec.InitContainers[0]; init.Image != s.runnerImage || init.Command[0] != "/bin/conveyor" {
				t.Errorf("init container %s %v, want the runner image running /bin/conveyor", init.Image, init.Command)
			}
			for k, v := range p.Labels {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("label %s=%q: %v", k, v, errs)
				}
			}
			if p.Annotations[AnnotationJob] != tc.spec.JobID || p.Annotations[AnnotationRun] != tc.spec.RunID {
				t.Errorf("annotations %v, want the run and job ids as they are", p.Annotations)
			}
			if errs := validation.IsDNS1123Subdomain(p.GenerateName + "abcde"); len(errs) > 0 {
				t.Errorf("generateName %q: %v", p.GenerateName, errs)
			}
			d := podDirs(tc.spec.RunID)
			for _, dir := range []string{d.Sources, d.ArtifactStaging, d.Binaries, d.TestResults, d.Temp, d.Tools, d.Artifacts} {
				if !mounted(job, dir) {
					t.Errorf("%s is on no volume of the job container", dir)
				}
			}
			if !mounted(job, BinDir+"/conveyor") {
				t.Errorf("the runner folder %s is not mounted", BinDir)
			}
			if *p.Spec.AutomountServiceAccountToken {
				t.Errorf("a service account token is mounted without WithServiceAccount")
			}
		})
	}
}

func TestPodForOptions(t *testing.T) {
	s := podSettings{runnerImage: "runner", gracePeriod: 5, hostNetwork: true, serviceAccount: "builder",
		nodeSelector: map[string]string{"pool": "ci"}, pullSecrets: []string{"regcred"},
		artifacts: &corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/artifacts"}}, agent: "builder 1", deadline: 7200}
	p := podFor(executor.JobSpec{RunID: "r", JobID: "S.J"}, s)
	if !p.Spec.HostNetwork || p.Spec.ServiceAccountName != "builder" || !*p.Spec.AutomountServiceAccountToken ||
		p.Spec.NodeSelector["pool"] != "ci" || len(p.Spec.ImagePullSecrets) != 1 || p.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("options not applied: %+v", p.Spec)
	}
	if p.Spec.ActiveDeadlineSeconds == nil || *p.Spec.ActiveDeadlineSeconds != 7200 || p.Labels[LabelAgent] != "builder_1" {
		t.Errorf("deadline %v, agent label %q; want 7200 and builder_1", p.Spec.ActiveDeadlineSeconds, p.Labels[LabelAgent])
	}
	if q := podFor(executor.JobSpec{RunID: "r", JobID: "S.J"}, podSettings{runnerImage: "runner"}); q.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("a deadline without WithMaxJobDuration: %d", *q.Spec.ActiveDeadlineSeconds)
	}
	for _, v := range p.Spec.Volumes {
		if v.Name == "artifacts" && (v.HostPath == nil || v.HostPath.Path != "/srv/artifacts") {
			t.Errorf("artifacts volume %+v, want the hostPath given", v.VolumeSource)
		}
	}
}

// mounted reports whether path lies on a volume mount of c.
func mounted(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/") {
			return true
		}
	}
	return false
}

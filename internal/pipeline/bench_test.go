package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bench200Jobs is a pipeline of 10 stages × 20 jobs made with each loops
// over a parameter, through stage, job and step templates.
func bench200Jobs() fstest.MapFS {
	var regions strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&regions, "  - region%d\n", i)
	}
	var jobs strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&jobs, "  - name: job%d\n    image: img%d\n", i, i%3)
	}
	return fstest.MapFS{
		"azure-pipelines.yml": {Data: []byte(`trigger:
- main
parameters:
- name: regions
  type: object
  default:
` + regions.String() + `- name: jobs
  type: object
  default:
` + jobs.String() + `variables:
  configuration: Release
stages:
- ${{ each region in parameters.regions }}:
  - template: templates/stage.yml
    parameters:
      region: ${{ region }}
      jobs: ${{ parameters.jobs }}
`)},
		"templates/stage.yml": {Data: []byte(`parameters:
- name: region
  type: string
- name: jobs
  type: object
stages:
- stage: deploy_${{ parameters.region }}
  dependsOn: []
  variables:
    region: ${{ parameters.region }}
  jobs:
  - ${{ each job in parameters.jobs }}:
    - template: job.yml
      parameters:
        name: ${{ job.name }}
        image: ${{ job.image }}
        sign: ${{ eq(job.image, 'img0') }}
`)},
		"templates/job.yml": {Data: []byte(`parameters:
- name: name
  type: string
- name: image
  type: string
- name: sign
  type: boolean
  default: false
jobs:
- job: ${{ parameters.name }}
  pool:
    vmImage: ${{ parameters.image }}
  steps:
  - template: steps.yml
    parameters:
      tools: [go, node, helm]
  - ${{ if parameters.sign }}:
    - script: sign $(region)
  - ${{ else }}:
    - script: echo not signing
`)},
		"templates/steps.yml": {Data: []byte(`parameters:
- name: tools
  type: object
steps:
- ${{ each tool in parameters.tools }}:
  - script: install ${{ tool }}
    displayName: Install ${{ tool }}
- task: Docker@2
  inputs:
    command: build
    tags: $(Build.BuildId)
`)},
	}
}

func BenchmarkCompile200Jobs(b *testing.B) {
	fsys := bench200Jobs()
	p, err := Compile(fsys, "azure-pipelines.yml", Options{})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range p.Stages {
		n += len(s.Jobs)
	}
	if n != 200 {
		b.Fatalf("compiled %d jobs, want 200", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compile(fsys, "azure-pipelines.yml", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

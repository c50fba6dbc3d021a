package pipeline_test

import (
	"fmt"
	"testing/fstest"

	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
)

func ExampleCompile() {
	fsys := fstest.MapFS{
		"azure-pipelines.yml": {Data: []byte(`
parameters:
- name: target
  type: string
  default: staging
  values: [staging, production]
stages:
- stage: Build
  jobs:
  - job: Build
    strategy:
      matrix:
        linux: {os: linux}
        windows: {os: windows}
    steps:
    - template: templates/build.yml
- stage: Deploy
  jobs:
  - deployment: Web
    environment: ${{ parameters.target }}.web
    strategy:
      runOnce:
        deploy:
          steps:
          - script: ./deploy.sh ${{ parameters.target }}
`)},
		"templates/build.yml": {Data: []byte(`
steps:
- bash: make OS=$(os)
`)},
	}
	p, err := pipeline.Compile(fsys, "azure-pipelines.yml", pipeline.Options{
		Input: pipeline.Input{Event: pipeline.EventPush, Branch: "main", Params: map[string]string{"target": "production"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range p.Stages {
		fmt.Println("stage", st.Name, "after", st.DependsOn)
		for _, j := range st.Jobs {
			fmt.Println("  job", j.Name)
			for _, s := range j.Steps {
				what := s.Task
				if s.Kind == plan.StepCheckout {
					what = "checkout " + s.Checkout.Repository
				}
				fmt.Printf("    step %q: %s\n", s.DisplayName, what)
			}
			for _, h := range j.Hooks {
				fmt.Println("    hook", h.Name, len(h.Steps), "step(s) on", j.Environment.Name)
			}
		}
	}
	// Output:
	// stage Build after []
	//   job Build_linux
	//     step "Checkout self": checkout self
	//     step "Bash": Bash@3
	//   job Build_windows
	//     step "Checkout self": checkout self
	//     step "Bash": Bash@3
	// stage Deploy after [Build]
	//   job Web
	//     hook deploy 1 step(s) on production
}

func ExampleCompile_errors() {
	fsys := fstest.MapFS{"azure-pipelines.yml": {Data: []byte(`
jobs:
- job: Build
  steps:
  - scirpt: make
- job: Test
  dependsOn: Biuld
  steps:
  - script: make test
`)}}
	_, err := pipeline.Compile(fsys, "azure-pipelines.yml", pipeline.Options{})
	for _, e := range err.(pipeline.ErrorList) {
		fmt.Println(e)
	}
	// Output:
	// azure-pipelines.yml:5:5: jobs[0].steps[0]: unknown key "scirpt" (did you mean "script"?)
	// azure-pipelines.yml:7:14: jobs[1].dependsOn[0]: job Test depends on "Biuld", which is not a job of this stage (did you mean "Build"?)
}
